#!/usr/bin/env bash
# The interop checks that need the GPU machine, in one call (about 2 minutes):
#   1. h2d_baseline.py       PyTorch/pyarrow bandwidth: pageable, cudaHostAlloc, Arrow buffer +/- cudaHostRegister
#   2. TransferBenchmark     the same through the engine's Backend SPI (copy, pin) on the cuda backend
#   3. roundtrip.py          pyarrow -> ss2d run --backend cuda -> pyarrow, NumPy float64 check
#
#   MIB=64,256,1024 bash interop/scripts/gpu_interop_checks.sh
#
# Java comes from a JDK 25 if there is one, else from the jlinked bundle (./ss2d bundle -> dist/ss2d or
# dist/ss2d-linux-x64.tar.gz, carried to the machine); the jars from cli/target/ss2d/lib or dist/ss2d/lib;
# the JVM flags from the jvm.flags file beside them (the parent pom's ss2d.jvm.flags).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
MIB="${MIB:-64,256,1024}"

# A carried bundle tarball (./ss2d bundle -> dist/ss2d-linux-x64.tar.gz) is unpacked first.
if [[ ! -d dist/ss2d && -f dist/ss2d-linux-x64.tar.gz ]]; then
  tar -xzf dist/ss2d-linux-x64.tar.gz -C dist && echo "unpacked dist/ss2d-linux-x64.tar.gz: $(ls dist)"
fi
JAVA=""
for c in "${JAVA_HOME:-}" /usr/lib/jvm/*25* dist/ss2d dist/ss2d/runtime dist/ss2d/jre; do
  [[ -n "$c" && -x "$c/bin/java" ]] && { JAVA="$c/bin/java"; break; }
done
[[ -z "$JAVA" ]] && JAVA="$(find dist -path '*/bin/java' -type f 2>/dev/null | head -n 1)"
LIB=""
for d in cli/target/ss2d/lib dist/ss2d/lib; do [[ -d "$d" ]] && { LIB="$d"; break; }; done
FLAGS_FILE=""
for f in cli/target/ss2d/jvm.flags dist/ss2d/lib/jvm.flags $(find dist -name jvm.flags 2>/dev/null | head -n 1); do
  [[ -f "$f" ]] && { FLAGS_FILE="$f"; break; }
done
echo "java: ${JAVA:-none}  lib: ${LIB:-none}  flags: ${FLAGS_FILE:-none}"
nvidia-smi -L

status=0
echo "== 1. bandwidth baseline (PyTorch, pyarrow)"
PYTHONDONTWRITEBYTECODE=1 python3 interop/scripts/h2d_baseline.py 256 20 || status=1

if [[ -n "$JAVA" && -n "$LIB" && -n "$FLAGS_FILE" ]]; then
  read -r -a FLAGS < "$FLAGS_FILE"
  echo "== 2. TransferBenchmark through the Backend SPI (cuda)"
  "$JAVA" "${FLAGS[@]}" -cp "$LIB/*" org.ss2d.interop.transfer.TransferBenchmark --backend cuda --mib "$MIB" --reps 20 \
    2>&1 | grep -v '^WARNING: Using incubator modules' || status=1
  echo "== 3. pyarrow round trip on the cuda backend"
  SS2D_CMD="$JAVA ${FLAGS[*]} -cp $LIB/* org.ss2d.cli.Main"
  PYTHONDONTWRITEBYTECODE=1 python3 interop/scripts/roundtrip.py --ss2d "$SS2D_CMD" --backend cuda || status=1
else
  echo "no Java 25 and jars here: carry a bundle (./ss2d bundle; carry [\"dist\"]) for steps 2 and 3"
  status=1
fi
exit $status
