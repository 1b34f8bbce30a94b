// `prism-trainer train`: set-up of model, context, adapter and optimiser, following docs/trainer.md §2 with the
// gotchas of §4 handled here (G2 window size, G3 thread warm-up, G4 no repacking, G5 flash attention off and F32
// K/V, G6 F32 trainables, G8 read-back of device tensors, G9 block 0 untouched).
#include "trainer.h"

#include "events.h"
#include "json.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

// Exported by libllama but declared only in the internal llama-model.h; used to reach token_embd in full mode.
const std::vector<std::pair<std::string, ggml_tensor *>> & llama_internal_get_tensor_map(const llama_model * model);

// Patch 0006: positions and sequence ids of each training batch. Declared here, not in llama.h (see the patch);
// weak, so a build with a patch subset still links and trains with one causal stream per window.
extern "C" __attribute__((weak)) void llama_opt_set_batch_callback(llama_context * ctx,
                                                                    void (*callback)(llama_batch * batch, void * ud),
                                                                    void * ud);

// Patch 0011: label rows as k (id, weight) pairs (patch 0010's sparse loss) instead of dense [n_vocab] rows.
// Declared here, not in llama.h; weak, so a build without it still links and writes dense rows.
extern "C" __attribute__((weak)) void llama_opt_set_labels_sparse(llama_context * ctx, int32_t k);

// Patch 0012: the batch callback's batch.logits choose the positions that get logits. Declared here, weak.
extern "C" __attribute__((weak)) void llama_opt_set_batch_outputs(llama_context * ctx, bool enabled);

namespace prism {

// Patch 0012: the positions that get logits: the trained ones, topped up with untrained ones (from the end) to
// the same count in every window, the most trained positions of any window (ggml-opt takes a fixed batch size).
// Masked rows have zero labels, so the loss and gradient are those of the whole window.
static void choose_outputs(Trainer & t) {
    const int n = t.win.n_ctx;
    int32_t rows = 0;
    for (int64_t w = 0; w < t.win.count; ++w) {
        int32_t trained = 0;
        for (int i = 0; i < n; ++i) {
            trained += t.win.labels[(size_t) w * n + i] != LABEL_MASKED;
        }
        rows = std::max(rows, trained);
    }
    t.output_rows = std::max(rows, 1);
    if (t.output_rows >= n) {
        t.output_rows = n;
        return; // every position trains somewhere: nothing to skip
    }
    t.output_mask.assign((size_t) t.win.count * n, 0);
    for (int64_t w = 0; w < t.win.count; ++w) {
        const size_t base = (size_t) w * n;
        int32_t left = t.output_rows;
        for (int i = 0; i < n; ++i) {
            if (t.win.labels[base + i] != LABEL_MASKED) {
                t.output_mask[base + i] = 1;
                --left;
            }
        }
        for (int i = n - 1; i >= 0 && left > 0; --i) {
            if (!t.output_mask[base + i]) {
                t.output_mask[base + i] = 1;
                --left;
            }
        }
    }
}

volatile int g_cancel_signal = 0;

static void on_signal(int sig) {
    g_cancel_signal = sig;
}

void exit_cancelled() {
    const int sig = g_cancel_signal;
    fail(sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM, "cancelled", sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

float Trainer::lr_at(int64_t s) const {
    if (s < warmup) {
        return opt.lr * (float) (s + 1) / (float) warmup;
    }
    const double span = (double) std::max<int64_t>(1, total_steps - warmup);
    const double done = std::min(1.0, (double) (s - warmup) / span);
    switch (opt.schedule) {
        case Schedule::CONSTANT:
            return opt.lr;
        case Schedule::COSINE:
            return (float) std::max(opt.lr * 0.5 * (1.0 + std::cos(M_PI * done)), opt.lr * 1e-3);
        case Schedule::LINEAR:
        default:
            // ends one step short of zero: ggml-opt asserts a positive learning rate
            return (float) (opt.lr * (double) (total_steps - s) / span);
    }
}

float Trainer::label_weight(int64_t dataset_index, int64_t rows) const {
    // Rows are scaled so that a window's loss is (sum of its token losses) / (mean trained positions per window
    // of its split): every trained token weighs the same, and the reported losses are per-token means. ggml's
    // cross-entropy divides by its number of rows (the window, or the output rows of patch 0012).
    const double mean = dataset_index < order_train ? mean_answer_train : mean_answer_eval;
    float w = (float) (rows / std::max(mean, 1e-9));
    if (opt.loss == LossMode::KL) {
        w *= opt.kl_temperature * opt.kl_temperature; // the T^2 of the distillation loss
    }
    return w;
}

static ggml_opt_optimizer_params get_opt_pars(void * ud) {
    Trainer & t = *(Trainer *) ud;
    ggml_opt_optimizer_params p = ggml_opt_get_default_optimizer_params(nullptr);
    t.current_lr = t.lr_at(t.step);
    p.adamw.alpha = t.current_lr;
    p.adamw.beta1 = t.opt.beta1;
    p.adamw.beta2 = t.opt.beta2;
    p.adamw.eps = t.opt.eps;
    p.adamw.wd = t.opt.wd;
    return p;
}

static bool param_filter_none(const ggml_tensor *, void *) {
    return false; // LoRA mode: no base tensor is trainable; A/B are marked with ggml_set_param directly
}

// Gives every packed sample its own sequence (patch 0006 callback): positions restart at 0 and the training mask
// of patch 0002 lets a token attend only to earlier tokens of the same sequence, so what was packed before a sample
// cannot change its loss.
static void write_batch(llama_batch * batch, void * ud) {
    Trainer & t = *(Trainer *) ud;
    const size_t base = (size_t) t.order[t.batch_calls++] * t.win.n_ctx;
    for (int32_t i = 0; i < batch->n_tokens; ++i) {
        batch->pos[i] = t.win.pos[base + i];
        batch->seq_id[i][0] = t.win.seq[base + i];
        if (!t.output_mask.empty()) {
            batch->logits[i] = t.output_mask[base + i]; // patch 0012
        }
    }
}

// Writes the label rows of one window (patch 0003 callback), see data.h for the label ids. The rows are dense
// ([n_vocab] per position), or with patch 0011 sparse: k class ids (as float values) then their k weights, unused
// slots left at weight 0 (the tensor arrives zeroed).
static void write_labels(ggml_tensor * labels, const llama_token * ids, int32_t n, void * ud) {
    Trainer & t = *(Trainer *) ud;
    const float w = t.label_weight(t.label_calls++, n);
    const int64_t nv = labels->ne[0];
    const bool sparse = t.sparse_labels > 0;
    const int64_t k_max = t.sparse_labels;
    GGML_ASSERT(nv == (sparse ? 2 * k_max : t.n_vocab));
    const bool host = labels->buffer && ggml_backend_buffer_is_host(labels->buffer);
    float * rows = host ? (float *) labels->data : nullptr;
    if (!host) {
        t.staging.assign((size_t) nv * n, 0.0f);
        rows = t.staging.data();
    }
    const TeacherRows & tr = t.data.teacher;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t id = ids[i];
        float * row = rows + (size_t) i * nv;
        if (sparse) {
            if (id >= 0) {
                row[0] = (float) id;
                row[k_max] = w;
            } else if (id <= -2) {
                const int64_t r = -(int64_t) id - 2;
                GGML_ASSERT(tr.offset[r + 1] - tr.offset[r] <= k_max);
                for (int64_t k = tr.offset[r], j = 0; k < tr.offset[r + 1]; ++k, ++j) {
                    row[j] = (float) tr.ids[k];
                    row[k_max + j] = w * tr.probs[k];
                }
            }
        } else if (id >= 0) {
            row[id] = w;
        } else if (id <= -2) {
            const int64_t r = -(int64_t) id - 2;
            for (int64_t k = tr.offset[r]; k < tr.offset[r + 1]; ++k) {
                row[tr.ids[k]] += w * tr.probs[k];
            }
        }
    }
    if (!host) {
        ggml_backend_tensor_set(labels, rows, 0, t.staging.size() * sizeof(float));
    }
}

static std::string hash_config(const TrainOptions & o) {
    // FNV-1a over the data file and every option that changes the training trajectory
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](const void * p, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            h = (h ^ ((const unsigned char *) p)[i]) * 1099511628211ull;
        }
    };
    std::ifstream in(o.data, std::ios::binary);
    char buf[1 << 16];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
        mix(buf, (size_t) in.gcount());
    }
    std::ostringstream ss;
    ss << o.full << o.train_embeddings << o.rank << ' ' << o.alpha << ' ' << o.layer_first << ' ' << o.layer_last << ' '
       << o.epochs << ' ' << o.lr << ' ' << o.wd << ' ' << o.warmup << ' ' << (int) o.schedule << ' ' << o.ctx << ' '
       << o.eval_fraction << ' ' << (int) o.loss << ' ' << o.kl_temperature << ' ' << o.seed << ' ' << o.pack << ' ' << o.cross_sample_attention << ' '
       << o.truncate << ' ' << o.init << ' ' << o.max_steps << ' ' << o.pad_token;
    for (const auto & s : o.targets) {
        ss << ',' << s;
    }
    const std::string s = ss.str();
    mix(s.data(), s.size());
    char out[17];
    snprintf(out, sizeof(out), "%016llx", (unsigned long long) h);
    return out;
}

static int64_t peak_rss_bytes() {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return -1;
    }
#ifdef __APPLE__
    return (int64_t) ru.ru_maxrss;        // bytes on macOS
#else
    return (int64_t) ru.ru_maxrss * 1024; // KiB on Linux
#endif
}

static bool exists(const std::string & p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

static void split_windows(Trainer & t) {
    std::vector<int64_t> all(t.win.count);
    for (int64_t i = 0; i < t.win.count; ++i) {
        all[i] = i;
    }
    std::mt19937 rng(t.opt.seed ^ 0x5eed5eedu);
    std::shuffle(all.begin(), all.end(), rng);
    const int64_t n_eval = std::min<int64_t>((int64_t) std::floor(t.win.count * (double) t.opt.eval_fraction), t.win.count - 1);
    t.eval_windows.assign(all.end() - n_eval, all.end());
    t.train_windows.assign(all.begin(), all.end() - n_eval);
    std::sort(t.eval_windows.begin(), t.eval_windows.end());
    std::sort(t.train_windows.begin(), t.train_windows.end());
    auto mean = [&](const std::vector<int64_t> & ws) {
        double s = 0;
        for (int64_t w : ws) {
            s += t.win.answer_tokens[w];
        }
        return ws.empty() ? 1.0 : s / (double) ws.size();
    };
    t.mean_answer_train = mean(t.train_windows);
    t.mean_answer_eval = mean(t.eval_windows);
}

int run_train(int argc, char ** argv) {
    Trainer t;
    t.opt = parse_train_options(argc, argv);
    t.t_start_us = ggml_time_us();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    t.data = read_data(t.opt.data, t.opt);
    t.config_hash = hash_config(t.opt);

    if (!exists(t.opt.base)) {
        fail(EXIT_MODEL, "model/notFound", "base model not found: " + t.opt.base);
    }
    std::string err;
    if (!read_base_info(t.opt.base, t.base, err)) {
        fail(EXIT_MODEL, "model/loadFailed", err);
    }

    std::string resume_weights;
    if (t.opt.resume) {
        load_checkpoint(t, resume_weights);
    }

    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = t.opt.gpu_layers;
    mp.load_mode = LLAMA_LOAD_MODE_NONE; // weights must be plain writable buffers (full mode writes them)
    mp.use_extra_bufts = false;          // G4: repacked CPU layouts break the backward matmul
    const std::string model_path = t.opt.full && !resume_weights.empty() ? resume_weights : t.opt.base;
    t.model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!t.model) {
        fail(EXIT_MODEL, "model/loadFailed", "llama.cpp could not load " + model_path + " (see stderr for the reason)");
    }
    // Patches 0002 and 0008 train attention over the plain and the sliding-window (iSWA) KV cache; recurrent state
    // has no K/V to bypass.
    if (llama_model_is_recurrent(t.model) || llama_model_is_hybrid(t.model)) {
        fail(EXIT_MODEL, "model/unsupported", "architecture '" + t.base.arch + "' is not supported: the training "
             "build covers attention over a KV cache only (no recurrent or hybrid models)");
    }
    const llama_vocab * vocab = llama_model_get_vocab(t.model);
    t.n_vocab = llama_vocab_n_tokens(vocab);
    validate_tokens(t.data, t.n_vocab);
    const llama_token eos = llama_vocab_eos(vocab);
    if (t.opt.pad_token >= t.n_vocab) {
        fail(EXIT_USAGE, "usage/invalidOption", "--pad-token is outside the vocabulary");
    }
    // padding is masked, so its token only matters as attention context for nothing (it follows every sample)
    const int32_t pad = t.opt.pad_token >= 0 ? t.opt.pad_token : (eos >= 0 && eos < t.n_vocab ? eos : 0);
    t.win = build_windows(t.data, t.opt, pad);
    split_windows(t);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t) t.opt.ctx; // G2: one ubatch = one window (also patch 0002)
    cp.n_seq_max = 1;
    cp.kv_unified = true; // one cache stream that takes any sequence id below 256 (one per packed sample)
    cp.n_threads = cp.n_threads_batch = t.opt.threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED; // G5: no backward pass
    cp.type_k = cp.type_v = GGML_TYPE_F32;              // G5: no F16 OUT_PROD on GPUs
    cp.no_perf = true;
    t.ctx = llama_init_from_model(t.model, cp);
    if (!t.ctx) {
        fail(EXIT_MODEL, "model/contextFailed", "cannot create a context of " + std::to_string(t.opt.ctx) + " tokens");
    }
    if (llama_n_ctx(t.ctx) != (uint32_t) t.opt.ctx) {
        fail(EXIT_USAGE, "usage/invalidOption", "llama.cpp made a context of " + std::to_string(llama_n_ctx(t.ctx)) +
             " tokens for --ctx " + std::to_string(t.opt.ctx));
    }

    if (!t.opt.full) {
        setup_lora(t, !resume_weights.empty() ? resume_weights : t.opt.init);
    } else if (t.opt.train_embeddings) {
        for (const auto & kv : llama_internal_get_tensor_map(t.model)) {
            if (kv.first == "token_embd.weight") {
                if (kv.second->type != GGML_TYPE_F32) {
                    fail(EXIT_USAGE, "usage/invalidOption", "--train-embeddings needs an F32 token_embd");
                }
                ggml_set_param(kv.second); // upstream's llama_opt_init skips it (FIXME there)
            }
        }
    }

    // G3: ggml_opt_eval never applies the thread count; one decode sets it on the CPU backend for good.
    llama_token warm = pad;
    if (llama_decode(t.ctx, llama_batch_get_one(&warm, 1)) != 0) {
        fail(EXIT_MODEL, "model/decodeFailed", "warm-up decode failed");
    }
    llama_memory_clear(llama_get_memory(t.ctx), true);

    t.n_ctx_train_orig = (uint32_t) llama_model_n_ctx_train(t.model);
    llama_opt_params op = {};
    op.n_ctx_train = 0;
    op.param_filter = t.opt.full ? llama_opt_param_filter_all : param_filter_none;
    op.param_filter_ud = nullptr;
    op.get_opt_pars = get_opt_pars;
    op.get_opt_pars_ud = &t;
    op.optimizer_type = GGML_OPT_OPTIMIZER_TYPE_ADAMW;
    llama_opt_init(t.ctx, t.model, op);
    if (t.opt.full) {
        for (const auto & kv : llama_internal_get_tensor_map(t.model)) {
            if (kv.second->flags & GGML_TENSOR_FLAG_PARAM) {
                t.trainable_params += ggml_nelements(kv.second);
            }
        }
    }
    const bool kl = t.opt.loss == LossMode::KL;
    llama_opt_set_labels_callback(t.ctx, write_labels, &t, kl ? 1.0f / t.opt.kl_temperature : 1.0f);
    // Patch 0011: sparse label rows (k = the widest teacher row for kl, one id otherwise) save an [n_vocab, ctx]
    // F32 tensor (0.6 GB for a 152k vocabulary at --ctx 1024). The sparse loss runs on the CPU only, so with
    // offloaded layers the dense rows stay (the GPU computes the loss there). Ids travel as floats: exact below 2^24.
    if (llama_opt_set_labels_sparse && t.opt.gpu_layers == 0 && t.n_vocab <= (1 << 24)) {
        int32_t k = 1;
        const TeacherRows & tr = t.data.teacher;
        for (size_t r = 0; kl && r + 1 < tr.offset.size(); ++r) {
            k = std::max<int32_t>(k, (int32_t) (tr.offset[r + 1] - tr.offset[r]));
        }
        llama_opt_set_labels_sparse(t.ctx, k);
        t.sparse_labels = k;
    }
    const bool isolate = t.opt.loss != LossMode::SFT_ALL && !t.opt.cross_sample_attention;
    if (isolate && llama_opt_set_batch_callback) {
        llama_opt_set_batch_callback(t.ctx, write_batch, &t);
        // Patch 0012: logits only at the positions that train (fewer rows for the output layer and the loss)
        if (llama_opt_set_batch_outputs) {
            choose_outputs(t);
            llama_opt_set_batch_outputs(t.ctx, !t.output_mask.empty());
        }
    } else if (isolate) {
        fprintf(stderr, "prism-trainer: warning: built without patch 0006, packed samples attend to each other\n");
    }

    const int64_t per_epoch = (int64_t) t.train_windows.size();
    t.total_steps = per_epoch * t.opt.epochs;
    if (t.opt.max_steps > 0) {
        t.total_steps = std::min(t.total_steps, t.opt.max_steps);
    }
    t.warmup = t.opt.warmup >= 0 ? t.opt.warmup : std::min<int64_t>(50, t.total_steps / 10);

    int64_t answer_total = 0;
    for (int32_t a : t.win.answer_tokens) {
        answer_total += a;
    }
    Event("start")
        .str("mode", t.opt.full ? "full" : "lora")
        .str("loss", loss_name(t.opt.loss))
        .str("llamaCpp", PRISM_LLAMA_RELEASE)
        .str("backend", PRISM_BACKEND)
        .str("arch", t.base.arch)
        .integer("nCtx", t.opt.ctx)
        .integer("threads", t.opt.threads)
        .integer("samples", t.win.samples)
        .integer("windows", t.win.count)
        .integer("evalWindows", (int64_t) t.eval_windows.size())
        .integer("answerTokens", answer_total)
        .integer("trainableParams", t.trainable_params)
        .integer("steps", t.total_steps)
        .integer("warmupSteps", t.warmup)
        .integer("truncatedSamples", t.win.truncated_samples)
        .boolean("sampleIsolation", isolate && llama_opt_set_batch_callback != nullptr)
        .integer("sparseLabels", t.sparse_labels)
        .integer("outputRows", t.output_rows > 0 ? t.output_rows : t.opt.ctx)
        .integer("skippedSamples", t.win.skipped_samples)
        .integer("resumedFromStep", t.resumed_from)
        .emit();

    train_loop(t);

    // The result: the best eval epoch when there is an eval split, else the last state.
    double sum_abs_b = NAN;
    const bool use_best = !t.eval_windows.empty() && t.best_eval >= 0.0 && exists(t.best_path());
    if (use_best) {
        if (rename(t.best_path().c_str(), t.opt.out.c_str()) != 0) {
            fail(EXIT_TRAIN, "io/writeFailed", "cannot move " + t.best_path() + " to " + t.opt.out);
        }
        if (!t.opt.full) {
            LoraFile check;
            if (!read_lora(t.opt.out, check, err)) {
                fail(EXIT_TRAIN, "io/writeFailed", err);
            }
            sum_abs_b = 0.0;
            for (const auto & p : check.pairs) {
                for (float x : p.b) {
                    sum_abs_b += std::fabs(x);
                }
            }
        }
    } else if (save_weights(t, t.opt.out, &sum_abs_b) < 0) {
        fail(EXIT_TRAIN, "io/writeFailed", "cannot write " + t.opt.out);
    }
    if (!t.opt.full && !(sum_abs_b > 0.0 && std::isfinite(sum_abs_b))) {
        unlink(t.opt.out.c_str());
        fail(EXIT_TRAIN, std::isfinite(sum_abs_b) ? "train/adapterUnchanged" : "train/nonFinite",
             "the adapter's B matrices are " + std::string(std::isfinite(sum_abs_b) ? "all zero" : "not finite"));
    }
    Event saved("saved");
    saved.str("path", t.opt.out).integer("bytes", file_size(t.opt.out)).boolean("bestEpoch", use_best);
    if (!t.opt.full) {
        saved.num("sumAbsB", sum_abs_b);
    }
    saved.emit();
    remove_checkpoints(t);
    Event("done")
        .num("seconds", (ggml_time_us() - t.t_start_us) / 1e6)
        .integer("steps", t.step)
        .integer("epochs", t.epoch)
        .num("loss", t.last_loss)
        .num("bestEvalLoss", t.best_eval >= 0 ? t.best_eval : NAN)
        .integer("bestEpoch", t.best_epoch >= 0 ? t.best_epoch + 1 : 0)
        .boolean("stoppedEarly", t.stopped_early)
        .str("path", t.opt.out)
        .integer("peakRssBytes", peak_rss_bytes())
        .emit();
    // Skip teardown: freeing a multi-GB model takes time and the OS reclaims it anyway.
    fflush(stdout);
    _exit(EXIT_OK);
}

} // namespace prism
