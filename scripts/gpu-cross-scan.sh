#!/usr/bin/env bash
# The SS2D block's cross_scan step with each kernel, each in its own process, alternating twice, at VMamba-T's four
# stage shapes, batch 32: bfloat16 with the former gather (-Dss2d.cuda.crossScanHalf=gather), the tiled kernel (the
# default at 56x56: the float32 kernel's 32x32 shared-memory tiles over 16-bit values, forced everywhere by
# -Dss2d.cuda.crossScan=tiled) and, on planes of <= 1024 pixels, the small-plane kernel (-Dss2d.cuda.crossScan=planes,
# the default there since the H100 run of 2026-12-06); float16 at stage 1; float32 tiled vs planes at stages
# 3 and 4. `ss2d bench block --json` (unfused middle, the default) and its step shares. Per line: the block's
# median, the cross_scan step in ms (share x median) and against its floor: x read once and four routes written,
# 5 values of the dtype's size, at an assumed 3000 GB/s (the H100's copy bandwidth, as NOTES-perf.md counts).
# Issue 12: within 2x of the floor.
# Uses the bundle in dist/ss2d (its launcher, bin/ss2d); about two minutes.
#   bash scripts/gpu-cross-scan.sh        (OUT=dir also keeps the raw JSON lines in $OUT/gpu-cross-scan.txt)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
log=${OUT:-/tmp}/gpu-cross-scan.txt
: > "$log"
rc=0
one() {  # variant dtype batch d_model h w
  local line opts="-Dss2d.cuda.crossScanHalf=tiled -Dss2d.cuda.crossScan=tiled" size=2
  [[ $1 == gather ]] && opts="-Dss2d.cuda.crossScanHalf=gather"
  [[ $1 == planes ]] && opts="-Dss2d.cuda.crossScan=planes"
  [[ $2 == float32 ]] && size=4
  line=$(SS2D_JAVA_OPTS="$opts" timeout 60 "$D/bin/ss2d" bench block --backend cuda --dtype "$2" \
      --batch "$3" --d-model "$4" --d-state 1 --ssm-ratio 1 --height "$5" --width "$6" --warmup 20 --json 2>&1 | tail -1)
  echo "$1 $line" >> "$log"
  [[ "$line" == \{* ]] || { echo "$1 $2 $3x$4x$5x$6: FAILED: $line"; rc=1; return; }
  awk -v v="$1" -v d="$2" -v s="$3x$4x$5x$6" -v bytes="$(( $3 * $4 * $5 * $6 * 5 * size ))" '{
    match($0, /"median_ms":[0-9.Ee-]+/); med = substr($0, RSTART + 12, RLENGTH - 12)
    match($0, /"cross_scan":[0-9.Ee-]+/); sh = substr($0, RSTART + 13, RLENGTH - 13)
    match($0, /"check_rel_err":[0-9.Ee-]+/); err = substr($0, RSTART + 16, RLENGTH - 16)
    floor = bytes / 3e9
    printf "%-6s %-8s %-14s block %.4f ms  cross_scan %.4f ms  floor %.4f ms  x%.2f  check_rel_err %s\n",
      v, d, s, med, sh * med, floor, sh * med / floor, err }' <<< "$line"
}
for shape in "32 96 56 56" "32 192 28 28" "32 384 14 14" "32 768 7 7"; do
  for round in 1 2; do
    # shellcheck disable=SC2086
    one gather bfloat16 $shape; one tiled bfloat16 $shape
    [[ $shape == "32 96 56 56" ]] || one planes bfloat16 $shape
  done
done
one gather float16 32 96 56 56; one tiled float16 32 96 56 56
for shape in "32 384 14 14" "32 768 7 7"; do
  # shellcheck disable=SC2086
  one tiled float32 $shape; one planes float32 $shape; one tiled float32 $shape; one planes float32 $shape
done
exit $rc
