#!/usr/bin/env bash
# Everything the GPU machine must show (no Java, no Maven there):
#   ./ss2d bundle            # here: dist/ss2d-linux-x64.tar.gz (jlinked Java 25, jars, test suites), and
#                            # the same in two parts, dist/ss2d-runtime.tgz and dist/ss2d-app.tgz
# The device tool carries at most 64 MiB per call, the repository's tracked files included, so the
# bundle goes in two calls while the machine stays warm (ignored build outputs such as dist/ss2d stay
# there between calls):
#   call 1: run: mkdir -p dist && tar -xzf dist/ss2d-runtime.tgz -C dist   carry: [dist/ss2d-runtime.tgz]
#   (the tracked files are ~31 MB since the fatbin grew; with them the gzip runtime, 36.7 MB, is over the
#   64 MiB a call carries: recompress it, (cd dist && mkdir -p rt && tar -xzf ss2d-runtime.tgz -C rt &&
#   tar -C rt -cf - . | xz -T2 -9 > ss2d-runtime.txz), 33.4 MB, and unpack it with tar -xJf)
#   call 2: run: bash scripts/gpu-e2e.sh                                   carry: [dist/ss2d-app.tgz]
# (A host that takes one file: carry dist/ss2d-linux-x64.tar.gz and run the script once.) The script
# unpacks whichever of these archives are present.
# Steps, each under its own time limit, each logging to one file under $OUT (at most 8 come back):
#   1 tests.txt        every JUnit suite with -Dss2d.require=cuda (CUDA unavailable = failure)
#   2 conformance.txt  ss2d conformance on cpu and cuda (catalog + golden vectors), + conformance.json
#   3 bench.txt        ss2d bench: scan S1..S5, scan-backward S1..S5 (beside the forward, device events, workspace
#                      bytes) and the VMamba-T stage-1 SS2D/VSS blocks on cuda, float32 and bfloat16
#   4 harness.txt      the standalone kernel harness: float64 checks, S1..S5 vs a device copy, compute-sanitizer
#   5 interop.txt      H2D/D2H from Arrow memory vs pinned, pyarrow round trip through ss2d run --backend cuda
#   6 demo.txt         ss2d demo
#   7 anchors.txt      same-run anchors, when their built modules are given (this repository builds neither):
#                      ANCHOR_MAMBA=DIR (mamba's selective_scan_cuda), ANCHOR_OFLEX=DIR (VMamba's
#                      selective_scan_cuda_oflex) and ANCHOR_VMAMBA=DIR (a VMamba checkout); see scripts/anchors/
#   8 model.txt        ss2d bench model on cuda: the nine released VMamba models at batch 128, 224x224 (fp32),
#                      VMamba-T[s1l8] with the per-layer-kind profile, in TF32 and in bfloat16 (images/s, peak device memory)
#   9 (into bench.txt) the half block/model error table on cuda (org.ss2d.bench.HalfErrorTable: 96-channel blocks at
#                      28x28 and 56x56, the small models and VMamba-T at 64x64, against the rounded and the unrounded
#                      float64 reference; every row's "within" must say yes, conformance/TOLERANCES.md)
# STEPS="1 2 3" limits the run to some steps.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
O="${OUT:-${TMPDIR:-/tmp}/ss2d-e2e}"
mkdir -p "$O"
STEPS="${STEPS:-1 2 3 4 5 6 7 8 9}"
for part in ss2d-linux-x64.tar.gz ss2d-runtime.tgz ss2d-app.tgz; do
  [[ -f dist/$part ]] && tar -xzf "dist/$part" -C dist
done
[[ -f dist/ss2d-runtime.txz ]] && tar -xJf dist/ss2d-runtime.txz -C dist
[[ -x dist/ss2d/runtime/bin/java && -x dist/ss2d/bin/ss2d ]] \
    || { echo "gpu-e2e: dist/ss2d is incomplete: carry dist/ss2d-linux-x64.tar.gz, or both parts (see the header)" >&2; exit 1; }
B=dist/ss2d/bin
want() { [[ " $STEPS " == *" $1 "* ]]; }
step() { # step N LIMIT_S FILE CMD...
  local n=$1 limit=$2 file=$3; shift 3
  want "$n" || return 0
  local t0=$SECONDS
  echo "== step $n: $* (limit ${limit}s)" | tee -a "$O/$file"
  # through bash -c, so that a step may be one of the exported functions below
  timeout "$limit" bash -c '"$@"' step "$@" >> "$O/$file" 2>&1
  local rc=$?
  echo "== step $n: exit $rc after $((SECONDS - t0)) s" | tee -a "$O/$file"
  tail -n 25 "$O/$file" | grep -v '^== step' | sed 's/^/   /'
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$B/ss2d backends

step 1 240 tests.txt $B/ss2d-test -Dss2d.require=cuda
step 2 150 conformance.txt $B/ss2d conformance --backend cpu --backend cuda --json "$O/conformance.json" --summary
bench() {
  for s in "32 768 4 3136 1" "32 768 4 3136 16" "32 1536 4 784 1" "32 3072 4 196 1" "8 2048 1 4096 16"; do
    set -- $s
    $B/ss2d bench scan --backend cuda --batch $1 --dim $2 --groups $3 --seqlen $4 --dstate $5 --json
  done
  for s in "32 768 4 3136 1" "32 768 4 3136 16" "32 1536 4 784 1" "32 3072 4 196 1" "8 2048 1 4096 16"; do
    set -- $s
    $B/ss2d bench scan-backward --backend cuda --batch $1 --dim $2 --groups $3 --seqlen $4 --dstate $5 --rounds 30 --json
  done
  $B/ss2d bench block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56 --json
  $B/ss2d bench block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56 --vss --json
  # issue 13: the same blocks with the dtype option in bfloat16, in the same run (target <= 0.6x the float32 time)
  $B/ss2d bench block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56 --dtype bfloat16 --json
  $B/ss2d bench block --backend cuda --batch 32 --d-model 96 --d-state 1 --ssm-ratio 1 --height 56 --width 56 --vss --dtype bfloat16 --json
}
export B; export -f bench
step 3 300 bench.txt bench
harness() { # its own logs go to a temporary folder (only 8 files come back from $OUT); the sanitizer summaries print here
  local logs; logs="$(mktemp -d)"
  OUT="$logs" bash backend-cuda/src/test/cuda/run-on-gpu.sh
  local rc=$?
  tail -n 5 "$logs/memcheck.log" "$logs/racecheck.log"
  return $rc
}
export -f harness
step 4 150 harness.txt harness
step 5 120 interop.txt env MIB=64,256 bash interop/scripts/gpu_interop_checks.sh
step 6 60 demo.txt $B/ss2d demo
anchors() {
  [[ -n "${ANCHOR_MAMBA:-}" ]] && python3 scripts/anchors/mamba_scan_times.py --module-dir "$ANCHOR_MAMBA" \
      --dtypes fp32 bf16 fp16 ${ANCHOR_BACKWARD:+--backward}
  [[ -n "${ANCHOR_OFLEX:-}" && -n "${ANCHOR_VMAMBA:-}" ]] && python3 scripts/anchors/vmamba_model_times.py \
      --vmamba "$ANCHOR_VMAMBA" --module-dir "$ANCHOR_OFLEX" --models ${ANCHOR_MODELS:-vmamba_tiny_s1l8}
  return 0
}
export -f anchors
[[ -n "${ANCHOR_MAMBA:-}${ANCHOR_OFLEX:-}" ]] && step 7 400 anchors.txt anchors
models() {
  # VMamba's protocol for the tiny one (50 warm-up, 30 timed calls); fewer warm-up calls for the others
  $B/ss2d bench model --backend cuda --model vmamba_tiny_s1l8 --batch 128 --warmup 50 --reps 30 --profile --json
  for m in vmamba_small_s1l20 vmamba_base_s1l20 vmamba_tiny_s2l5 vmamba_small_s2l15 vmamba_base_s2l15 \
           vanilla_vmamba_tiny vanilla_vmamba_small vanilla_vmamba_base; do
    $B/ss2d bench model --backend cuda --model $m --batch 128 --warmup 10 --reps 30 --json
  done
  SS2D_JAVA_OPTS="${SS2D_JAVA_OPTS:-} -Dss2d.cuda.tf32=true" \
    $B/ss2d bench model --backend cuda --model vmamba_tiny_s1l8 --batch 128 --warmup 50 --reps 30 --json
  # issue 13: VMamba-T with bfloat16 activations (anchor: scripts/anchors/vmamba_model_times.py --modes bf16)
  $B/ss2d bench model --backend cuda --model vmamba_tiny_s1l8 --batch 128 --warmup 50 --reps 30 --dtype bfloat16 --profile --json
}
export -f models
step 8 480 model.txt models
halftable() {
  local H=dist/ss2d FLAGS
  read -r -a FLAGS < "$H/lib/jvm.flags"
  "$H/runtime/bin/java" "${FLAGS[@]}" -Dss2d.half.backend=cuda -cp "$H/lib/*" org.ss2d.bench.HalfErrorTable blocks 0 28,56 2
  "$H/runtime/bin/java" "${FLAGS[@]}" -Dss2d.half.backend=cuda -cp "$H/lib/*" org.ss2d.bench.HalfErrorTable models 0 64 1
}
export -f halftable
step 9 300 bench.txt halftable
