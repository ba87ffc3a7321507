#!/usr/bin/env bash
# Puts ss2d_kernels.fatbin (+ .sha256 of its sources and flags) into OUTDIR/org/ss2d/cuda.
#   backend-cuda/build-fatbin.sh OUTDIR [auto|build|skip] [--update-committed]
# auto (default): copy the committed src/main/fatbin/ss2d_kernels.fatbin when its recorded hash matches
#       the current sources (no nvcc run: a fresh clone needs no CUDA toolkit and no 2 minutes of nvcc);
#       when the sources changed, compile them with nvcc (13.x, on PATH or in /usr/local/cuda/bin), or
#       stop and say how to rebuild when there is no nvcc.
# build: always compile with nvcc (Maven: -Dss2d.nvcc=build); fails without nvcc.
# skip: never call nvcc (the committed fatbin, same hash check).
# --update-committed: compile, then also replace the committed fatbin and its hash.
# Run by Maven in process-resources (exec-maven-plugin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
outdir=${1:?usage: build-fatbin.sh OUTDIR [auto|build|skip] [--update-committed]}/org/ss2d/cuda
mode=${2:-auto}
update=${3:-}
src=$here/src/main/cuda
committed=$here/src/main/fatbin/ss2d_kernels.fatbin
# SASS for Ampere, Ampere (GA10x), Ada and Hopper; PTX for compute_90 so newer GPUs JIT it.
flags="-O3 -std=c++17 -fatbin -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
hash=$( { for f in $(cd "$src" && ls | LC_ALL=C sort); do echo "== $f"; cat "$src/$f"; done; echo "== flags $flags"; } | sha256sum | cut -d' ' -f1)
recorded=$(cat "$committed.sha256" 2>/dev/null || echo none)
mkdir -p "$outdir"

nvcc=$(command -v nvcc || true)
[[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc

use_committed() {  # $1: why nvcc is not run
  cp "$committed" "$outdir/ss2d_kernels.fatbin"
  echo "$hash" > "$outdir/ss2d_kernels.fatbin.sha256"
  echo "fatbin: using the committed ss2d_kernels.fatbin (sources hash ${hash:0:12} matches; $1)"
}

# auto: the committed fatbin whenever it matches the sources (a fresh clone builds in seconds, with or
# without nvcc); nvcc only when the sources changed. build: always nvcc. skip: never nvcc.
if [[ "$mode" == auto && "$recorded" == "$hash" && "$update" != --update-committed ]]; then
  use_committed "nvcc not run: not needed; -Dss2d.nvcc=build compiles the kernels anyway"
  exit 0
fi
if [[ "$mode" != skip && -n "$nvcc" ]]; then
  if [[ "$mode" != build && -f "$outdir/ss2d_kernels.fatbin" && "$(cat "$outdir/ss2d_kernels.fatbin.sha256" 2>/dev/null)" == "$hash" ]]; then
    echo "fatbin: target/classes already has ss2d_kernels.fatbin for these sources (${hash:0:12})"
  else
    echo "fatbin: nvcc is compiling the kernels for sm_80/86/89/90 (about 2 minutes; $("$nvcc" --version | tail -1))"
    # shellcheck disable=SC2086
    "$nvcc" $flags -o "$outdir/ss2d_kernels.fatbin" "$src/ss2d_kernels.cu"
    echo "$hash" > "$outdir/ss2d_kernels.fatbin.sha256"
  fi
  if [[ "$update" == --update-committed ]]; then
    cp "$outdir/ss2d_kernels.fatbin" "$committed"; echo "$hash" > "$committed.sha256"
    echo "updated the committed fatbin; commit backend-cuda/src/main/fatbin"
  elif [[ "$recorded" != "$hash" ]]; then
    echo "WARNING: the committed fatbin is stale (recorded $recorded, sources $hash): machines without nvcc" \
         "would fail to build. Run backend-cuda/build-fatbin.sh backend-cuda/target/classes build --update-committed and commit it." >&2
  fi
  exit 0
fi

if [[ "$recorded" != "$hash" ]]; then
  why="no nvcc is installed"; [[ "$mode" == skip ]] && why="nvcc use is switched off (ss2d.nvcc=skip)"
  echo "ERROR: backend-cuda/src/main/cuda changed since the committed fatbin was built" \
       "(recorded sources hash $recorded, current $hash) and $why." \
       "Rebuild it on a machine with nvcc 13: backend-cuda/build-fatbin.sh backend-cuda/target/classes build --update-committed," \
       "then commit backend-cuda/src/main/fatbin." >&2
  exit 1
fi
if [[ "$mode" == skip ]]; then
  use_committed "nvcc not run: switched off with ss2d.nvcc=skip"
elif [[ "$mode" == build ]]; then
  echo "ERROR: ss2d.nvcc=build asks for nvcc, but none is on the PATH or in /usr/local/cuda/bin" >&2
  exit 1
else
  use_committed "no nvcc on this machine"
fi
