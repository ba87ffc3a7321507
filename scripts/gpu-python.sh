#!/usr/bin/env bash
# GPU host: the Python package (python/) against the bundle's engine (dist/ss2d/bin/ss2d, unpacked from the
# archives gpu-e2e.sh takes if needed; else $SS2D_ENGINE, else ./ss2d), CUDA tests included:
#   bash scripts/gpu-python.sh [> $OUT/python.txt]
# 1. pytest python/tests: test_cuda.py runs when torch sees a GPU (CUDA tensors through IPC handles, in place),
#    the rest as in CI. pytest missing and no network: carry wheels made here with
#    `pip download -d python/wheels pytest` (the script installs them with --no-index);
# 2. per-call overhead (python/bench/overhead.py) on the cpu backend;
# 3. ss2d.selective_scan against mamba's selective_scan_cuda on S1..S5, the same CUDA tensors, CUDA events
#    (python/bench/gpu_vs_mamba.py; stream-ordered, then S1 and S4 again with SS2D_CUDA_SYNC=1): set ANCHOR_MAMBA to the folder of mamba's built selective_scan_cuda module
#    (as for gpu-e2e.sh's anchors); without it, mamba_ssm if installed, else only ss2d is timed;
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
step 1200 env -C python "$PY" -m pytest -q -rs -p no:cacheprovider tests
step 600 "$PY" python/bench/overhead.py --calls 20000 --rounds 5 --backend cpu
step 900 "$PY" python/bench/gpu_vs_mamba.py --reps 50 ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
# the synchronous mode, for comparison (the client synchronises PyTorch's stream, the engine its own)
step 600 env SS2D_CUDA_SYNC=1 "$PY" python/bench/gpu_vs_mamba.py --reps 20 --shapes S1,S4 ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
step 900 "$PY" python/bench/gpu_ss2d_vs_torch.py --reps 30 ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"}
"$PY" -c 'import sys; sys.path.insert(0, "python/src"); import ss2d; ss2d.shutdown()'
exit $status
