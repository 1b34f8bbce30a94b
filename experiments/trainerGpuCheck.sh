#!/usr/bin/env bash
# One-shot GPU check of prism-trainer on a CUDA machine (run from the repository root):
#   1. builds the CUDA training libraries + trainer from the bundled source (experiments/gpuTrainerBuild.sh)
#   2. makes an F32 training copy of an F16 model (prism-trainer f32-copy)
#   3. trains the same LoRA steps on CPU, on the GPU with the F32 copy, and on the GPU with the F16 base
#      (OUT_PROD falls back to the CPU there), and reports tokens/s.
# Needs: git, cmake, g++, nvcc, the bundle (node_modules/node-llama-cpp/llama/gitRelease.bundle), node or the
# generated build recipe (.cache/gpu-recipe/cuda.sh, experiments/README.md), and the inputs in .cache/gpu-check/
# (model-f16.gguf, data.jsonl), written by `npx tsx experiments/trainerGpuInputs.ts`.
# Results go to ${OUT:-/tmp/prism-gpu-check}.
set -u
OUT=${OUT:-/tmp/prism-gpu-check}
mkdir -p "$OUT"
IN=.cache/gpu-check
JOBS=$(nproc)
{
  echo "== machine"; nproc; nvidia-smi -L 2>&1 | head -4
  for t in node git cmake g++ nvcc ninja; do printf '%s: ' "$t"; command -v "$t" || echo MISSING; done
  nvcc --version 2>&1 | tail -2
} | tee "$OUT/machine.txt"

# shellcheck source=experiments/gpuTrainerBuild.sh
source experiments/gpuTrainerBuild.sh || exit 1
"$BIN" check > "$OUT/check.jsonl" 2>"$OUT/check.err"; echo "check rc=$?"; cat "$OUT/check.jsonl"

"$BIN" f32-copy --in "$IN/model-f16.gguf" --out "$IN/model-f32.gguf" --threads "$JOBS" > "$OUT/f32copy.jsonl" 2>"$OUT/f32copy.err"
echo "f32-copy rc=$?"

run() { # name model gpu-layers threads
  local name=$1 model=$2 ngl=$3 threads=$4
  "$BIN" train --base "$model" --data "$IN/data.jsonl" --out "$OUT/$name.gguf" --threads "$threads" --ctx 512 \
    --max-steps 12 --epochs 100 --eval-fraction 0 --lr 1e-4 --gpu-layers "$ngl" --progress-interval 0 \
    > "$OUT/$name.jsonl" 2> "$OUT/$name.err"
  local rc=$?
  local last; last=$(grep '"step"' "$OUT/$name.jsonl" | tail -1)
  local done; done=$(grep '"done"' "$OUT/$name.jsonl")
  echo "$name rc=$rc last-step: $last"
  echo "$name done: $done"
  grep -m3 -i "offloaded\|CUDA0 model buffer\|error" "$OUT/$name.err"
}
run cpu-f32 "$IN/model-f32.gguf" 0 "$JOBS"
run gpu-f32 "$IN/model-f32.gguf" -1 "$JOBS"
run gpu-f16 "$IN/model-f16.gguf" -1 "$JOBS"
rm -f "$IN/model-f32.gguf"

# A bench-size model (BENCH_MODEL shape, F32, 543 MB), written on the spot: too big to carry to the machine.
if command -v python3 >/dev/null; then
  python3 experiments/trainerGpuModel.py "$IN/bench-f32.gguf" > /dev/null
  bench() { # name gpu-layers threads
    "$BIN" train --base "$IN/bench-f32.gguf" --data "$IN/data.jsonl" --out "$OUT/$1.gguf" --threads "$3" --ctx 1024 \
      --max-steps 8 --epochs 100 --eval-fraction 0 --lr 1e-4 --gpu-layers "$2" --progress-interval 0 \
      > "$OUT/$1.jsonl" 2> "$OUT/$1.err"
    echo "$1 rc=$? $(grep '"step"' "$OUT/$1.jsonl" | tail -1)"
    echo "$1 $(grep '"done"' "$OUT/$1.jsonl")"
  }
  bench bench-gpu-f32 -1 "$JOBS"
  bench bench-cpu-f32 0 "$JOBS"
  rm -f "$IN/bench-f32.gguf" "$OUT"/bench-*.gguf
fi

# keep what comes back small: one summary of the events, the tails of the logs
rm -f "$OUT"/*.gguf
for f in "$OUT"/*.jsonl; do echo "== $(basename "$f")"; cat "$f"; done > "$OUT/events.txt" 2>/dev/null
for f in "$OUT"/*.err; do echo "== $(basename "$f")"; tail -15 "$f"; done > "$OUT/stderr-tails.txt" 2>/dev/null
rm -f "$OUT"/*.jsonl "$OUT"/*.err
