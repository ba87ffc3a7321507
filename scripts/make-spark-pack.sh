#!/usr/bin/env bash
# Packs what `ss2d spark-classify` needs on the GPU host, which has no Java, no Maven and no Spark, into
# parts that the device tool can carry (at most 64 MiB per call, the repository's tracked files included):
#   runtime/  a jlinked Java 25 with the bundle's JDK modules plus those Spark loads (the bundle's own
#             runtime lacks java.sql, java.naming, java.xml, jdk.jfr, ...);
#   lib/      the bundle's jars (dist/ss2d/lib, without the test runner), jvm.flags, spark.jvm.flags;
#   spark/    only the Spark jars a local-mode job loads (spark/scripts/spark-pack-jars.txt, taken from
#             -Xlog:class+load of a spark-classify run: 68 of Spark's 174 jars), at the versions Maven
#             settled on (spark/target/spark-classpath.txt).
# Run here after `./ss2d bundle` and a build of the spark module. Writes dist/ss2d-spark.txz.part-NN and
# dist/ss2d-spark.sha256; scripts/gpu-spark.sh reassembles them (its header lists the device calls).
#   scripts/make-spark-pack.sh [PART_MB (default 25)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PART_MB="${1:-25}"
CPFILE=spark/target/spark-classpath.txt
[[ -d dist/ss2d/lib ]] || { echo "make-spark-pack: dist/ss2d is missing: run ./ss2d bundle first" >&2; exit 1; }
[[ -f $CPFILE ]] || { echo "make-spark-pack: $CPFILE is missing: build the spark module first" >&2; exit 1; }
source cli/src/dist/jdk.sh
JDK="$(find_jdk)" || { echo "make-spark-pack: a JDK 25 with jlink is needed" >&2; exit 1; }
# The bundle's modules (kept in one place, make-bundle.sh) and the ones Spark's classes load in local mode.
BUNDLE_MODULES="$(sed -n 's/^MODULES=//p' cli/src/dist/make-bundle.sh)"
MODULES="$BUNDLE_MODULES,java.naming,java.security.jgss,java.sql,java.xml,jdk.jfr,jdk.management.jfr,jdk.security.auth,jdk.localedata"

W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
P="$W/ss2d-spark"
mkdir -p "$P/lib" "$P/spark"
"$JDK/bin/jlink" --add-modules "$MODULES" --include-locales=en --strip-debug --no-header-files --no-man-pages \
    --compress zip-0 --exclude-files='**/libfontmanager.so,**/libfreetype.so,**/libsplashscreen.so,**/libjsound.so' \
    --output "$P/runtime" 2>&1 | { grep -v '^WARNING: Using incubator modules' || true; }
command -v strip >/dev/null 2>&1 && strip --strip-unneeded "$P/runtime/lib/server/libjvm.so"
cp dist/ss2d/lib/*.jar dist/ss2d/lib/jvm.flags "$P/lib/"
cp cli/target/ss2d/spark.jvm.flags "$P/lib/"
n=0
while IFS= read -r name; do
  [[ -z $name || $name == \#* ]] && continue
  jar="$(tr ':' '\n' < "$CPFILE" | grep -E "/$name-[0-9][^/]*\.jar$" | head -n 1)"
  [[ -n $jar ]] || { echo "make-spark-pack: $name is not on $CPFILE" >&2; exit 1; }
  [[ -f "$P/lib/$(basename "$jar")" ]] || cp "$jar" "$P/spark/"
  n=$((n + 1))
done < spark/scripts/spark-pack-jars.txt

# The jars are deflated, which xz cannot compress further: store their entries uncompressed (same entries,
# same order) so that one solid xz sees the classes. Whichever of that and the jars kept whole is smaller goes.
python3 - "$P" <<'PY'
import sys, zipfile, pathlib
for jar in pathlib.Path(sys.argv[1]).glob("*/*.jar"):
    tmp = jar.with_suffix(".stored")
    with zipfile.ZipFile(jar) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            info.compress_type = zipfile.ZIP_STORED
            dst.writestr(info, data)
    tmp.replace(jar)
PY
tar -C "$W" -cf - ss2d-spark | xz -T2 -9e > "$W/stored.txz"
rm -rf "$P/lib"/*.jar "$P/spark"/*.jar
cp dist/ss2d/lib/*.jar "$P/lib/"
while IFS= read -r name; do
  [[ -z $name || $name == \#* ]] && continue
  jar="$(tr ':' '\n' < "$CPFILE" | grep -E "/$name-[0-9][^/]*\.jar$" | head -n 1)"
  [[ -f "$P/lib/$(basename "$jar")" ]] || cp "$jar" "$P/spark/"
done < spark/scripts/spark-pack-jars.txt
tar -C "$W" -cf - ss2d-spark | xz -T2 -9e > "$W/whole.txz"
s1=$(stat -c %s "$W/stored.txz"); s2=$(stat -c %s "$W/whole.txz")
echo "make-spark-pack: $n Spark jars ($(du -sh "$P/spark" | cut -f1)), runtime $(du -sh "$P/runtime" | cut -f1) unpacked;" \
     "xz of stored jars $((s1 / 1000)) kB, of the jars kept whole $((s2 / 1000)) kB"
best="$W/stored.txz"; (( s2 < s1 )) && best="$W/whole.txz"
rm -f dist/ss2d-spark.txz.part-* dist/ss2d-spark.sha256
split -d -a 2 -b "${PART_MB}M" "$best" dist/ss2d-spark.txz.part-
(cd dist && sha256sum ss2d-spark.txz.part-* > ss2d-spark.sha256)
for f in dist/ss2d-spark.txz.part-*; do printf '%s\t%d bytes\n' "$f" "$(stat -c %s "$f")"; done
