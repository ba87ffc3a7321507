#!/usr/bin/env bash
# Issue 17 on the GPU host: `ss2d spark-classify` on local[*] with the GPU as a Spark resource, against
# `ss2d bench model` on the same GPU. The host has no Java and no Spark: here, after `./ss2d bundle` and a
# build of the spark module, scripts/make-spark-pack.sh writes dist/ss2d-spark.txz.part-00..03 (25 MiB
# each but the last; 96 MB in all: a jlinked runtime with Spark's JDK modules, the bundle's jars and the
# 68 Spark jars a local job loads). Nothing else from dist/ is needed. The tracked files are ~11.6 MB, so
# two parts go per call, in two calls made within the 30 s the machine stays warm:
#   call 1: run: bash scripts/gpu-spark.sh stash
#           carry: [dist/ss2d-spark.txz.part-00, dist/ss2d-spark.txz.part-01]
#   call 2: run: bash scripts/gpu-spark.sh
#           carry: [dist/ss2d-spark.txz.part-02, dist/ss2d-spark.txz.part-03, dist/ss2d-spark.sha256]
# `stash` moves the carried parts to dist/spark-parts/ (ignored, kept between calls; a carried path is
# replaced each call). Without arguments the script joins the parts (checking dist/ss2d-spark.sha256),
# unpacks dist/ss2d-spark/, writes a discovery script, makes N images (symlinks to 16 generated PNGs) and
# random VMamba-T weights, and runs the Spark job three times on the same files:
#   A  --spark-split: Spark's own split of the folder (files packed by bytes, ~29 a partition);
#   B  the default: partitions of BATCH files, no shuffle (the fix);
#   C  as B with twice as many task slots as cores (local[2C]): does a task thread that waits (for the
#      model, for the sink) leave a core idle?
# Each prints the executor's stage times (wall/CPU ms per row and thread-seconds: read, decode, preprocess,
# model wait, model call, convert, write, task end), the task threads, slot-seconds outside the tasks, the
# process's CPU and GC, and the tasks per backend (cuda:N from the driver's GPU address). Then ss2d bench
# model at the same batch, and the share lost to Spark on the whole process and on the job's own wall time.
# Output: $OUT/spark.txt (~2 minutes on the GPU host).
#   N=8000 BATCH=32 BACKEND=cuda bash scripts/gpu-spark.sh      (defaults)
#   BACKEND=cpu N=32 BATCH=8 bash scripts/gpu-spark.sh          (exercises the script without a GPU)
# Local mode offers tasks no resources (Spark's LocalEndpoint makes its worker offer with none): a
# spark.task.resource.gpu.amount, even 0.0625, leaves every task unscheduled. The job therefore holds the GPU
# as the driver's resource (spark.driver.resource.gpu.amount and its discovery script), which the tasks of
# local mode use: --backend cuda becomes cuda:<the driver's address> (TaskDevices).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
O="${OUT:-${TMPDIR:-/tmp}/ss2d-spark}"; mkdir -p "$O"
if [[ "${1:-}" == stash ]]; then
  mkdir -p dist/spark-parts && mv dist/ss2d-spark.txz.part-* dist/spark-parts/ && ls -l dist/spark-parts; exit $?
fi
N="${N:-8000}"; BATCH="${BATCH:-32}"; BACKEND="${BACKEND:-cuda}"; MODEL=vmamba_tiny_s1l8
W="${WORK:-${TMPDIR:-/tmp}/ss2d-spark-work}"; rm -rf "$W"; mkdir -p "$W"
exec > >(tee -a "$O/spark.txt") 2>&1
if [[ ! -x dist/ss2d-spark/runtime/bin/java ]]; then
  [[ -d dist/spark-parts ]] && cp -n dist/spark-parts/ss2d-spark.txz.part-* dist/ 2>/dev/null
  (cd dist && sha256sum -c ss2d-spark.sha256) || { echo "gpu-spark: parts missing or damaged (see the header)"; exit 1; }
  cat dist/ss2d-spark.txz.part-* | tar -xJf - -C dist || { echo "gpu-spark: unpacking failed"; exit 1; }
fi
P=dist/ss2d-spark
JAVA="$P/runtime/bin/java"
read -r -a FLAGS < "$P/lib/jvm.flags"; read -r -a SFLAGS < "$P/lib/spark.jvm.flags"
CP="$P/lib/*:$P/spark/*"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cat > "$W/gpus.sh" <<'G'
#!/usr/bin/env bash
# Spark resource discovery: the host's GPUs as {"name":"gpu","addresses":["0",...]}.
a=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | paste -sd, - | sed 's/,/","/g')
echo "{\"name\": \"gpu\", \"addresses\": [\"${a:-0}\"]}"
G
chmod +x "$W/gpus.sh"; echo "discovery: $("$W/gpus.sh")"
# Random VMamba-T weights and 16 PNGs (200-500 px a side) from SparkThroughput (its round 0 also runs the 16
# images through both paths on the CPU), then N links to them: the job reads and decodes every one again.
"$JAVA" "${FLAGS[@]}" "${SFLAGS[@]}" -cp "$CP" org.ss2d.spark.bench.SparkThroughput images="$W/seed" \
    weights="$W/tiny.safetensors" model=$MODEL n=16 threads=4 batch=8 rounds=0 > "$W/seed.log" 2>&1
# (rounds=0 ends in an exception after the warm-up round, when it takes medians of no rounds: the files are what counts)
[[ -f "$W/tiny.safetensors" && -f "$W/seed/b-0015.png" ]] \
  || { tail -20 "$W/seed.log"; echo "gpu-spark: making the weights and images failed"; exit 1; }
mkdir -p "$W/images"
for ((i = 0; i < N; i++)); do ln -s "$W/seed/b-$(printf %04d $((i % 16))).png" "$W/images/i-$(printf %05d $i).png"; done
echo "$N images, $(du -sh "$W/images" | cut -f1); weights $(du -h "$W/tiny.safetensors" | cut -f1); backend $BACKEND, batch $BATCH"
G_CONF=(-Dspark.driver.resource.gpu.amount=1 "-Dspark.driver.resource.gpu.discoveryScript=$W/gpus.sh" -Dspark.ui.enabled=false)
CORES=$(nproc)
# job NAME MASTER [spark-classify options...]: one run; its whole-process and job rows/s go to $W/NAME.ips.
job() {
  local name=$1 master=$2; shift 2
  echo "== run $name: --master '$master' $*"
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$JAVA" "${FLAGS[@]}" "${SFLAGS[@]}" "${G_CONF[@]}" -cp "$CP" org.ss2d.cli.Main spark-classify --master "$master" \
      --backend "$BACKEND" --model $MODEL --weights "$W/tiny.safetensors" --input "$W/images" --output "$W/labels-$name.parquet" \
      --batch "$BATCH" "$@" 2>&1 | grep -v '^WARNING\|^SLF4J' | tee "$W/$name.txt"
  rc=${PIPESTATUS[0]}; t1=$(date +%s.%N)
  [[ $rc == 0 ]] || { echo "gpu-spark: spark-classify ($name) failed (exit $rc)"; return 1; }
  local wall; wall=$(grep -o '"job_wall_s":[0-9.]*' "$W/$name.txt" | cut -d: -f2)
  awk -v n="$N" -v a="$t0" -v b="$t1" -v w="$wall" 'BEGIN { printf "%.2f %.2f %.2f\n", n / (b - a), n / w, b - a }' > "$W/$name.ips"
}
job A "local[*]" --spark-split || exit 1
job B "local[*]" || exit 1
job C "local[$((2 * CORES))]" || exit 1
"$JAVA" "${FLAGS[@]}" -cp "$P/lib/*" org.ss2d.cli.Main bench model --backend "$BACKEND" --model $MODEL \
    --batch "$BATCH" --json 2>&1 | grep -v '^WARNING' | tee "$W/bench.txt"
bench_ips=$(grep -o '"images_per_s[a-z_]*" *: *[0-9.eE+-]*' "$W/bench.txt" | head -1 | sed 's/.*: *//')
[[ -n $bench_ips ]] || bench_ips=$(grep -o '[0-9.]* images/s' "$W/bench.txt" | head -1 | cut -d' ' -f1)
echo "== summary: $N images, batch $BATCH, backend $BACKEND, $CORES cores"
printf 'bench model (model calls only, batch %s): %s images/s\n' "$BATCH" "$bench_ips"
for r in A B C; do
  read -r proc_ips job_ips proc_s < "$W/$r.ips"
  printf 'run %s: whole process (JVM, Spark start, job, read-back) %.1f s = %.1f images/s; job wall %.1f images/s' \
      "$r" "$proc_s" "$proc_ips" "$job_ips"
  [[ -n $bench_ips ]] && awk -v p="$proc_ips" -v j="$job_ips" -v b="$bench_ips" \
      'BEGIN { printf "; share lost to Spark: %.1f%% of the whole process, %.1f%% of the job", 100 * (1 - p / b), 100 * (1 - j / b) }'
  echo
done
