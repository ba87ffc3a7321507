#!/usr/bin/env bash
# The 16-bit scan kernels against the widened path in one run: `ss2d bench scan --backend cuda --dtype D` at S1..S5
# for bfloat16 and float16 with the 16-bit kernels (default) and with -Dss2d.cuda.half=widen (the float32 kernels on
# widened copies), alternating per shape and round (ROUNDS, default 2) so the machine's drift hits both; then float32
# once per shape as the same-run anchor. Each line is the command's own output: median ms, % of a device copy of the
# same run, and the kernel that ran with the bytes it moves. Uses the bundle in dist/ss2d (its launcher, bin/ss2d).
#   bash scripts/gpu-half-scan.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-2}"
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
source scripts/scan-shapes.sh
bench() {  # $1 path (kernels|widen), $2 dtype, rest: shape arguments
  local path=$1 dtype=$2; shift 2
  # shellcheck disable=SC2068
  SS2D_JAVA_OPTS=-Dss2d.cuda.half=$path "$D/bin/ss2d" \
      bench scan --backend cuda --dtype "$dtype" $@ 2>&1 | grep -E '^scan|^  kernel' | tr '\n' ' '
}
rc=0
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${SCAN_SHAPES[@]}"; do
    name=${s%% *}; args=${s#* }
    for dtype in bfloat16 float16; do
      if ((r % 2)); then order="kernels widen"; else order="widen kernels"; fi
      for path in $order; do
        line=$(bench "$path" "$dtype" $args) || rc=1
        echo "round $r $name $dtype $path: ${line:-FAILED}"
      done
    done
    ((r == 1)) && echo "round $r $name float32: $(bench kernels float32 $args)"
  done
done
exit $rc
