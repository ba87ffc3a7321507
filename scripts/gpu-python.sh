#!/usr/bin/env bash
# GPU host: the Python package (python/) against the engine of this checkout or bundle, CUDA tests included.
#   scripts/gpu-python.sh            (from the repository root, or an unpacked bundle with python/ beside it)
# 1. pytest python/tests (tests marked cuda run when torch sees a GPU; the rest as in CI);
# 2. per-call overhead (python/bench/overhead.py) on the cpu and cuda backends;
# 3. ss2d.selective_scan against mamba's selective_scan_cuda on S1..S5 (python/bench/gpu_vs_mamba.py): set
#    ANCHOR_MAMBA to the folder of mamba's built selective_scan_cuda module (as for gpu-e2e.sh's anchors);
#    without it, mamba_ssm if installed, else only ss2d is timed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${SS2D_ENGINE:-}" ]]; then
  if [[ -x "$ROOT/dist/ss2d/bin/ss2d" ]]; then SS2D_ENGINE="$ROOT/dist/ss2d/bin/ss2d"; else SS2D_ENGINE="$ROOT/ss2d"; fi
fi
export SS2D_ENGINE
echo "engine: $SS2D_ENGINE"
PY="${SS2D_PYTHON:-python3}"
"$PY" -c 'import numpy, pytest, torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || {
  echo "needs numpy, pytest and torch (with CUDA) in $PY"; exit 1; }
status=0
(cd "$ROOT/python" && "$PY" -m pytest -q -rs -p no:cacheprovider tests) || status=1
"$PY" "$ROOT/python/bench/overhead.py" --calls 20000 --backend cpu || status=1
"$PY" "$ROOT/python/bench/overhead.py" --calls 5000 --backend cuda || status=1
"$PY" "$ROOT/python/bench/gpu_vs_mamba.py" --reps 50 ${ANCHOR_MAMBA:+--module-dir "$ANCHOR_MAMBA"} || status=1
"$PY" -c 'import sys; sys.path.insert(0, "'"$ROOT"'/python/src"); import ss2d; ss2d.shutdown()'
exit $status
