# The benchmark shapes S1..S5 as `ss2d bench scan` arguments, one "NAME ARGS..." per entry; sourced by the GPU scripts.
SCAN_SHAPES=(
  "S1 --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 1"
  "S2 --batch 32 --dim 768 --groups 4 --seqlen 3136 --dstate 16"
  "S3 --batch 32 --dim 1536 --groups 4 --seqlen 784 --dstate 1"
  "S4 --batch 32 --dim 3072 --groups 4 --seqlen 196 --dstate 1"
  "S5 --batch 8 --dim 2048 --groups 1 --seqlen 4096 --dstate 16"
)
