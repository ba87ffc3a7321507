#!/usr/bin/env bash
# The CPU scan vs the C anchor with the self-contained bundle (`./ss2d bundle`), for machines with no JDK or
# Maven (the GPU host): the same rounds as scan-vs-anchor.sh, the Java side through `ss2d bench scan --backend
# cpu --json` (its own time-based warm-up, median of its runs, float64 check first).
#
#   tar -xzf dist/ss2d-linux-x64.tar.gz -C dist && bench/scripts/scan-vs-anchor-bundle.sh
#   THREADS="1 2 16" ROUNDS=3 bench/scripts/scan-vs-anchor-bundle.sh
#
# The anchor source: ANCHOR_SRC, else bench/anchors/scan.c of this checkout, else dist/anchor-scan.c (a copy
# carried along). Prints the same markdown table as scan-vs-anchor.sh (bench/scripts/anchor-table.py) and keeps
# the raw lines in $LOG (default bench/target/scan-vs-anchor-bundle.log).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
B="${B:-dist/ss2d/bin}"
SRC="${ANCHOR_SRC:-bench/anchors/scan.c}"
[ -f "$SRC" ] || SRC=dist/anchor-scan.c
SHAPES="${SHAPES:-4,768,4,3136,1 8,1536,4,784,1 2,2048,1,4096,16}"
THREADS="${THREADS:-1 2}"
ROUNDS="${ROUNDS:-5}"
mkdir -p bench/target/anchor
LOG="${LOG:-bench/target/scan-vs-anchor-bundle.log}"
ANCHOR=bench/target/anchor/scan
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
python3 "$ROOT/bench/scripts/anchor-table.py" "$LOG"
