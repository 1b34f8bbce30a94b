// `prism-trainer quantize` and `prism-trainer f32-copy`: both run llama.cpp's own llama_model_quantize from the
// shared library the trainer links, so llama.cpp is built once (no separate llama-quantize build).
//
// quantize: a GGUF model to Q8_0, Q4_K_M, Q4_0, Q5_K_M, Q6_K, F16 or F32, with llama_model_quantize's default
// parameters (what `llama-quantize <in> <out> <type> <threads>` does, so the output is the same file).
//
// f32-copy: dequantise a base model to an all-F32 training copy (LLAMA_FTYPE_ALL_F32, allow_requantize).
// CUDA and Vulkan run the backward matmul (OUT_PROD) only for F32 weights; with a quantized base every adapted
// weight falls back to the CPU. An adapter trained on the copy applies unchanged to the original (same names and
// shapes). Realistic up to ~1.5B parameters (6 GB).
//
// llama.cpp's quantize log, including the k-quant fallback warnings ("<tensor> - ncols N not divisible by 256 …
// falling back to …"), goes to stderr through llama.cpp's default log callback; stdout carries only our events.
#include "events.h"
#include "gguf_io.h"

#include "llama.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <strings.h>
#include <unistd.h>

namespace prism {

namespace {

struct QuantType {
    const char * name;
    llama_ftype ftype;
};

// The types the host offers (src/core/model/quantizeModel.ts), by llama-quantize's names.
const QuantType QUANT_TYPES[] = {
    {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},     {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M}, {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},
    {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},     {"F16", LLAMA_FTYPE_MOSTLY_F16},
    {"F32", LLAMA_FTYPE_ALL_F32},
};
const QuantType & F32_TYPE = QUANT_TYPES[6];

// llama_model_quantize blocks until done and cannot be interrupted, so SIGINT/SIGTERM (the host's cancel, or the
// parent-death signal set in main.cpp) end the process here: remove the temp file, say why, exit. Only
// async-signal-safe calls; the path and both event lines are prepared before the handler is installed.
char g_signal_tmp[4096];
const char SIGINT_EVENT[] =
    "{\"v\":1,\"event\":\"error\",\"code\":\"cancelled\",\"message\":\"interrupted (SIGINT)\",\"exitCode\":130}\n";
const char SIGTERM_EVENT[] =
    "{\"v\":1,\"event\":\"error\",\"code\":\"cancelled\",\"message\":\"terminated (SIGTERM)\",\"exitCode\":143}\n";

void on_quantize_signal(int sig) {
    if (g_signal_tmp[0] != '\0') {
        unlink(g_signal_tmp);
    }
    const bool interrupted = sig == SIGINT;
    ssize_t ignored = write(STDOUT_FILENO, interrupted ? SIGINT_EVENT : SIGTERM_EVENT,
                            interrupted ? sizeof(SIGINT_EVENT) - 1 : sizeof(SIGTERM_EVENT) - 1);
    (void) ignored;
    _exit(interrupted ? EXIT_SIGINT : EXIT_SIGTERM);
}

// Writes `in` as `type` to `out` atomically: llama_model_quantize writes `<out>.partial-<pid>`, which is fsynced and
// renamed over `out` (commit_file); a failure or signal removes it. Emits `saved` and `done`.
int quantize_file(const std::string & in, const std::string & out, const QuantType & type, int threads,
                  bool allow_requantize) {
    if (access(in.c_str(), R_OK) != 0) {
        fail(EXIT_MODEL, "model/notFound", "model not found: " + in);
    }
    const std::string tmp = temp_path_for(out);
    if (tmp.size() >= sizeof(g_signal_tmp)) {
        fail(EXIT_USAGE, "usage/invalidOption", "output path too long: " + out);
    }
    register_cleanup(tmp);
    memcpy(g_signal_tmp, tmp.c_str(), tmp.size() + 1);
    signal(SIGINT, on_quantize_signal);
    signal(SIGTERM, on_quantize_signal);
    // Create the temp file first, so an unwritable destination is an io/writeFailed and not a quantize failure.
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fail(EXIT_TRAIN, "io/writeFailed", "cannot write " + tmp + ": " + strerror(errno));
    }
    close(fd);

    llama_backend_init();
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.nthread = threads;
    qp.ftype = type.ftype;
    qp.allow_requantize = allow_requantize;
    if (llama_model_quantize(in.c_str(), tmp.c_str(), &qp) != 0) {
        fail(EXIT_MODEL, "model/loadFailed",
             std::string("llama_model_quantize could not convert ") + in + " to " + type.name + " (see stderr)");
    }
    std::string err;
    if (!commit_file(tmp, out, err)) {
        fail(EXIT_TRAIN, "io/writeFailed", err);
    }
    unregister_cleanup(tmp);
    g_signal_tmp[0] = '\0';
    Event("saved").str("path", out).str("type", type.name).integer("bytes", file_size(out)).emit();
    Event("done").emit();
    return EXIT_OK;
}

} // namespace

int run_quantize(int argc, char ** argv) {
    const char * usage =
        "usage: prism-trainer quantize --in <model.gguf> --out <quantized.gguf> --type Q8_0|Q4_K_M|Q4_0|Q5_K_M|Q6_K|F16|F32 "
        "--threads N [--allow-requantize]";
    std::string in, out, type_name;
    int threads = 0;
    bool allow_requantize = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--allow-requantize") == 0) {
            allow_requantize = true;
            continue;
        }
        if (i + 1 >= argc) {
            fail(EXIT_USAGE, "usage/invalidOption", usage);
        }
        if (strcmp(argv[i], "--in") == 0) in = argv[++i];
        else if (strcmp(argv[i], "--out") == 0) out = argv[++i];
        else if (strcmp(argv[i], "--type") == 0) type_name = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else fail(EXIT_USAGE, "usage/invalidOption", std::string("unknown quantize option ") + argv[i]);
    }
    if (in.empty() || out.empty() || type_name.empty() || threads < 1) {
        fail(EXIT_USAGE, "usage/invalidOption", usage);
    }
    for (const QuantType & t : QUANT_TYPES) {
        if (strcasecmp(t.name, type_name.c_str()) == 0) {
            return quantize_file(in, out, t, threads, allow_requantize);
        }
    }
    fail(EXIT_USAGE, "usage/invalidOption",
         "unknown quantization type " + type_name + " (Q8_0, Q4_K_M, Q4_0, Q5_K_M, Q6_K, F16 or F32)");
}

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
    // allow_requantize: required to convert from a quantized type
    return quantize_file(in, out, F32_TYPE, threads, /*allow_requantize=*/true);
}

} // namespace prism
