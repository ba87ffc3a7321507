#!/usr/bin/env bash
# The CPU scan vs the C anchor with the self-contained bundle (`./ss2d bundle`), for machines with no JDK or
# Maven (the GPU host): the same rounds as scan-vs-anchor.sh, the Java side through `ss2d bench scan --backend
# cpu --json` (its own time-based warm-up, median of its runs, float64 check first).
#
#   tar -xzf dist/ss2d-linux-x64.tar.gz -C dist && bench/scripts/scan-vs-anchor-bundle.sh
#   THREADS="1 2 16" ROUNDS=3 bench/scripts/scan-vs-anchor-bundle.sh
#
# The anchor source: ANCHOR_SRC, else ../shared/anchors/scan.c, else dist/anchor-scan.c (a copy carried along).
# Prints a markdown table (median of the per-round ratios, as scan-vs-anchor.sh) and keeps the raw lines in
# $LOG (default /tmp/scan-vs-anchor-bundle.log).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
B="${B:-dist/ss2d/bin}"
SRC="${ANCHOR_SRC:-../shared/anchors/scan.c}"
[ -f "$SRC" ] || SRC=dist/anchor-scan.c
SHAPES="${SHAPES:-4,768,4,3136,1 8,1536,4,784,1 2,2048,1,4096,16}"
THREADS="${THREADS:-1 2}"
ROUNDS="${ROUNDS:-5}"
LOG="${LOG:-/tmp/scan-vs-anchor-bundle.log}"
ANCHOR=/tmp/ss2d-anchor-scan
gcc -O3 -march=native -fopenmp -o "$ANCHOR" "$SRC" -lm
: > "$LOG"
for shape in $SHAPES; do
  IFS=, read -r Bt D G L N <<< "$shape"
  for t in $THREADS; do
    for r in $(seq 1 "$ROUNDS"); do
      run_anchor() {
        echo "ANCHOR shape=$shape threads=$t round=$r $(OMP_NUM_THREADS=$t "$ANCHOR" "$Bt" "$D" "$G" "$L" "$N" 11 0 | tr '\n' ' ')" >> "$LOG"
      }
      run_java() {
        echo "JAVA shape=$shape threads=$t round=$r $("$B/ss2d" bench scan --backend cpu --batch "$Bt" --dim "$D" --groups "$G" \
          --seqlen "$L" --dstate "$N" --threads "$t" --json 2>/dev/null | grep '^{' | tail -1)" >> "$LOG"
      }
      if [ $((r % 2)) = 1 ]; then run_anchor; run_java; else run_java; run_anchor; fi
    done
  done
done
python3 - "$LOG" <<'PY'
import json, re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) shape=(\S+) threads=(\d+) round=(\d+) (.*)', line.strip())
    if not m: continue
    kind, shape, t, r, rest = m.groups()
    d = rows.setdefault((shape, int(t)), {"java": {}, "anchor": {}, "err": None})
    if kind == "JAVA":
        if not rest.startswith("{"): continue
        j = json.loads(rest)
        d["java"][r] = j["ns_per_elem"]; d["err"] = j.get("check_rel_err")
    else:
        a = re.search(r'\| ([0-9.]+) ns/elem', rest)
        if a: d["anchor"][r] = float(a.group(1))
names = {"4,768,4,3136,1": "S1", "8,1536,4,784,1": "S3", "2,2048,1,4096,16": "S5"}
print("| shape (Bt, D, G, L, N) | threads | Java ns/elem | anchor ns/elem | median of round ratios | round ratios | Java check rel err |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (shape, t), d in rows.items():
    rr = [d["java"][r] / d["anchor"][r] for r in sorted(d["java"], key=int) if r in d["anchor"]]
    if not rr: continue
    label = names.get(shape, "") + " (" + shape.replace(",", ", ") + ")"
    err = f"{d['err']:.1e}" if d["err"] is not None else "-"
    print(f"| {label} | {t} | {statistics.median(d['java'].values()):.3f} | {statistics.median(d['anchor'].values()):.3f} | "
          f"{statistics.median(rr):.2f} | " + ", ".join(f"{x:.2f}" for x in rr) + f" | {err} |")
PY
