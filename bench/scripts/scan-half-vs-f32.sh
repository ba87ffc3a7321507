#!/usr/bin/env bash
# The CPU scan on half activations (bfloat16, float16) against the float32 scan, measured in the same run:
# for every shape and thread count, ROUNDS rounds that each run float32, bfloat16 and float16 one after the
# other (the order rotates per round), each a separate JVM reporting the median of REPS timed calls after its
# warm-up; the table reports each dtype's median ns/elem and the median of its per-round ratios to float32
# (<= 1.0 is the target of issue 13: half the bytes read must not cost more time than they save).
#
#   bench/scripts/scan-half-vs-f32.sh                       # S1, S3, S5 at 1 and 2 threads, batch 4/8/2, 3 rounds
#   SHAPES="4,768,4,3136,1" THREADS="1" ROUNDS=5 bench/scripts/scan-half-vs-f32.sh
#
# Batch is lowered from the issue's 32/32/8 as in scan-vs-anchor.sh (ns/elem does not depend on it). Every run
# checks its first batch against the float64 reference on the rounded inputs first. Output: a markdown table
# on stdout, the JSON lines in bench/target/scan-half-vs-f32.log.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SHAPES="${SHAPES:-4,768,4,3136,1 8,1536,4,784,1 2,2048,1,4096,16}"
THREADS="${THREADS:-1 2}"
ROUNDS="${ROUNDS:-3}"
REPS="${REPS:-11}"
if [ -z "${JAVA:-}" ]; then
  source "$ROOT/cli/src/dist/jdk.sh"
  JAVA="$(find_jdk)/bin/java"
fi
OUT=bench/target
mkdir -p "$OUT"
if [ ! -f bench/target/classes/org/ss2d/bench/ScanBench.class ] || [ ! -f "$OUT/classpath.txt" ]; then
  ./mvnw -q -B -o -Dss2d.nvcc=skip -pl bench -am -Dmaven.test.skip=true -Dmaven.javadoc.skip=true -Dmaven.source.skip=true \
    package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
fi
CP="bench/target/classes:$(cat "$OUT/classpath.txt")"
FLAGS="$(sed -n 's:.*<ss2d.jvm.flags>\(.*\)</ss2d.jvm.flags>.*:\1:p' pom.xml)"
LOG="$OUT/scan-half-vs-f32.log"
: > "$LOG"
DTYPES=(float32 bfloat16 float16)
for shape in $SHAPES; do
  IFS=, read -r B D G L N <<< "$shape"
  for t in $THREADS; do
    for r in $(seq 1 "$ROUNDS"); do
      for k in 0 1 2; do
        dt=${DTYPES[$(( (k + r) % 3 ))]}
        line=$("$JAVA" $FLAGS -cp "$CP" org.ss2d.bench.ScanBench "$B" "$D" "$G" "$L" "$N" "$t" "$REPS" 1 "$dt" 2>/dev/null | grep '^{' || true)
        echo "$dt shape=$shape threads=$t round=$r $line" >> "$LOG"
      done
    done
  done
done
python3 - "$LOG" <<'PY'
import json, re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) shape=(\S+) threads=(\d+) round=(\d+) (.*)', line.strip())
    if not m or not m.group(5).startswith('{'):
        continue
    dt, shape, t, r, js = m.groups()
    rows.setdefault((shape, int(t)), {}).setdefault(dt, {})[r] = json.loads(js)
print("| shape (B, D, G, L, N) | threads | float32 ns/elem | bfloat16 ns/elem | float16 ns/elem | bf16 / f32 (median of rounds) | f16 / f32 (median of rounds) | check rel err f32 / bf16 / f16 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (shape, t), d in rows.items():
    med = lambda k: statistics.median(j["ns_per_elem"] for j in d.get(k, {}).values()) if d.get(k) else float('nan')
    def ratio(k):
        rs = [d[k][r]["ns_per_elem"] / d["float32"][r]["ns_per_elem"] for r in d.get(k, {}) if r in d.get("float32", {})]
        return statistics.median(rs) if rs else float('nan')
    err = lambda k: max(j["check_rel_err"] for j in d[k].values()) if d.get(k) else float('nan')
    print(f"| {shape} | {t} | {med('float32'):.3f} | {med('bfloat16'):.3f} | {med('float16'):.3f} | **{ratio('bfloat16'):.2f}** "
          f"| **{ratio('float16'):.2f}** | {err('float32'):.1e} / {err('bfloat16'):.1e} / {err('float16'):.1e} |")
PY
