#!/usr/bin/env bash
# Java CPU scan vs our C anchor (bench/anchors/scan.c, AVX-512 + OpenMP), measured in the same run:
# for every shape and thread count, ROUNDS alternating runs of each (anchor first in odd rounds,
# Java first in even ones), each a median of REPS timed calls after warm-up; the table reports the
# median over rounds of each side's ns/elem and their ratio (Java / anchor: <= 1.25 is the target).
#
#   bench/scripts/scan-vs-anchor.sh                 # S1, S3, S5 at 1 and 2 threads, batch 4/8/2, 5 rounds
#   SHAPES="8,768,4,3136,1" THREADS="1" ROUNDS=5 bench/scripts/scan-vs-anchor.sh
#
# Batch is lowered from the issue's 32/32/8 to keep memory and time reasonable on a shared 2-core
# machine; ns/elem (per batch*dim*seqlen element) does not depend on it. Output: a markdown table on
# stdout, raw JSON/anchor lines in bench/target/scan-vs-anchor.log.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ANCHOR_SRC="${ANCHOR_SRC:-$ROOT/bench/anchors/scan.c}"
SHAPES="${SHAPES:-4,768,4,3136,1 8,1536,4,784,1 2,2048,1,4096,16}"
THREADS="${THREADS:-1 2}"
ROUNDS="${ROUNDS:-5}"
REPS="${REPS:-11}"
# java: $JAVA, else the JDK 25 that the launcher finds (JAVA_HOME, /usr/lib/jvm, ~/.sdkman, ...)
if [ -z "${JAVA:-}" ]; then
  source "$ROOT/cli/src/dist/jdk.sh"
  JAVA="$(find_jdk)/bin/java"
fi
OUT=bench/target
mkdir -p "$OUT/anchor"
gcc -O3 -march=native -fopenmp -o "$OUT/anchor/scan" "$ANCHOR_SRC" -lm
if [ ! -f bench/target/classes/org/ss2d/bench/ScanBench.class ] || [ ! -f "$OUT/classpath.txt" ]; then
  # the reactor's jars (nothing installed into ~/.m2): each module's target/classpath.txt names them
  ./mvnw -q -B -pl bench -am -Dmaven.test.skip=true -Dmaven.javadoc.skip=true -Dmaven.source.skip=true \
    package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
fi
CP="bench/target/classes:$(cat "$OUT/classpath.txt")"
# the parent pom's ss2d.jvm.flags (the one place that lists them)
FLAGS="$(sed -n 's:.*<ss2d.jvm.flags>\(.*\)</ss2d.jvm.flags>.*:\1:p' pom.xml)"
LOG="$OUT/scan-vs-anchor.log"
: > "$LOG"
for shape in $SHAPES; do
  IFS=, read -r B D G L N <<< "$shape"
  for t in $THREADS; do
    for r in $(seq 1 "$ROUNDS"); do
      run_anchor() {
        local check=0; [ "$r" = 1 ] && check=1
        line=$(OMP_NUM_THREADS=$t "$OUT/anchor/scan" "$B" "$D" "$G" "$L" "$N" "$REPS" $check | tr '\n' ' ')
        echo "ANCHOR shape=$shape threads=$t round=$r $line" >> "$LOG"
      }
      run_java() {
        line=$("$JAVA" $FLAGS -cp "$CP" org.ss2d.bench.ScanBench "$B" "$D" "$G" "$L" "$N" "$t" "$REPS" 2>/dev/null | grep '^{')
        echo "JAVA shape=$shape threads=$t round=$r $line" >> "$LOG"
      }
      # a CUDA build on this 2-core machine (ptxas alone takes a core for minutes) makes a round worthless
      while pgrep -f '(^|/)(ptxas|cicc|nvcc|cudafe\+\+|nvlink|fatbinary)( |$)' > /dev/null; do sleep 1; done
      if [ $((r % 2)) = 1 ]; then run_anchor; run_java; else run_java; run_anchor; fi
    done
  done
done
python3 "$ROOT/bench/scripts/anchor-table.py" "$LOG"
