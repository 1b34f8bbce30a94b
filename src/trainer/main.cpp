// prism-trainer: trains the PRISM LoRA (or fully fine-tunes a small model) with llama.cpp's ggml-opt, built from
// node-llama-cpp's bundled llama.cpp source plus the patches in patches/. See README.md for the CLI contract.
#include "cpu_check.h"
#include "events.h"

#include "ggml.h"
#include "llama.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#if defined(__linux__)
#include <csignal>
#include <sys/prctl.h>
#endif

namespace prism {
int run_train(int argc, char ** argv);
int run_check(int argc, char ** argv);
int run_f32_copy(int argc, char ** argv);
int run_quantize(int argc, char ** argv);
int run_inspect(int argc, char ** argv);
} // namespace prism

static void on_ggml_abort(const char * message) {
    // GGML_ASSERT/GGML_ABORT: tell the host why before the process aborts (exit 134)
    prism::run_cleanups();
    prism::Event("error").str("code", "native/abort").str("message", message ? message : "").integer("exitCode", 134).emit();
}

static void usage() {
    fprintf(stderr,
            "usage: prism-trainer train --base <model.gguf> --data <samples.jsonl> --out <file.gguf> --threads N [options]\n"
            "       prism-trainer check [--expect-release <tag>]\n"
            "       prism-trainer quantize --in <model.gguf> --out <quantized.gguf> --type Q8_0|Q4_K_M|Q4_0|Q5_K_M|Q6_K|F16|F32\n"
            "                              --threads N [--allow-requantize]\n"
            "       prism-trainer f32-copy --in <model.gguf> --out <f32.gguf> --threads N\n"
            "       prism-trainer inspect --base <model.gguf>\n"
            "       prism-trainer --version\n"
            "See src/trainer/README.md for all options, the JSON-lines events on stdout and the exit codes.\n");
}

int main(int argc, char ** argv) {
    ggml_set_abort_callback(on_ggml_abort);
#if defined(__linux__)
    // The host starts us in our own process group (so cancelling reaches everything we spawn); if the host itself
    // is killed (SIGKILL, OOM), nothing would stop us and a resumed job would run a second trainer on the same
    // files. Ask the kernel for SIGTERM when the parent dies; SIGTERM is our clean-cancel path. The parent may
    // already be gone by the time this runs, so check once more.
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        raise(SIGTERM);
    }
#endif
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? prism::EXIT_USAGE : prism::EXIT_OK;
    }
    const std::string cmd = argv[1];
    if (cmd == "--version") {
        printf("prism-trainer (llama.cpp %s, %s, %s, patches %s, cpu %s)\n", PRISM_LLAMA_RELEASE, PRISM_LLAMA_COMMIT,
               PRISM_BACKEND, PRISM_PATCHES, prism::cpu_variant());
        return prism::EXIT_OK;
    }
    // Before any ggml code: on a CPU without the build's instruction sets its first one would be a bare SIGILL.
    const std::string missing = prism::cpu_missing_features();
    if (!missing.empty()) {
        prism::fail(prism::EXIT_CPU, "trainer/cpuUnsupported",
                    std::string("this CPU lacks ") + missing + ", which this prism-trainer build (" +
                        prism::cpu_variant() + ") needs; build one for this CPU with PRISM_TRAINER_CPU=native npm run build:trainer");
    }
    if (cmd == "train") {
        return prism::run_train(argc - 2, argv + 2);
    }
    if (cmd == "check") {
        return prism::run_check(argc - 2, argv + 2);
    }
    if (cmd == "inspect") {
        return prism::run_inspect(argc - 2, argv + 2);
    }
    if (cmd == "quantize") {
        return prism::run_quantize(argc - 2, argv + 2);
    }
    if (cmd == "f32-copy") {
        return prism::run_f32_copy(argc - 2, argv + 2);
    }
    usage();
    prism::fail(prism::EXIT_USAGE, "usage/unknownCommand", "unknown command " + cmd);
}
