#!/usr/bin/env bash
# The CUDA scan backward's kernel families in one run: `ss2d bench scan-backward --backend cuda` at S1..S5 with
# -Dss2d.cuda.scanBackward=v1 (a lane walks a row) and v3 (the default; parallel over time: the v2 kernels at dstate 1
# (S1, S3, S4), v3 at dstate 2..16 (S2, S5)),
# alternating the two per shape and round (ROUNDS, default 2) so the machine's drift hits both. Uses the bundle in
# dist/ss2d (its Java runtime and jvm.flags). Each line is the command's own output (forward, backward, the
# float64 check, the backward's workspace); mamba's backward comes from scripts/anchors/mamba_scan_times.py --backward.
#   bash scripts/gpu-scan-backward.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-2}"
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
read -r -a FLAGS < "$D/lib/jvm.flags"
cp=$(ls "$D"/lib/*.jar | tr '\n' ':')
shapes=(
  "S1 --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 1"
  "S2 --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 16"
  "S3 --batch 32 --dim 1536 --groups 4 --seqlen 784 --dstate 1"
  "S4 --batch 32 --dim 3072 --groups 4 --seqlen 196 --dstate 1"
  "S5 --batch 8 --dim 2048 --groups 1 --seqlen 4096 --dstate 16"
)
rc=0
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${shapes[@]}"; do
    name=${s%% *}; args=${s#* }
    if ((r % 2)); then order="v1 v3"; else order="v3 v1"; fi
    for v in $order; do
      # shellcheck disable=SC2086
      line=$("$D/runtime/bin/java" "${FLAGS[@]}" -Dss2d.cuda.scanBackward=$v -cp "$cp" org.ss2d.cli.Main \
          bench scan-backward --backend cuda $args 2>&1 | grep '^scan-backward') || rc=1
      echo "round $r $name $v: ${line:-FAILED}"
    done
  done
done
exit $rc
