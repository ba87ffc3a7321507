#!/usr/bin/env bash
# GPU host: the Python package (python/) against the bundle's engine (dist/ss2d/bin/ss2d, unpacked from the
# archives gpu-e2e.sh takes if needed; else $SS2D_ENGINE, else ./ss2d), CUDA tests included:
#   bash scripts/gpu-python.sh [> $OUT/python.txt]
# 1. pytest python/tests: test_cuda.py runs when torch sees a GPU (CUDA tensors through IPC handles, in place; both
#    modes; a client killed with GPU work queued, then other clients served; the engine's order deadline), the rest
#    as in CI. Under its own limit ($PYTEST_LIMIT s, default 150; the suite took 22 s on an H200), so the
#    benchmarks below still run if it hangs; a line starting "PYTEST KILLED" says it was cut off; pytest missing and no network: carry wheels made here with
#    `pip download -d python/wheels pytest` (the script installs them with --no-index);
# 2. per-call overhead (python/bench/overhead.py) on the cpu backend;
# 3. ss2d.selective_scan against mamba's selective_scan_cuda on S1..S5, the same CUDA tensors, CUDA events, queued
#    and isolated (python/bench/gpu_vs_mamba.py; the default stream-ordered mode, then S1 and S4 again synchronous
#    with SS2D_CUDA_SYNC=1, for comparison; each table is headed by its mode): set ANCHOR_MAMBA to the folder of
#    mamba's built selective_scan_cuda module (as for gpu-e2e.sh's anchors); without it, mamba_ssm if installed, else
#    only ss2d is timed;
# 3b. where the host time of a queued call on CUDA tensors goes (python/bench/cuda_call_parts.py, S1, S3, S4);
# 4. an SS2D block from a PyTorch state dict on CUDA tensors against a plain PyTorch SS2D with mamba's scan
#    (python/bench/gpu_ss2d_vs_torch.py, same ANCHOR_MAMBA; without it a sequential PyTorch scan stands in).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${SS2D_ENGINE:-}" ]]; then
  if [[ ! -x dist/ss2d/bin/ss2d ]]; then
    for part in ss2d-linux-x64.tar.gz ss2d-runtime.tgz ss2d-app.tgz; do
      [[ -f dist/$part ]] && tar -xzf "dist/$part" -C dist
    done
  fi
  if [[ -x dist/ss2d/bin/ss2d ]]; then SS2D_ENGINE="$ROOT/dist/ss2d/bin/ss2d"; else SS2D_ENGINE="$ROOT/ss2d"; fi
fi
export SS2D_ENGINE
echo "engine: $SS2D_ENGINE"
PY="${SS2D_PYTHON:-python3}"
if ! "$PY" -c 'import pytest' 2>/dev/null && [[ -d python/wheels ]]; then
  "$PY" -m pip install -q --no-index --find-links python/wheels pytest
fi
"$PY" -c 'import numpy, pytest, torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "numpy", numpy.__version__)' || {
  echo "needs numpy, pytest and torch (with CUDA) in $PY"; exit 1; }
status=0
# every step under a time limit: a wait that is never satisfied (a stream-ordering mistake) fails a step, never hangs
# the run (timeout's status 124 says which)
step() { local limit="$1"; shift; timeout -k 10 "$limit" "$@" || { echo "FAILED (status $?): $*"; status=1; }; }
# pytest under a limit of its own (a killed client used to wedge the suite's engine, and every later CUDA call hung):
# SIGINT first, so pytest prints where it was stuck and tears its fixtures (engines) down; its engine's socket is in
# a folder of ours, so that an engine left behind can be asked to exit
PYTEST_DIR="$(mktemp -d)"
SS2D_SOCKET="$PYTEST_DIR/engine.sock" timeout -s INT -k 20 "${PYTEST_LIMIT:-150}" \
  env -C python "$PY" -m pytest -q -rs -p no:cacheprovider tests
rc=$?
if [[ $rc == 124 || $rc == 137 ]]; then
  echo; echo "PYTEST KILLED after ${PYTEST_LIMIT:-150} s (status $rc): a test hung; the benchmarks run anyway"; status=1
elif [[ $rc != 0 ]]; then
  echo "FAILED (status $rc): pytest"; status=1
fi
SS2D_SOCKET="$PYTEST_DIR/engine.sock" "$PY" -c 'import sys; sys.path.insert(0, "python/src"); import ss2d; ss2d.set_timeout(5); ss2d.shutdown()'
rm -rf "$PYTEST_DIR"
step 600 "$PY" python/bench/overhead.py --calls 20000 --rounds 5 --backend cpu
echo "== gpu_vs_mamba: stream-ordered calls (the default)"
step 600 env -u SS2D_CUDA_SYNC -u SS2D_CUDA_ORDERED "$PY" python/bench/gpu_vs_mamba.py --reps ${REPS:-30} ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
# the synchronous mode, for comparison (each call waits for both streams on the host; python/README.md, "Stream order")
echo "== gpu_vs_mamba: synchronous calls (SS2D_CUDA_SYNC=1)"
step 600 env SS2D_CUDA_SYNC=1 "$PY" python/bench/gpu_vs_mamba.py --reps 20 --shapes S1,S4 ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
# where a queued call's host time goes (the parts of call_cuda, the output, the inputs' references), S1/S3/S4; ~20 s
echo "== cuda_call_parts: where the host time of a call on CUDA tensors goes"
step 60 "$PY" python/bench/cuda_call_parts.py --reps 40 --shapes S1,S3,S4
step 600 "$PY" python/bench/gpu_ss2d_vs_torch.py --reps ${REPS:-20} ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
"$PY" -c 'import sys; sys.path.insert(0, "python/src"); import ss2d; ss2d.shutdown()'
exit $status
