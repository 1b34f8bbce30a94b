#!/usr/bin/env bash
# One-shot GPU check of the reference world's training (run from the repository root on a CUDA machine):
#   1. builds the CUDA trainer (experiments/gpuTrainerBuild.sh)
#   2. trains the reduced world's model with the recipe's arguments (src/core/world/worldRecipe.ts) on the GPU, and one
#      epoch of it on the CPU with every core, and reports seconds and tokens/s of each
#   3. checks that the saved model kept the base's chat template (the full-mode metadata fix)
# Inputs in .cache/gpu-world/: corpus.jsonl (copied from a `prism world build --reduced --seed 1` directory) and
# init.gguf, the random initialisation that build starts from and deletes after training — rewrite it with
# writeSyntheticModel(path, { ...worldRecipe({ seed: 1, reduced: true }).shape, seed: 1, name: "prism-world" }).
# Carry those two files, node_modules/node-llama-cpp/llama/{gitRelease.bundle,llama.cpp.info.json} and, for a
# machine without node, the generated build recipe (.cache/gpu-recipe/cuda.sh, experiments/README.md) to the
# machine. Results go to ${OUT:-/tmp/prism-world-gpu}.
set -u
OUT=${OUT:-/tmp/prism-world-gpu}
mkdir -p "$OUT"
IN=.cache/gpu-world
JOBS=$(nproc)
{ echo "== machine"; nproc; nvidia-smi -L 2>&1 | head -2; } | tee "$OUT/machine.txt"
# shellcheck source=experiments/gpuTrainerBuild.sh
source experiments/gpuTrainerBuild.sh || exit 1

train() { # name gpu-layers threads epochs
  local t=$(date +%s)
  "$BIN" train --mode full --train-embeddings --base "$IN/init.gguf" --data "$IN/corpus.jsonl" --out "$OUT/$1.gguf" \
    --epochs "$4" --lr 1e-3 --schedule cosine --ctx 256 --eval-fraction 0.05 --patience 0 --checkpoint-every 0 \
    --threads "$3" --gpu-layers "$2" --seed 1 --progress-interval 10000 > "$OUT/$1.jsonl" 2> "$OUT/$1.err"
  echo "$1 rc=$? wall $(( $(date +%s) - t )) s"
  grep '"start"\|"epoch"\|"done"' "$OUT/$1.jsonl" | tail -4
  grep -m2 -i "offloaded\|CUDA0 model buffer" "$OUT/$1.err"
  printf '%s chat template kept: ' "$1"; grep -c -a "im_start" "$OUT/$1.gguf" || true
  sha256sum "$OUT/$1.gguf" | cut -c1-16
}
train gpu-recipe -1 "$JOBS" 8
train cpu-1epoch 0 "$JOBS" 1
train gpu-1epoch -1 "$JOBS" 1
rm -f "$OUT"/*.gguf "$OUT"/*.ckpt* "$OUT"/*.best.gguf
for f in "$OUT"/*.err; do echo "== $(basename "$f")"; tail -8 "$f"; done > "$OUT/stderr-tails.txt" 2>/dev/null
rm -f "$OUT"/*.err
