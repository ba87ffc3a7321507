#!/usr/bin/env bash
# In-process A/B of backend-cpu scan variants: steadier than separate processes on this shared machine
# (resolves ~3% where runs of one binary move +-20% between processes). Each variant is backend-cpu's
# main sources at a git revision or in a directory (WORK = the working tree), compiled into its own
# class directory and loaded by its own class loader in one JVM; calls alternate after a joint warm-up.
#
#   bench/scripts/scan-ab.sh "4 768 4 3136 1" 2 HEAD~1 WORK      # shape B D G L N, threads, variants...
#   WARM=3 ROUNDS=11 CALLS=5 bench/scripts/scan-ab.sh "2 2048 1 4096 16" 1 HEAD WORK
#
# Prints each variant's median ns/elem over rounds and its per-round ratio to the first (median [min..max]).
# Needs bench/target/classpath.txt (scan-vs-anchor.sh makes it). Each round first waits until no build runs on the
# machine; ABFLAGS=-Dab.nowait=true skips that where builds never stop.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHAPE=$1; THREADS=$2; shift 2
JBIN="${JBIN:-/usr/lib/jvm/temurin-25-jdk-amd64/bin}"
OUT="$ROOT/bench/target/scan-ab"
rm -rf "$OUT"; mkdir -p "$OUT/main" "$OUT/kernel"
DEPS="$(tr ':' '\n' < "$ROOT/bench/target/classpath.txt" | grep -v backend-cpu | tr '\n' ':')"
API="$(tr ':' '\n' < "$ROOT/bench/target/classpath.txt" | grep ss2d-api)"
"$JBIN/javac" -nowarn -d "$OUT/main" "$ROOT/bench/scripts/scan-ab/AbMain.java"
DIRS=()
i=0
for v in "$@"; do
  d="$OUT/v$i-$(echo "$v" | tr -c 'A-Za-z0-9._-' '_')"; mkdir -p "$d"
  src="$ROOT/backend-cpu/src/main"
  if [ "$v" != WORK ]; then
    if [ -d "$v" ]; then src="$v"; else t="$(mktemp -d)"; git -C "$ROOT" archive "$v" backend-cpu/src/main | tar -x -C "$t"; src="$t/backend-cpu/src/main"; fi
  fi
  "$JBIN/javac" -nowarn --add-modules jdk.incubator.vector -cp "$DEPS" -d "$d" $(find "$src/java" -name '*.java') 2>&1 | grep -v 'warning\|incubat' || true
  "$JBIN/javac" -nowarn --add-modules jdk.incubator.vector -cp "$DEPS:$d" -d "$d" "$ROOT/bench/scripts/scan-ab/AbKernel.java" 2>&1 | grep -v 'warning\|incubat' || true
  DIRS+=("$d"); i=$((i + 1))
done
FLAGS="$(sed -n 's:.*<ss2d.jvm.flags>\(.*\)</ss2d.jvm.flags>.*:\1:p' "$ROOT/pom.xml")"
"$JBIN/java" $FLAGS ${ABFLAGS:-} -cp "$OUT/main:$DEPS" abm.AbMain $SHAPE "$THREADS" "${WARM:-3}" "${ROUNDS:-11}" "${CALLS:-5}" "${DIRS[@]}" 2>&1 | grep -v WARNING
