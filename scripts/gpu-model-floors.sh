#!/usr/bin/env bash
# Every layer kind of the CUDA model against its floor (issue 12: each within 2x of its bytes at the device's copy
# bandwidth or its FLOPs at cuBLAS's rate, both measured in the same process): `ss2d bench model --profile` at batch
# 128, 224x224 for vmamba_tiny_s1l8 in fp32 (cuBLAS pedantic), TF32 (-Dss2d.cuda.tf32=true) and bfloat16, and for
# vanilla_vmamba_tiny in fp32. Each run prints the per-kind table (ms per image, floor, measured / floor, bound,
# "<-- above 2x" on the rows past it), the whole model against its summed floor, and a JSON line with
# profile_floor_ms_per_image, profile_ratio, copy_gbps and gemm_tflops. About 2 minutes on an H100.
# Uses the bundle in dist/ (its launcher, bin/ss2d); writes $OUT/model-floors.txt.
#   OUT=DIR bash scripts/gpu-model-floors.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
O="${OUT:-${TMPDIR:-/tmp}/ss2d-model-floors}"
mkdir -p "$O"
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
F="$O/model-floors.txt"
: > "$F"
run() {  # $1 label, $2 extra JVM options, rest: bench model arguments
  local label=$1 opts=$2; shift 2
  local log="$O/.run.txt"
  echo "== $label" | tee -a "$F"
  SS2D_JAVA_OPTS="${SS2D_JAVA_OPTS:-} $opts" timeout 100 "$D/bin/ss2d" bench model --backend cuda --batch 128 \
      --warmup 20 --reps 20 --profile --json "$@" > "$log" 2>&1
  local rc=$?
  cat "$log" >> "$F"
  echo "== $label: exit $rc" | tee -a "$F"
  grep -E '<-- above|^whole model|^warning' "$log" | sed 's/^/   /'  # the rows past 2x, the totals, on the console
  rm -f "$log"
  return $rc
}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee -a "$F"
rc=0
run "vmamba_tiny_s1l8 fp32" "" --model vmamba_tiny_s1l8 || rc=1
run "vmamba_tiny_s1l8 tf32" "-Dss2d.cuda.tf32=true" --model vmamba_tiny_s1l8 || rc=1
run "vmamba_tiny_s1l8 bf16" "" --model vmamba_tiny_s1l8 --dtype bfloat16 || rc=1
run "vanilla_vmamba_tiny fp32" "" --model vanilla_vmamba_tiny || rc=1
exit $rc
