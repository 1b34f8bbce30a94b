# Sourced by the GPU check scripts (run from the repository root, with OUT and JOBS set): builds the CUDA training
# libraries and prism-trainer from the bundled llama.cpp source — with scripts/buildTrainer.mjs when node is there,
# else by hand with the same recipe — and sets BIN to the binary. Writes build.txt (and logs on failure) to $OUT.
t0=$(date +%s)
if command -v node >/dev/null; then
  PRISM_TRAINER_CUDA_ARCH=${PRISM_TRAINER_CUDA_ARCH:-native} \
    node scripts/buildTrainer.mjs --backend cuda --jobs "$JOBS" 2>&1 | tail -20 | tee "$OUT/build.txt"
  BIN=$(PRISM_TRAINER_BACKEND=cuda node scripts/buildTrainer.mjs --print-path) || {
    echo "no binary"; tail -60 .cache/trainer/*/build.log > "$OUT/build.log.tail" 2>/dev/null; exit 1; }
else
  # no node: the same recipe as scripts/buildTrainer.mjs, by hand
  W=.cache/trainer/manual-cuda; rm -rf "$W"; mkdir -p "$W"
  git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle "$W/src" && for p in src/trainer/patches/*.patch; do git -C "$W/src" apply "$(pwd)/$p" || exit 1; done
  cmake -S "$W/src" -B "$W/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_CUDA=ON -DGGML_CUDA_FA=OFF -DGGML_CUDA_NCCL=OFF -DCMAKE_CUDA_ARCHITECTURES=${PRISM_TRAINER_CUDA_ARCH:-native} > "$OUT/cmake.txt" 2>&1 || { tail -30 "$OUT/cmake.txt"; exit 1; }
  cmake --build "$W/build" --target llama -j "$JOBS" > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
  mkdir -p "$W/include" "$W/bin"; cp "$W"/src/include/*.h "$W"/src/ggml/include/*.h "$W/src/src/llama-adapter.h" "$W/include/"
  L="$W/build/bin"
  g++ -std=c++17 -O2 -I"$W/include" -DPRISM_LLAMA_RELEASE='"v0.4.0"' -DPRISM_LLAMA_COMMIT='"manual"' -DPRISM_BACKEND='"cuda"' \
    -DPRISM_PATCHES='"0001,0002,0003,0004,0005"' src/trainer/*.cpp "$L/libllama.so" "$L/libggml.so" "$L/libggml-base.so" \
    "$L/libggml-cpu.so" -Wl,-rpath,"$(pwd)/$L" -lpthread -o "$W/bin/prism-trainer" || exit 1
  BIN="$W/bin/prism-trainer"
fi
echo "build seconds: $(( $(date +%s) - t0 ))" | tee -a "$OUT/build.txt"
