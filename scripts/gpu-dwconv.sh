#!/usr/bin/env bash
# The SS2D block's conv_silu step (depthwise 3x3 conv + SiLU) with the band kernel (-Dss2d.cuda.dwconv=rows) and
# the register-tile kernel (v2) in one process per dtype: `ss2d bench dwconv` at VMamba-T's four stage shapes,
# batch 32 and 128, float32 and bfloat16 (float16 at batch 32). Each variant's block output is checked against
# float64 first; the time is the step's device time (CUDA events between the block's steps, best of 3 rounds with
# the variants alternating), the floor its bytes (x read once, result written once) at the device copy bandwidth
# measured in the same process. Issue 12's target: v2 at <= 2.00x floor. Then a summary line per shape and dtype.
# Uses the bundle in dist/ss2d (its launcher, bin/ss2d); about a minute.
#   bash scripts/gpu-dwconv.sh            (OUT=dir also keeps the raw lines in $OUT/gpu-dwconv.txt)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
log=${OUT:-/tmp}/gpu-dwconv.txt
: > "$log"
rc=0
run() {  # dtype, then optional --shape list
  "$D/bin/ss2d" bench dwconv --backend cuda --dtype "$@" 2>&1 | tee -a "$log" || rc=1
}
run float32
run bfloat16
run float16 --shape 32x96x56x56,32x192x28x28,32x384x14x14,32x768x7x7
echo "== summary: dtype shape rows_ms v2_ms floor_ms v2/floor rows/floor (target v2/floor <= 2.00)"
awk '/^dwconv / {
  for (i = 1; i <= NF; i++) { if ($i == "conv_silu") ms = $(i + 1); if ($i == "floor") fl = $(i + 1) }
  variant = $4; sub(/.*=/, "", variant); sub(/:$/, "", variant)
  id = $2 " " $3; t[id, variant] = ms; f[id] = fl; if (!(id in seen)) { seen[id] = 1; order[++n] = id }
} END {
  for (j = 1; j <= n; j++) { id = order[j]
    printf "%s rows %.4f v2 %.4f floor %.4f v2/floor %.2f rows/floor %.2f%s\n", id, t[id, "rows"], t[id, "v2"], f[id],
      t[id, "v2"] / f[id], t[id, "rows"] / f[id], (t[id, "v2"] / f[id] <= 2.0 ? "" : "  ABOVE TARGET") }
}' "$log"
exit $rc
