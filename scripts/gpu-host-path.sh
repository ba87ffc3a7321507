#!/usr/bin/env bash
# Where a CUDA scan's time goes on the GPU host (backend-cuda/README.md, "Host path of an op"):
#   bash scripts/gpu-host-path.sh            (from the repository root or a copy with dist/; ~1-2 minutes)
# 1. `ss2d bench scan` S1, S3, S4 (float32) on a quiet machine: per shape median_ms (CUDA events around one call),
#    host_us (the host part of those calls), queued_ms (events around 10 calls back to back, per call) and
#    wall_ms (one call plus a stream sync). Expected: host_us ~10 us; median_ms within ~0.02 ms of queued_ms and
#    of the harness's kernel time (H100: S1 0.333, S3 0.176, S4 0.093 ms).
# 2. S1 and S4 again while every core runs a busy loop, as when the anchors (mamba, VMamba) build beside the
#    benchmarks: if host_us and median_ms grow there by ~0.1-0.2 ms while queued_ms stays, a run with a busy
#    host explains the gap of 2026-12-06 (docs/gpu-runs/2026-12-06*), not the engine.
# Nothing else may run on the machine during step 1 (the script prints the load and the busiest processes).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x dist/ss2d/bin/ss2d ]] || tar -xzf dist/ss2d-linux-x64.tar.gz -C dist
B=dist/ss2d/bin
echo "cores $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
ps -eo pcpu,comm --sort=-pcpu | head -6
scan() { # scan LABEL B D G L N
  local label=$1; shift
  local line
  line=$("$B/ss2d" bench scan --backend cuda --batch "$1" --dim "$2" --groups "$3" --seqlen "$4" --dstate "$5" --json \
      | grep '^{' | tail -1)
  python3 -c 'import json, sys
d = json.loads(sys.argv[2])
f = lambda k: "%.4f" % d[k] if isinstance(d.get(k), (int, float)) else str(d.get(k))
print(sys.argv[1], "median_ms", f("median_ms"), "queued_ms", f("queued_ms"), "host_us", "%.1f" % d["host_us"],
      "wall_ms", f("wall_ms"), "min_ms", f("min_ms"), "host_load", f("host_load"))' "$label" "$line" || echo "$label: no result ($line)"
}
echo "== quiet"
scan S1 32 768 4 3136 1
scan S3 32 1536 4 784 1
scan S4 32 3072 4 196 1
echo "== every core busy ($(nproc) busy loops)"
pids=()
for _ in $(seq "$(nproc)"); do
  (while :; do :; done) &
  pids+=($!)
done
scan S1-busy 32 768 4 3136 1
scan S4-busy 32 3072 4 196 1
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
