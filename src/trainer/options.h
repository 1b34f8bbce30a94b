// Command-line options of `prism-trainer train` (documented in README.md; defaults follow docs/method.md §3.5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prism {

enum class LossMode { SFT, SFT_ALL, KL };   // answer tokens only (default) | every token (upstream) | distillation
enum class Schedule { LINEAR, COSINE, CONSTANT };

struct TrainOptions {
    std::string base, data, out;
    bool full = false;                      // --mode full: train the model's own F32 tensors, save a whole model
    bool train_embeddings = false;          // full mode: also token_embd (upstream skips it)
    int rank = 16;
    float alpha = 32.0f;
    std::vector<std::string> targets = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    int layer_first = 1, layer_last = -1;   // inclusive; -1 = last block
    bool allow_layer0 = false;
    int epochs = 10;
    float lr = 2e-4f, wd = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    int warmup = -1;                        // steps; -1 = min(50, 10 % of all steps)
    Schedule schedule = Schedule::LINEAR;
    int ctx = 1024;
    float eval_fraction = 0.1f;
    int patience = 3;                       // epochs without eval improvement before stopping; 0 = never stop
    LossMode loss = LossMode::SFT;
    float kl_temperature = 2.0f;
    int threads = 0;
    int gpu_layers = 0;
    uint32_t seed = 42;
    std::string init;                       // start from this adapter instead of A random / B zero
    int checkpoint_every = 100;             // steps; 0 = only at epoch ends
    bool resume = false;
    std::string resume_path;                // default: the checkpoint next to --out
    int64_t max_steps = 0;                  // stop after this many optimizer steps in total; 0 = no limit
    bool pack = true;                       // pack several samples into one window (masked modes)
    bool cross_sample_attention = false;    // packed samples see each other (the old behaviour; for comparison)
    bool truncate = false;                  // cut samples longer than the window instead of failing
    int32_t pad_token = -1;                 // input token of masked padding positions; -1 = EOS
    int progress_interval_ms = 100;         // minimum time between two step events (first and last always sent)
};

// Parses argv after the subcommand. Exits with EXIT_USAGE and an error event on bad input.
TrainOptions parse_train_options(int argc, char ** argv);

const char * loss_name(LossMode m);

} // namespace prism
