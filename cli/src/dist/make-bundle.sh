#!/usr/bin/env bash
# Builds the self-contained bundle dist/ss2d (and dist/ss2d-linux-x64.tar.gz, and the same in two parts,
# dist/ss2d-runtime.tgz and dist/ss2d-app.tgz): a jlinked Java 25
# runtime, the jars, the project's JVM flags, the launcher bin/ss2d, and the test suites with
# bin/ss2d-test, so that a Linux x86-64 GPU host with no JDK and no Maven can run the command and the
# tests. Called by `./mvnw -Pdist package` (cli module) after every module is packaged.
#
#   make-bundle.sh REPO_ROOT CLI_TARGET_DIR
set -euo pipefail
ROOT="$(cd "$1" && pwd)"
TARGET="$(cd "$2" && pwd)"
DIST="$ROOT/dist"
OUT="$DIST/ss2d"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Limits on the compressed files, which are what travels: the whole .tar.gz (about 56 MiB since
# java.desktop, javax.imageio for `ss2d classify`, joined the runtime; the font, splash-screen and sound
# libraries that image decoding never loads are left out below), and each of the two parts that the GPU
# device tool carries one per call.
LIMIT_MB=64
PART_LIMIT_MB=40
# What the code needs, no more: Arrow needs jdk.unsupported (sun.misc.Unsafe); the CPU backend the Vector
# API; JMH and the timing code java.management (JMH itself runs under Maven, not from the bundle); System.Logger goes to java.logging; the
# JUnit console scans test jars through the zip file system (jdk.zipfs); javax.imageio (JPEG/PNG for
# `ss2d classify` and preprocess_image) is in java.desktop; `ss2d serve` checks each client's uid with
# SO_PEERCRED (jdk.net); MemoryBudget reads the machine's memory through com.sun.management
# (jdk.management). The jdeps check after the jars are copied fails the bundle if our jars need more.
MODULES=java.base,java.desktop,java.logging,java.management,jdk.management,jdk.net,jdk.unsupported,jdk.incubator.vector,jdk.zipfs

source "$HERE/jdk.sh"
JDK="$(find_jdk)" || { echo "make-bundle: a JDK 25 with jlink is needed" >&2; exit 1; }

rm -rf "$OUT" "$DIST/ss2d-linux-x64.tar.gz" "$DIST/ss2d-runtime.tgz" "$DIST/ss2d-app.tgz"
mkdir -p "$OUT/bin" "$OUT/lib/test" "$OUT/tests"

"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress zip-9 \
    --exclude-files='**/libfontmanager.so,**/libfreetype.so,**/libsplashscreen.so,**/libjsound.so' \
    --output "$OUT/runtime" 2>&1 | { grep -v '^WARNING: Using incubator modules' || true; }
# libjvm.so carries a full symbol table (~5 MB); strip keeps the dynamic symbols, so crash logs still
# name exported JVM functions. Skipped where binutils' strip is missing.
if command -v strip >/dev/null 2>&1; then
  strip --strip-unneeded "$OUT/runtime/lib/server/libjvm.so"
fi

cp "$TARGET"/ss2d/lib/*.jar "$OUT/lib/"
# A JDK module that our code uses but the runtime lacks fails only when that code runs (the engine server
# once died at its first client with NoClassDefFoundError: jdk/net/ExtendedSocketOptions): check now.
need="$("$JDK/bin/jdeps" --ignore-missing-deps --multi-release 25 --print-module-deps "$OUT"/lib/ss2d-*.jar 2>/dev/null)" \
    || { echo "make-bundle: jdeps failed on the ss2d jars" >&2; exit 1; }
for mod in ${need//,/ }; do
  [[ ",$MODULES," == *",$mod,"* ]] || { echo "make-bundle: the ss2d jars need JDK module $mod, which MODULES lacks" >&2; exit 1; }
done
# JMH (and its statistics and option libraries) is only for the JMH suites, which run under Maven;
# `ss2d bench` does not need it. Leaving it out keeps the bundle small.
rm -f "$OUT"/lib/jmh-core-*.jar "$OUT"/lib/commons-math3-*.jar "$OUT"/lib/jopt-simple-*.jar
cp "$TARGET/ss2d/jvm.flags" "$OUT/lib/jvm.flags"
cp "$TARGET/dist-test-lib/junit-platform-console-standalone.jar" "$OUT/lib/test/"
install -m 755 "$HERE/bin/ss2d" "$HERE/bin/ss2d-test" "$OUT/bin/"
ln -s ../runtime/bin/java "$OUT/bin/java"

# Test suites: each module's compiled tests (target/test-classes), beside a copy of the module's data files (not
# its main sources or build output), so tests that open e.g. golden/x.arrow find it as under Maven.
modules="$(sed -n 's:.*<module>\(.*\)</module>.*:\1:p' "$ROOT/pom.xml")"
# A suite sees what surefire shows it: its module, the ss2d modules it depends on (any scope, transitively,
# read from the poms) and the third-party jars; not the other backends, whose providers would change
# what discovery finds.
deps_of() { sed -n 's:.*<artifactId>ss2d-\([a-z0-9-]*\)</artifactId>.*:\1:p' "$ROOT/$1/pom.xml" | grep -vx parent; }
closure() {
  local todo=("$1") seen=" " m d
  while ((${#todo[@]})); do
    m="${todo[0]}"; todo=("${todo[@]:1}")
    [[ "$seen" == *" $m "* ]] && continue
    seen+="$m "
    for d in $(deps_of "$m"); do todo+=("$d"); done
  done
  printf '%s\n' $seen
}
for m in $modules; do
  # The architecture rules check the build's classes (with ArchUnit, not bundled), not a machine. The spark
  # module's suites run Spark, whose jars the bundle does not carry (spark/README.md).
  [[ "$m" == architecture || "$m" == spark ]] && continue
  classes="$ROOT/$m/target/test-classes"
  [[ -n "$(find "$classes" -name '*.class' -print -quit 2>/dev/null)" ]] || continue
  mkdir -p "$OUT/tests/$m"
  # A folder, not a jar, as under surefire: some tests turn resource URLs into Paths.
  cp -r "$classes" "$OUT/tests/$m/test-classes"
  { (cd "$OUT/lib" && ls *.jar | grep -v '^ss2d-'); for d in $(closure "$m"); do (cd "$OUT/lib" && ls ss2d-"$d"-[0-9]*.jar 2>/dev/null); done; } \
      > "$OUT/tests/$m/classpath"
  # (main sources and resources are in the jars; the CUDA fatbin is in the backend's jar; test sources,
  # test resources and the module's pom stay, for tests that read a file by path, e.g. the README sample
  # or the version check against the pom)
  (cd "$ROOT/$m" && find . \( -name target -o -path ./src/main/java -o -path ./src/main/resources -o -name '__pycache__' \) \
      -prune -o -type f ! -name '*.fatbin' -print | while read -r f; do
        mkdir -p "$OUT/tests/$m/$(dirname "$f")"
        cp "$f" "$OUT/tests/$m/$f"
      done)
done

# tests/MODULE/.. is the repository root for the suites: the README, the root pom (the version) and the
# consumer example the README shows.
cp "$ROOT/README.md" "$ROOT/pom.xml" "$OUT/tests/"
(cd "$ROOT" && find examples \( -name target \) -prune -o -type f -print | while read -r f; do
  mkdir -p "$OUT/tests/$(dirname "$f")"
  cp "$f" "$OUT/tests/$f"
done)

cat > "$OUT/README.txt" <<TXT
ss2d $(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$ROOT/pom.xml" | head -n 1), self-contained for Linux x86-64 (Java $("$OUT/runtime/bin/java" -version 2>&1 | sed -n 's/.*version "\(.*\)".*/\1/p')).
No JDK and no Maven needed.

  bin/ss2d backends                       which backends are available here, and why not
  bin/ss2d demo                           SS2D at VMamba-T stage-1 widths on every backend vs the float64 reference
  bin/ss2d run CASE.arrow -o RESULT.arrow run one case file
  bin/ss2d conformance [...]              the cross-backend conformance report
  bin/ss2d bench [...]                    benchmarks
  bin/ss2d serve --socket PATH            the engine of the Python package (python/ of the repository;
                                          SS2D_ENGINE=.../bin/ss2d, see python/README.md)
  bin/ss2d-test [-Dss2d.require=cuda] [MODULE ...] [-- JUNIT-OPTIONS]
                                          the JUnit suites (modules: $(ls "$OUT/tests" | tr '\n' ' '))
  bin/java                                the bundled runtime (flags: lib/jvm.flags)
TXT

(cd "$DIST" && tar -czf ss2d-linux-x64.tar.gz ss2d)
# The same bundle in two parts for the GPU device tool, which carries at most 64 MiB per call, the
# repository's tracked files included (~52 MB, the committed fatbin ~40 MB of it: move it out of the working tree
# for those calls; the bundle's backend-cuda jar carries the same file): the runtime, then the rest.
# Unpacked into the same dist/ on a machine that stays warm between the two calls (scripts/gpu-e2e.sh).
(cd "$DIST" && tar -czf ss2d-runtime.tgz ss2d/runtime && tar -czf ss2d-app.tgz --exclude=ss2d/runtime ss2d)
bytes="$(du -sb "$OUT" | cut -f1)"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "bundle: $OUT $(mib "$bytes") unpacked"
status=0
for part in ss2d-linux-x64.tar.gz ss2d-runtime.tgz ss2d-app.tgz; do
  size="$(stat -c %s "$DIST/$part")"
  echo "bundle: $DIST/$part $(mib "$size")"
  # What travels is the compressed file, so that is what the limit checks: the whole bundle for hosts
  # that take one file, each part for the device tool (40 MiB leaves room for the tracked files).
  limit=$([[ $part == ss2d-linux-x64.tar.gz ]] && echo "$LIMIT_MB" || echo "$PART_LIMIT_MB")
  if [[ $part == ss2d-linux-x64.tar.gz ]] && ((size > limit * 1048576)); then
    # since the 16-bit, dwconv and CrossScan kernels the fatbin alone is ~40 MB: the whole bundle no longer fits
    # one device call, which then takes the two parts below (these are the limits that fail the build)
    echo "make-bundle: note: $part is $(mib "$size"), over ${limit} MiB: carry ss2d-runtime.tgz and ss2d-app.tgz instead"
  elif ((size > limit * 1048576)); then
    echo "make-bundle: $part is $(mib "$size"), over ${limit} MiB" >&2
    status=1
  fi
done
exit $status
