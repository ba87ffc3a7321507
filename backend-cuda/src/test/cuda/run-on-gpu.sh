#!/usr/bin/env bash
# One call on the GPU machine: build the harness there, check every kernel against float64 (the fused SS2D scan too),
# time S1..S5 (and the fused scan at batch 32, 96 channels, 56x56) against a device-to-device copy, run compute-sanitizer memcheck and racecheck on
# small shapes, and list what the committed fatbin holds. Logs go to $OUT (or ./gpu-out).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/gpu-out}; mkdir -p "$out"
fatbin=$here/../../main/fatbin/ss2d_kernels.fatbin
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
nvcc --version | tail -1
cuobjdump --list-elf --list-ptx "$fatbin" 2>&1 | grep -o "s\?m_[0-9a-z]*\.\(cubin\|ptx\)\|compute_[0-9a-z]*\.ptx" | sort | uniq -c | tee "$out/fatbin-contents.txt"
harness=$(mktemp -d)/harness   # built for this machine's GPU, outside the checkout
nvcc -O3 -std=c++17 -arch=sm_90 -lineinfo -o "$harness" "$here/harness.cu" -lcuda || exit 2
"$harness" --fatbin "$fatbin" "$@" 2>&1 | tee "$out/harness.log"
rc=${PIPESTATUS[0]}
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 9 "$harness" --small > "$out/$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $? ($(grep -c '^ok' "$out/$tool.log") ok, $(grep -c '^FAIL' "$out/$tool.log") FAIL); $(tail -1 "$out/$tool.log")"
done
exit $rc
