// The `train` subcommand: state shared by setup (train.cpp), the epoch loop and its callbacks (loop.cpp) and
// checkpoints (checkpoint.cpp).
#pragma once

#include "data.h"
#include "gguf_io.h"
#include "options.h"

#include "ggml-opt.h"
#include "llama.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace prism {

struct Trainer {
    TrainOptions opt;
    Data data;
    Windows win;
    BaseInfo base;
    uint32_t n_ctx_train_orig = 0;
    int32_t n_vocab = 0;

    llama_model * model = nullptr;
    llama_context * ctx = nullptr;

    // LoRA mode: host copy (names, shapes, values at init/save) and the live tensors of the loaded adapter
    LoraFile lora;
    std::vector<ggml_tensor *> live_a, live_b;
    int64_t trainable_params = 0;

    // windows: which are held out, per-split mean of trained positions (the label weights)
    std::vector<int64_t> train_windows, eval_windows;
    double mean_answer_train = 1.0, mean_answer_eval = 1.0;

    // the dataset of the current llama_opt_epoch call: window ids in dataset order, train ones first
    std::vector<int64_t> order;
    int64_t order_train = 0;
    int64_t label_calls = 0;
    int64_t batch_calls = 0;    // patch 0006 callbacks in the current llama_opt_epoch call
    std::vector<float> staging; // label rows for non-host label buffers
    int32_t sparse_labels = 0;  // patch 0011: (id, weight) pairs per label row; 0 = dense rows
    int32_t output_rows = 0;    // patch 0012: positions per window that get logits (all = n_ctx)
    std::vector<uint8_t> output_mask; // patch 0012: [count * n_ctx], 1 where a position gets logits

    // progress
    int64_t step = 0;           // optimizer steps done (all runs, including before --resume)
    int64_t total_steps = 0;
    int64_t warmup = 0;
    int epoch = 0;              // 0-based epoch in progress
    int64_t epoch_step = 0;     // train windows done in the epoch in progress
    int64_t resumed_from = -1;
    float current_lr = 0.0f;
    double sum_prev = 0.0;      // ggml_opt_result running sum, to get the last batch's loss
    double epoch_loss_sum = 0.0, epoch_loss_count = 0.0;
    double eval_loss_sum = 0.0, eval_loss_count = 0.0;
    double best_eval = -1.0;    // < 0: none yet
    int best_epoch = -1;
    int bad_epochs = 0;
    double last_loss = NAN;
    int64_t t_start_us = 0, t_last_event_us = 0;
    int64_t steps_this_run = 0;
    double train_seconds = 0.0, eval_seconds_per_window = 0.0;
    bool stopped_early = false;
    std::string config_hash;

    // paths next to --out
    std::string ckpt_json() const { return opt.out + ".ckpt.json"; }
    std::string ckpt_weights(int64_t s) const { return opt.out + ".ckpt-" + std::to_string(s) + ".gguf"; }
    std::string best_path() const { return opt.out + ".best.gguf"; }

    float lr_at(int64_t s) const;
    float label_weight(int64_t dataset_index, int64_t rows) const;
};

// setup and run (train.cpp)
int run_train(int argc, char ** argv);

// LoRA mode: create or load the adapter, mark A/B trainable, attach it to the context (lora_setup.cpp)
void setup_lora(Trainer & t, const std::string & init_path);

// the epoch loop (loop.cpp)
void train_loop(Trainer & t);

// weights of the current state: write to `path` atomically; returns bytes written (checkpoint.cpp)
int64_t save_weights(Trainer & t, const std::string & path, double * sum_abs_b);
void write_checkpoint(Trainer & t);
void load_checkpoint(Trainer & t, std::string & weights_path); // reads counters; returns the weights file
void remove_checkpoints(Trainer & t);

// set by the SIGINT/SIGTERM handler, checked after every batch
extern volatile int g_cancel_signal;
[[noreturn]] void exit_cancelled();

} // namespace prism
