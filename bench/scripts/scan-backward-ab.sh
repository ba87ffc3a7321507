#!/usr/bin/env bash
# In-process A/B of backend-cpu scan backward variants against the forward, same JVM (see scan-ab.sh for the idea):
# each variant is backend-cpu's main sources at a git revision or WORK (the working tree), compiled into its own
# class directory and loaded by its own class loader. Per round: the first variant's forward, then every variant's
# backward (order alternating). Prints the gradients' differences to the first variant (= bit-identical), each
# variant's median backward ns/elem, its backward/forward ratio and its time relative to the first variant.
#
#   bench/scripts/scan-backward-ab.sh "2 2048 1 4096 16" 1 HEAD~1 WORK     # shape B D G L N, threads, variants...
#   CPU=1 ROUNDS=9 CALLS=3 bench/scripts/scan-backward-ab.sh "4 1536 4 784 1" 1 HEAD WORK
#
# CPU=1 times the calling thread's CPU time instead of wall time: the work itself at 1 thread, steadier on a shared
# host. Needs bench/target/classpath.txt (scan-vs-anchor.sh makes it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHAPE=$1; THREADS=$2; shift 2
JBIN="${JBIN:-${JAVA_HOME:+$JAVA_HOME/bin}}"; JBIN="${JBIN:-$(dirname "$(readlink -f "$(command -v java)")")}"  # a JDK 25
OUT="$ROOT/bench/target/scan-backward-ab"
rm -rf "$OUT"; mkdir -p "$OUT/main"
CP="$(cat "$ROOT/bench/target/classpath.txt")"
DEPS="$(tr ':' '\n' <<< "$CP" | grep -v backend-cpu | tr '\n' ':')"
"$JBIN/javac" -nowarn -cp "$DEPS" -d "$OUT/main" "$ROOT/bench/scripts/scan-backward-ab/BwdAbMain.java"
DIRS=()
i=0
for v in "$@"; do
  d="$OUT/v$i-$(echo "$v" | tr -c 'A-Za-z0-9._-' '_')"; mkdir -p "$d"
  src="$ROOT/backend-cpu/src/main"
  if [ "$v" != WORK ]; then t="$(mktemp -d)"; git -C "$ROOT" archive "$v" backend-cpu/src/main | tar -x -C "$t"; src="$t/backend-cpu/src/main"; fi
  "$JBIN/javac" -nowarn --add-modules jdk.incubator.vector -cp "$DEPS" -d "$d" $(find "$src/java" -name '*.java') \
    "$ROOT/bench/scripts/scan-backward-ab/BwdAbKernel.java" 2>&1 | grep -v 'warning\|incubat\|^Note' || true
  DIRS+=("$d"); i=$((i + 1))
done
FLAGS="$(sed -n 's:.*<ss2d.jvm.flags>\(.*\)</ss2d.jvm.flags>.*:\1:p' "$ROOT/pom.xml")"
"$JBIN/java" $FLAGS ${CPU:+-Dab.cpu=1} -cp "$OUT/main:$DEPS" abm.BwdAbMain $SHAPE "$THREADS" "${WARM:-4}" "${ROUNDS:-9}" \
  "${CALLS:-3}" "${DIRS[@]}" 2>&1 | grep -v 'WARNING\|SLF4J'
