// `prism-trainer inspect --base <model.gguf>`: can this build train a LoRA on the model, and on which weights?
// Reads the hyper-parameters through llama.cpp itself (a no-alloc load: no weights), so the answer is the one
// `train` would reach hours later; the host calls it before a distillation starts.
#include "events.h"
#include "gguf_io.h"

#include "llama.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <unistd.h>

namespace prism {

// Every projection the trainer can adapt, in the order the host lists them: split q/k/v and gate/up where the
// architecture has them, fused qkv (phi3, …) and a fused gate-up in ffn_up (phi3) otherwise.
static const char * const KNOWN_TARGETS[] = {"attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output",
                                             "ffn_gate", "ffn_up", "ffn_down"};

static std::string json_array(const std::vector<std::string> & xs) {
    std::string s = "[";
    for (size_t i = 0; i < xs.size(); ++i) {
        s += (i ? ",\"" : "\"") + json_escape(xs[i]) + "\"";
    }
    return s + "]";
}

int run_inspect(int argc, char ** argv) {
    std::string base;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--base") == 0) base = argv[i + 1];
        else fail(EXIT_USAGE, "usage/invalidOption", std::string("unknown inspect option ") + argv[i]);
    }
    if (argc % 2 != 0 || base.empty()) {
        fail(EXIT_USAGE, "usage/invalidOption", "usage: prism-trainer inspect --base <model.gguf>");
    }
    if (access(base.c_str(), R_OK) != 0) {
        fail(EXIT_MODEL, "model/notFound", "base model not found: " + base);
    }
    BaseInfo info;
    std::string err;
    if (!read_base_info(base, info, err)) {
        fail(EXIT_MODEL, "model/loadFailed", err);
    }
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.no_alloc = true; // metadata and tensor shapes only: no weight is read or allocated (vocab_only skips hparams)
    mp.n_gpu_layers = 0;
    mp.use_extra_bufts = false;
    mp.load_mode = LLAMA_LOAD_MODE_NONE; // no mmap: a no-alloc load maps nothing
    llama_model * model = llama_model_load_from_file(base.c_str(), mp);
    if (!model) {
        fail(EXIT_MODEL, "model/loadFailed", "llama.cpp could not load " + base + " (see stderr for the reason)");
    }
    const int n_layer = llama_model_n_layer(model);
    const int n_swa = llama_model_n_swa(model);
    const bool recurrent = llama_model_is_recurrent(model);
    const bool hybrid = llama_model_is_hybrid(model);
    const int n_ctx_train = llama_model_n_ctx_train(model);

    // Targets present as a matrix in at least one block >= 1 (block 0 is never adapted by default).
    std::set<std::string> present;
    for (const auto & t : info.tensors) {
        if (t.n_dims != 2 || t.name.rfind("blk.", 0) != 0) continue;
        const size_t dot = t.name.find('.', 4);
        if (dot == std::string::npos || std::atoi(t.name.c_str() + 4) < 1) continue;
        const std::string rest = t.name.substr(dot + 1);
        for (const char * k : KNOWN_TARGETS) {
            if (rest == std::string(k) + ".weight") present.insert(k);
        }
    }
    std::vector<std::string> targets;
    for (const char * k : KNOWN_TARGETS) {
        if (present.count(k)) targets.push_back(k);
    }

    // Patches 0002 and 0008 train attention over the plain and the sliding-window KV cache; a recurrent state has
    // no K/V to bypass, so gradients would stop there.
    std::string reason;
    if (recurrent) reason = "model/recurrent";
    else if (hybrid) reason = "model/hybrid";
    else if (targets.empty()) reason = "model/noTargets";

    Event e("inspect");
    e.str("arch", info.arch)
        .integer("nLayer", n_layer)
        .integer("nCtxTrain", n_ctx_train)
        .integer("nSwa", n_swa)
        .boolean("recurrent", recurrent)
        .boolean("hybrid", hybrid)
        .raw("targets", json_array(targets))
        .boolean("supported", reason.empty());
    if (reason.empty()) e.null("reason");
    else e.str("reason", reason);
    e.emit();
    llama_model_free(model);
    return EXIT_OK;
}

} // namespace prism
