// `prism-trainer f32-copy`: dequantise a base model to an all-F32 training copy with llama_model_quantize.
// CUDA and Vulkan run the backward matmul (OUT_PROD) only for F32 weights; with a quantized base every adapted
// weight falls back to the CPU. An adapter trained on the copy applies unchanged to the original (same names and
// shapes). Realistic up to ~1.5B parameters (6 GB).
#include "events.h"
#include "gguf_io.h"

#include "llama.h"

#include <cstring>
#include <string>
#include <unistd.h>

namespace prism {

int run_f32_copy(int argc, char ** argv) {
    std::string in, out;
    int threads = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--in") == 0) in = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0) out = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else fail(EXIT_USAGE, "usage/invalidOption", std::string("unknown f32-copy option ") + argv[i]);
    }
    if (argc % 2 != 0 || in.empty() || out.empty() || threads < 1) {
        fail(EXIT_USAGE, "usage/invalidOption", "usage: prism-trainer f32-copy --in <model.gguf> --out <f32.gguf> --threads N");
    }
    if (access(in.c_str(), R_OK) != 0) {
        fail(EXIT_MODEL, "model/notFound", "base model not found: " + in);
    }
    llama_backend_init();
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.nthread = threads;
    qp.ftype = LLAMA_FTYPE_ALL_F32;
    qp.allow_requantize = true; // required to convert from a quantized type
    const std::string tmp = temp_path_for(out);
    register_cleanup(tmp);
    if (llama_model_quantize(in.c_str(), tmp.c_str(), &qp) != 0) {
        fail(EXIT_MODEL, "model/loadFailed", "llama_model_quantize could not convert " + in + " (see stderr)");
    }
    std::string err;
    if (!commit_file(tmp, out, err)) {
        fail(EXIT_TRAIN, "io/writeFailed", err);
    }
    unregister_cleanup(tmp);
    Event("saved").str("path", out).integer("bytes", file_size(out)).emit();
    Event("done").emit();
    return EXIT_OK;
}

} // namespace prism
