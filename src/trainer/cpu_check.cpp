// The CPU the trainer runs on against the instruction sets its llama.cpp build targets (scripts/trainerRecipe.mjs
// cpuFlags, docs/trainer.md §13). ggml's CPU backend is compiled for x86-64-v3 on x64; on an older CPU its first
// AVX2 instruction would kill the process with SIGILL and no explanation, so main() asks here first.
#include "cpu_check.h"

#ifndef PRISM_CPU_VARIANT
#define PRISM_CPU_VARIANT "native"
#endif

namespace prism {

const char * cpu_variant() {
    return PRISM_CPU_VARIANT;
}

std::string cpu_missing_features() {
    std::string missing;
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    if (std::string(PRISM_CPU_VARIANT) == "x86-64-v3") {
        __builtin_cpu_init();
        const auto need = [&](bool ok, const char * name) {
            if (!ok) {
                missing += missing.empty() ? name : std::string(", ") + name;
            }
        };
        need(__builtin_cpu_supports("sse4.2"), "SSE4.2");
        need(__builtin_cpu_supports("avx"), "AVX");
        need(__builtin_cpu_supports("avx2"), "AVX2");
        need(__builtin_cpu_supports("fma"), "FMA");
        need(__builtin_cpu_supports("f16c"), "F16C");
        need(__builtin_cpu_supports("bmi2"), "BMI2");
    }
#endif
    return missing;
}

} // namespace prism
