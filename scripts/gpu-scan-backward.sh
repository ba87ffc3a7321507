#!/usr/bin/env bash
# The CUDA scan backward's kernel families in one run: `ss2d bench scan-backward --backend cuda` at S1..S5 with
# -Dss2d.cuda.scanBackward=v1 (a lane walks a row) and v3 (the default; parallel over time: the v2 kernels at dstate 1
# (S1, S3, S4), v3 at dstate 2..16 (S2, S5)),
# alternating the two per shape and round (ROUNDS, default 2) so the machine's drift hits both. Uses the bundle in
# dist/ss2d (its launcher, bin/ss2d). Each line is the command's own output (forward, backward, the
# float64 check, the backward's workspace); mamba's backward comes from scripts/anchors/mamba_scan_times.py --backward.
#   bash scripts/gpu-scan-backward.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-2}"
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
source scripts/scan-shapes.sh
rc=0
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${SCAN_SHAPES[@]}"; do
    name=${s%% *}; args=${s#* }
    if ((r % 2)); then order="v1 v3"; else order="v3 v1"; fi
    for v in $order; do
      # shellcheck disable=SC2086
      line=$(SS2D_JAVA_OPTS=-Dss2d.cuda.scanBackward=$v "$D/bin/ss2d" \
          bench scan-backward --backend cuda $args 2>&1 | grep '^scan-backward') || rc=1
      echo "round $r $name $v: ${line:-FAILED}"
    done
  done
done
exit $rc
