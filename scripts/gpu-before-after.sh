#!/usr/bin/env bash
# Same-run before/after benchmark of the CUDA scan (S1..S5) and the VMamba-T stage-1 blocks, for a
# change that must leave CUDA speed alone (a refactoring, a new check in the dispatch path).
#   BEFORE=DIR bash scripts/gpu-before-after.sh
# DIR holds the ss2d-*.jar of the "before" build (e.g. copied from cli/target/ss2d/lib at the old commit);
# the "after" side is the bundle in dist/ss2d. Both run on the bundle's Java runtime and third-party jars,
# alternating before/after per shape and round (ROUNDS, default 2), so the machine's drift hits both.
# Prints one line per run and a table of medians and after/before ratios at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${BEFORE:?set BEFORE to a folder of the old ss2d-*.jar}"
ROUNDS="${ROUNDS:-2}"
[[ -d dist/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
D=dist/ss2d
read -r -a FLAGS < "$D/lib/jvm.flags"
third=$(ls "$D"/lib/*.jar | grep -v '/ss2d-' | tr '\n' ':')
cp_before="$third$(ls "$BEFORE"/ss2d-*.jar | tr '\n' ':')"
cp_after="$third$(ls "$D"/lib/ss2d-*.jar | tr '\n' ':')"
log=$(mktemp)
run() { # run SIDE ARGS...
  local side=$1; shift
  local cp; [[ $side == before ]] && cp=$cp_before || cp=$cp_after
  local line
  line=$("$D/runtime/bin/java" "${FLAGS[@]}" -cp "$cp" org.ss2d.cli.Main bench "$@" --json 2>/dev/null | tail -1)
  local ms; ms=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("median_ms", d.get("medianMs")))' "$line" 2>/dev/null || echo nan)
  echo "$side|$*|$ms" | tee -a "$log"
}
shapes=(
  "scan --backend cuda --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 1"
  "scan --backend cuda --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 16"
  "scan --backend cuda --batch 32 --dim 1536 --groups 4 --seqlen 784 --dstate 1"
  "scan --backend cuda --batch 32 --dim 3072 --groups 4 --seqlen 196 --dstate 1"
  "scan --backend cuda --batch 8 --dim 2048 --groups 1 --seqlen 4096 --dstate 16"
  "block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56"
  "block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56 --vss"
)
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${shapes[@]}"; do
    # shellcheck disable=SC2086
    if ((r % 2)); then run before $s; run after $s; else run after $s; run before $s; fi
  done
done
python3 - "$log" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    side, args, ms = line.rstrip("\n").split("|")
    try: runs[(args, side)].append(float(ms))
    except ValueError: pass
print("\n| bench | before ms (median) | after ms (median) | after / before |\n| --- | --- | --- | --- |")
for args in dict.fromkeys(a for a, _ in runs):
    b, a = runs.get((args, "before")), runs.get((args, "after"))
    if not b or not a: print(f"| {args} | {b} | {a} | n/a |"); continue
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"| {args.replace('--backend cuda ', '')} | {mb:.4f} | {ma:.4f} | {ma / mb:.3f} |")
PY
