# Sourced by the GPU check scripts (run from the repository root, with OUT and JOBS set): builds the CUDA training
# libraries and prism-trainer from the bundled llama.cpp source and sets BIN to the binary. Writes build.txt (and
# logs on failure) to $OUT.
#   with node:    scripts/buildTrainer.mjs --backend cuda (cached under .cache/trainer/<key>/)
#   without node: the same build as a shell script, generated beforehand where node is (experiments/README.md):
#                   node scripts/buildTrainer.mjs --backend cuda --print-recipe > .cache/gpu-recipe/cuda.sh
#                 (PRISM_TRAINER_RECIPE names another file; PRISM_GPU_BUILD=recipe uses it even where node is)
t0=$(date +%s)
RECIPE=${PRISM_TRAINER_RECIPE:-.cache/gpu-recipe/cuda.sh}
if command -v node >/dev/null && [ "${PRISM_GPU_BUILD:-}" != recipe ]; then
  PRISM_TRAINER_CUDA_ARCH=${PRISM_TRAINER_CUDA_ARCH:-native} \
    node scripts/buildTrainer.mjs --backend cuda --jobs "$JOBS" 2>&1 | tail -20 | tee "$OUT/build.txt"
  BIN=$(PRISM_TRAINER_BACKEND=cuda node scripts/buildTrainer.mjs --print-path) || {
    echo "no binary"; tail -60 .cache/trainer/*/build.log > "$OUT/build.log.tail" 2>/dev/null; exit 1; }
elif [ -f "$RECIPE" ]; then
  echo "building with $RECIPE ($(sed -n 2p "$RECIPE"))" | tee "$OUT/build.txt"
  JOBS=$JOBS sh "$RECIPE" > "$OUT/build.log" 2>&1 || { echo "recipe failed:"; tail -40 "$OUT/build.log"; exit 1; }
  BIN=$(tail -1 "$OUT/build.log")
else
  echo "no node and no $RECIPE: generate it where node is (experiments/README.md)"; exit 1
fi
echo "build seconds: $(( $(date +%s) - t0 ))" | tee -a "$OUT/build.txt"
