// LoRA mode set-up: a fresh adapter (or --init / a checkpoint), loaded through llama.cpp and marked trainable.
#include "trainer.h"

#include "events.h"

#include "llama-adapter.h" // internal: the adapter's A/B tensors, to mark them trainable (the one internal header)

#include <algorithm>
#include <cmath>
#include <random>
#include <unistd.h>

namespace prism {

// A fresh adapter: A uniform in ±1/sqrt(n_in) (Kaiming-uniform as in PEFT), B zero, so training starts at the base.
static void fresh_lora(Trainer & t) {
    const int n_layer = llama_model_n_layer(t.model);
    const int last = t.opt.layer_last < 0 ? n_layer - 1 : std::min(t.opt.layer_last, n_layer - 1);
    std::mt19937 rng(t.opt.seed);
    t.lora.arch = t.base.arch;
    t.lora.alpha = t.opt.alpha;
    for (const auto & target : t.opt.targets) {
        int found = 0;
        for (int il = t.opt.layer_first; il <= last; ++il) {
            const std::string name = "blk." + std::to_string(il) + "." + target + ".weight";
            auto it = std::find_if(t.base.tensors.begin(), t.base.tensors.end(), [&](const TensorShape & s) { return s.name == name; });
            if (it == t.base.tensors.end()) {
                continue;
            }
            if (it->n_dims != 2) {
                fail(EXIT_USAGE, "usage/invalidTarget", name + " is not a matrix");
            }
            ++found;
            LoraPair p;
            p.base = name;
            p.n_in = it->ne0;
            p.n_out = it->ne1;
            p.rank = t.opt.rank;
            p.a.resize((size_t) p.n_in * p.rank);
            p.b.assign((size_t) p.rank * p.n_out, 0.0f);
            std::uniform_real_distribution<float> u(-1.0f / std::sqrt((float) p.n_in), 1.0f / std::sqrt((float) p.n_in));
            for (auto & x : p.a) {
                x = u(rng);
            }
            t.lora.pairs.push_back(std::move(p));
        }
        if (found == 0) {
            fail(EXIT_USAGE, "usage/invalidTarget", "target " + target + " matches no tensor blk.N." + target +
                 ".weight in blocks " + std::to_string(t.opt.layer_first) + ".." + std::to_string(last));
        }
    }
}

void setup_lora(Trainer & t, const std::string & init_path) {
    std::string err;
    if (!init_path.empty()) {
        if (!read_lora(init_path, t.lora, err)) {
            fail(EXIT_MODEL, "adapter/loadFailed", err);
        }
        if (t.lora.arch != t.base.arch) {
            fail(EXIT_MODEL, "adapter/archMismatch", "adapter " + init_path + " is for architecture '" + t.lora.arch +
                 "', the base model is '" + t.base.arch + "'");
        }
        if (!t.opt.allow_layer0) {
            for (const auto & p : t.lora.pairs) {
                if (p.base.rfind("blk.0.", 0) == 0) {
                    fail(EXIT_USAGE, "usage/layer0", "adapter " + init_path + " adapts block 0 (" + p.base + ")");
                }
            }
        }
    } else {
        fresh_lora(t);
    }
    // llama.cpp loads adapters from files only: write the initial state to a temp file, load it, delete it.
    const std::string tmp = temp_path_for(t.opt.out) + ".init.gguf";
    register_cleanup(tmp);
    if (write_lora_atomic(tmp, t.lora, {}, err) < 0) {
        fail(EXIT_TRAIN, "io/writeFailed", err);
    }
    llama_adapter_lora * adapter = llama_adapter_lora_init(t.model, tmp.c_str());
    unlink(tmp.c_str());
    unregister_cleanup(tmp);
    if (!adapter) {
        fail(EXIT_MODEL, "adapter/loadFailed", "llama.cpp rejected the adapter (see stderr for the reason)");
    }
    for (const auto & p : t.lora.pairs) {
        auto it = adapter->ab_map.find(p.base);
        if (it == adapter->ab_map.end() || !it->second.a || !it->second.b) {
            fail(EXIT_MODEL, "adapter/loadFailed", "adapter tensor " + p.base + " missing after load");
        }
        ggml_set_param(it->second.a);
        ggml_set_param(it->second.b);
        t.live_a.push_back(it->second.a);
        t.live_b.push_back(it->second.b);
        t.trainable_params += (int64_t) (p.a.size() + p.b.size());
    }
    float scale = 1.0f;
    if (llama_set_adapters_lora(t.ctx, &adapter, 1, &scale) != 0) {
        fail(EXIT_MODEL, "adapter/loadFailed", "cannot attach the adapter to the context");
    }
}

} // namespace prism
