#!/usr/bin/env bash
# spark-home-from-maven.sh DIR: a minimal Spark 4.2 "installation" in DIR for machines without one, made
# from the Spark jars in the local Maven repository (the spark module's build lists them in
# spark/target/spark-classpath.txt): DIR/jars (links to those jars), DIR/RELEASE (Spark's launcher takes
# jars/ from a directory that has one) and DIR/bin/spark-submit, which does what a distribution's
# spark-submit does: asks Spark's own launcher (org.apache.spark.launcher.Main) for the SparkSubmit
# command line, JVM options included, and runs it. Then the README's spark-submit commands run as written:
#
#   spark/scripts/spark-home-from-maven.sh /tmp/spark-home && export SPARK_HOME=/tmp/spark-home PATH=/tmp/spark-home/bin:$PATH
#
# Not a replacement for a real Spark distribution (no pyspark, no sbin/ daemons, no conf/ templates).
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
DIR="${1:?usage: spark-home-from-maven.sh DIR}"
CP="$ROOT/spark/target/spark-classpath.txt"
[[ -f "$CP" ]] || { echo "no $CP: build the spark module first (./mvnw -DskipTests package -pl spark -am)" >&2; exit 1; }
mkdir -p "$DIR/jars" "$DIR/bin"
IFS=: read -r -a JARS < "$CP" || true   # the list has no final newline
for j in "${JARS[@]}"; do ln -sf "$j" "$DIR/jars/"; done
echo "Spark 4.2.0 (jars from the local Maven repository)" > "$DIR/RELEASE"
cat > "$DIR/bin/spark-submit" <<'SCRIPT'
#!/usr/bin/env bash
# Runs SparkSubmit the way a Spark distribution does: Spark's launcher prints the java command
# (NUL-separated arguments, JavaModuleOptions included), then this script runs it.
set -uo pipefail
export SPARK_HOME="${SPARK_HOME:-$(cd "$(dirname "$0")/.." && pwd)}"
# A distribution's environment script sets the Scala version; the launcher asks for it.
export SPARK_SCALA_VERSION="${SPARK_SCALA_VERSION:-2.13}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# The launcher prints its messages, then a NUL and a newline, then the command's arguments, each ended by a NUL.
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
"$JAVA" -Xmx128m -cp "$SPARK_HOME/jars/*" org.apache.spark.launcher.Main org.apache.spark.deploy.SparkSubmit "$@" > "$OUT"
rc=$?
mapfile -d '' PARTS < "$OUT"
[[ -n "${PARTS[0]:-}" ]] && printf '%s' "${PARTS[0]}" >&2
[[ $rc -eq 0 && ${#PARTS[@]} -gt 1 ]] || { echo "spark-submit: Spark's launcher failed (exit $rc)" >&2; exit 1; }
CMD=("${PARTS[@]:1}")
CMD[0]="${CMD[0]#$'\n'}"
rm -f "$OUT"
exec "${CMD[@]}"
SCRIPT
chmod +x "$DIR/bin/spark-submit"
echo "SPARK_HOME=$DIR: ${#JARS[@]} jars; bin/spark-submit"
