// Which CPU instruction sets the build targets, and whether this CPU has them (cpu_check.cpp).
#pragma once

#include <string>

namespace prism {

// The variant the llama.cpp build was compiled for: "x86-64-v3", "armv8-a", or "native" for a local build.
const char * cpu_variant();
// The instruction sets the variant needs that this CPU lacks, comma-separated; empty when it has them all.
std::string cpu_missing_features();

} // namespace prism
