#!/usr/bin/env bash
# The SS2D block's fused middle (backend-cuda/README.md, "The SS2D block's fused middle") on the GPU host, both paths
# in one run, from the bundle (dist/ss2d, unpacked as scripts/gpu-e2e.sh does):
#   OUT=DIR bash scripts/gpu-fused-scan.sh
# 1 tests.txt    the GPU tests that run both paths (CudaBlocksTest, CudaVMambaTest) and the plan's unit test,
#                -Dss2d.require=cuda: all must pass
# 2 harness.txt  backend-cuda/src/test/cuda/run-on-gpu.sh: every kernel against float64 (fused_scan lines: the fused
#                kernel against the unfused composition in float64, every K and warp count), the timing table (the
#                fused kernel at batch 32, 96 channels, 56x56, beside cross_scan + scan + cross_merge), sanitizers
# 3 bench.txt    ss2d bench block (SS2D, VSS; batch 32, 96 channels, 56x56) and bench model --profile
#                (vmamba_tiny_s1l8, batch 128) with -Dss2d.cuda.fusedScan=true and =false, alternating, 2 rounds
# STEPS="1 3" limits the run to some steps.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
O="${OUT:-${TMPDIR:-/tmp}/ss2d-fused}"
mkdir -p "$O"
STEPS="${STEPS:-1 2 3}"
want() { [[ " $STEPS " == *" $1 "* ]]; }
for part in ss2d-linux-x64.tar.gz ss2d-runtime.tgz ss2d-app.tgz; do
  [[ -f dist/$part && ! -x dist/ss2d/bin/ss2d ]] && tar -xzf "dist/$part" -C dist
done
B=dist/ss2d/bin
if want 1; then
  $B/ss2d-test -Dss2d.require=cuda backend-cuda -- \
      --include-classname='.*(CudaBlocksTest|CudaVMambaTest|FusedScanPlanTest)' > "$O/tests.txt" 2>&1
  echo "step 1 tests: exit $?"; tail -n 15 "$O/tests.txt"
fi
if want 2; then
  OUT="$O/harness" bash backend-cuda/src/test/cuda/run-on-gpu.sh > "$O/harness.txt" 2>&1
  echo "step 2 harness: exit $?"; grep -E '^FAIL|checks,|fused|transpose|unfused' "$O/harness.txt" | tail -n 30
fi
if want 3; then
  for round in 1 2; do
    for fused in true false; do
      ((round == 2)) && fused=$([[ $fused == true ]] && echo false || echo true)  # the other order in round 2
      for vss in "" "--vss"; do
        echo "== round $round fusedScan=$fused block $vss" >> "$O/bench.txt"
        SS2D_JAVA_OPTS="-Dss2d.cuda.fusedScan=$fused" $B/ss2d bench block --backend cuda --batch 32 --d-model 96 \
            --d-state 1 --ssm-ratio 1 --height 56 --width 56 $vss >> "$O/bench.txt" 2>&1
      done
      echo "== round $round fusedScan=$fused model" >> "$O/bench.txt"
      SS2D_JAVA_OPTS="-Dss2d.cuda.fusedScan=$fused" $B/ss2d bench model --backend cuda --model vmamba_tiny_s1l8 \
          --batch 128 --warmup 20 --reps 30 --profile >> "$O/bench.txt" 2>&1
    done
  done
  echo "step 3 bench: see $O/bench.txt"; grep -E '^==|ms' "$O/bench.txt" | head -n 80
fi
