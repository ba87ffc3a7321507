#!/usr/bin/env bash
# Regenerates the committed FFM bindings in bindings/src/main/java/org/ss2d/bindings/{cuda,cublas}.
# It RUNS jextract; it does not build or download it (see bindings/README.md for how we got one).
#
#   bindings/generate-bindings.sh /path/to/jextract [CUBLAS_INCLUDE_DIR]
#
# CUDA_INCLUDE (default /usr/local/cuda/include) must hold cuda.h of CUDA 13.0; CUBLAS_INCLUDE_DIR
# (default $CUDA_INCLUDE) must hold cublas_v2.h / cublas_api.h of cuBLAS 13. The versions are
# pinned: the script stops if the headers differ, because the symbol names in the filter files
# (cuMemAlloc_v2, cublasSgemm_v2, ...) follow those headers' macro redirections.
# The generated sources are never edited by hand; anything extra goes in the facade
# (org.ss2d.bindings.CudaDriver / Cublas).
set -euo pipefail
jextract=${1:?usage: generate-bindings.sh /path/to/jextract [cublas include dir]}
here=$(cd "$(dirname "$0")" && pwd)
cuda_inc=${CUDA_INCLUDE:-/usr/local/cuda/include}
cublas_inc=${2:-$cuda_inc}
want_cuda=13000
want_cublas=13

got_cuda=$(sed -n 's/^#define CUDA_VERSION \([0-9]*\).*/\1/p' "$cuda_inc/cuda.h")
[[ "$got_cuda" == "$want_cuda" ]] || { echo "cuda.h in $cuda_inc is CUDA_VERSION $got_cuda, the filter is for $want_cuda" >&2; exit 1; }
got_cublas=$(sed -n 's/^#define CUBLAS_VER_MAJOR \([0-9]*\).*/\1/p' "$cublas_inc/cublas_api.h")
[[ "$got_cublas" == "$want_cublas" ]] || { echo "cublas_api.h in $cublas_inc is major $got_cublas, the filter is for $want_cublas" >&2; exit 1; }

out=$here/src/main/java
filter() { grep -v '^#' "$1" | grep -v '^[[:space:]]*$'; }

rm -rf "$out/org/ss2d/bindings/cuda" "$out/org/ss2d/bindings/cublas"
# shellcheck disable=SC2046
"$jextract" --output "$out" -t org.ss2d.bindings.cuda --header-class-name CudaH -l :libcuda.so.1 \
  -I "$cuda_inc" $(filter "$here/cuda-includes.txt") "$cuda_inc/cuda.h"
# shellcheck disable=SC2046
"$jextract" --output "$out" -t org.ss2d.bindings.cublas --header-class-name CublasH -l :libcublas.so.13 \
  -I "$cuda_inc" -I "$cublas_inc" $(filter "$here/cublas-includes.txt") "$cublas_inc/cublas_v2.h"
echo "generated from CUDA_VERSION $got_cuda and cuBLAS $got_cublas.x with $("$jextract" --version 2>&1 | head -1)"
