// The epoch loop: one llama_opt_epoch call per epoch on a dataset we build ourselves, so the shuffle is
// deterministic (seed + epoch) and a resumed run can skip the windows it already trained on.
#include "trainer.h"

#include "events.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace prism {

static Trainer * g_trainer = nullptr; // ggml_opt_epoch_callback has no user data

static void emit_step(Trainer & t, double loss, int64_t ibatch, int64_t t_loop_start_us, bool force) {
    const int64_t now = ggml_time_us();
    if (!force && (now - t.t_last_event_us) < (int64_t) t.opt.progress_interval_ms * 1000) {
        return;
    }
    t.t_last_event_us = now;
    const double loop_s = (now - t_loop_start_us) / 1e6;
    const double s_per_step = loop_s / (double) ibatch;
    const double eval_share = t.eval_windows.size() * (t.eval_seconds_per_window > 0 ? t.eval_seconds_per_window : s_per_step / 3);
    const int64_t left = t.total_steps - t.step;
    const int64_t epochs_left = std::max<int64_t>(0, t.opt.epochs - t.epoch);
    Event("step")
        .integer("epoch", t.epoch + 1)
        .integer("epochs", t.opt.epochs)
        .integer("step", t.step)
        .integer("steps", t.total_steps)
        .num("loss", loss)
        .num("lr", t.current_lr)
        .num("tokensPerSecond", t.win.n_ctx / std::max(s_per_step, 1e-9))
        .num("etaSeconds", left * s_per_step + epochs_left * eval_share)
        .emit();
}

// Loss of the window just evaluated, per trained token. ggml-opt only exposes the running mean of its batches.
static double last_window_loss(Trainer & t, ggml_opt_result_t result, int64_t ibatch, int64_t dataset_index,
                               double & ce_sum, double & count) {
    double mean = 0.0;
    ggml_opt_result_loss(result, &mean, nullptr);
    const double sum = mean * (double) ibatch;
    const double batch_loss = sum - t.sum_prev;
    t.sum_prev = sum;
    const int64_t w = t.order[dataset_index];
    const bool is_train = dataset_index < t.order_train;
    // batch_loss = sum(token losses) / mean trained positions of the split (see Trainer::label_weight)
    double token_sum = batch_loss * (is_train ? t.mean_answer_train : t.mean_answer_eval);
    if (t.opt.loss == LossMode::KL) {
        // cross-entropy to the teacher = KL + teacher entropy; report T^2 * KL, the paper's loss
        token_sum -= (double) t.opt.kl_temperature * t.opt.kl_temperature * t.win.entropy_sum[w];
    }
    ce_sum += token_sum;
    count += t.win.answer_tokens[w];
    return token_sum / std::max(1, t.win.answer_tokens[w]);
}

static void on_train_batch(bool, ggml_opt_context_t, ggml_opt_dataset_t, ggml_opt_result_t result, int64_t ibatch,
                           int64_t ibatch_max, int64_t t_start_us) {
    Trainer & t = *g_trainer;
    const double loss = last_window_loss(t, result, ibatch, ibatch - 1, t.epoch_loss_sum, t.epoch_loss_count);
    ++t.step;
    ++t.epoch_step;
    ++t.steps_this_run;
    t.last_loss = loss;
    if (!std::isfinite(loss)) {
        fail(EXIT_TRAIN, "train/nonFinite", "loss is not finite at step " + std::to_string(t.step) + "; lower --lr");
    }
    emit_step(t, loss, ibatch, t_start_us, ibatch == 1 || ibatch == ibatch_max);
    if (t.opt.checkpoint_every > 0 && t.step % t.opt.checkpoint_every == 0 && ibatch < ibatch_max) {
        write_checkpoint(t);
    }
    if (ibatch == ibatch_max) {
        t.train_seconds = (ggml_time_us() - t_start_us) / 1e6;
    }
    if (g_cancel_signal) {
        exit_cancelled();
    }
}

static void on_eval_batch(bool, ggml_opt_context_t, ggml_opt_dataset_t, ggml_opt_result_t result, int64_t ibatch,
                          int64_t ibatch_max, int64_t t_start_us) {
    Trainer & t = *g_trainer;
    last_window_loss(t, result, ibatch, t.order_train + ibatch - 1, t.eval_loss_sum, t.eval_loss_count);
    if (ibatch == ibatch_max) {
        t.eval_seconds_per_window = (ggml_time_us() - t_start_us) / 1e6 / (double) ibatch_max;
    }
    if (g_cancel_signal) {
        exit_cancelled();
    }
}

static ggml_opt_dataset_t make_dataset(Trainer & t) {
    const int64_t n = (int64_t) t.order.size();
    ggml_opt_dataset_t ds = ggml_opt_dataset_init(GGML_TYPE_I32, GGML_TYPE_I32, t.win.n_ctx, t.win.n_ctx, n, 1);
    int32_t * data = (int32_t *) ggml_opt_dataset_data(ds)->data;
    int32_t * labels = (int32_t *) ggml_opt_dataset_labels(ds)->data;
    for (int64_t i = 0; i < n; ++i) {
        const size_t src = (size_t) t.order[i] * t.win.n_ctx;
        std::copy_n(t.win.tokens.begin() + src, t.win.n_ctx, data + (size_t) i * t.win.n_ctx);
        std::copy_n(t.win.labels.begin() + src, t.win.n_ctx, labels + (size_t) i * t.win.n_ctx);
    }
    return ds;
}

void train_loop(Trainer & t) {
    g_trainer = &t;
    ggml_opt_result_t result_train = ggml_opt_result_init();
    ggml_opt_result_t result_eval = ggml_opt_result_init();
    const int64_t per_epoch = (int64_t) t.train_windows.size();

    while (t.epoch < t.opt.epochs && t.step < t.total_steps) {
        // this epoch's shuffle depends only on the seed and the epoch number, so --resume can replay it
        std::vector<int64_t> perm = t.train_windows;
        std::mt19937 rng(t.opt.seed + 7919u * (uint32_t) (t.epoch + 1));
        std::shuffle(perm.begin(), perm.end(), rng);
        const int64_t take = std::min(per_epoch - t.epoch_step, t.total_steps - t.step);
        t.order.assign(perm.begin() + t.epoch_step, perm.begin() + t.epoch_step + take);
        t.order_train = take;
        t.order.insert(t.order.end(), t.eval_windows.begin(), t.eval_windows.end());
        t.label_calls = 0;
        t.batch_calls = 0;
        t.sum_prev = 0.0;
        t.eval_loss_sum = t.eval_loss_count = 0.0;
        if (t.epoch_step == 0) {
            t.epoch_loss_sum = t.epoch_loss_count = 0.0;
        }

        const int64_t t0 = ggml_time_us();
        ggml_opt_dataset_t ds = make_dataset(t);
        ggml_opt_result_reset(result_train);
        ggml_opt_result_reset(result_eval);
        // the eval callback starts from a fresh running sum
        auto eval_cb = [](bool train, ggml_opt_context_t c, ggml_opt_dataset_t d, ggml_opt_result_t r, int64_t ib,
                          int64_t ibm, int64_t ts) {
            if (ib == 1) {
                g_trainer->sum_prev = 0.0;
            }
            on_eval_batch(train, c, d, r, ib, ibm, ts);
        };
        llama_opt_epoch(t.ctx, ds, result_train, result_eval, take, on_train_batch, eval_cb);
        ggml_opt_dataset_free(ds);

        const bool complete = t.epoch_step == per_epoch;
        const double train_loss = t.epoch_loss_count > 0 ? t.epoch_loss_sum / t.epoch_loss_count : NAN;
        const double eval_loss = t.eval_loss_count > 0 ? t.eval_loss_sum / t.eval_loss_count : NAN;
        bool improved = false;
        if (std::isfinite(eval_loss)) {
            improved = t.best_eval < 0.0 || eval_loss < t.best_eval;
            if (improved) {
                t.best_eval = eval_loss;
                t.best_epoch = t.epoch;
                t.bad_epochs = 0;
                save_weights(t, t.best_path(), nullptr);
            } else {
                ++t.bad_epochs;
            }
        }
        Event("epoch")
            .integer("epoch", t.epoch + 1)
            .integer("epochs", t.opt.epochs)
            .integer("step", t.step)
            .num("loss", train_loss)
            .num("evalLoss", eval_loss)
            .boolean("improved", improved)
            .boolean("complete", complete)
            .num("seconds", (ggml_time_us() - t0) / 1e6)
            .emit();
        if (!std::isfinite(train_loss) && t.epoch_loss_count > 0) {
            fail(EXIT_TRAIN, "train/nonFinite", "epoch loss is not finite");
        }
        if (!complete) {
            break; // --max-steps reached mid-epoch
        }
        ++t.epoch;
        t.epoch_step = 0;
        if (t.opt.patience > 0 && t.bad_epochs >= t.opt.patience) {
            t.stopped_early = true;
            break;
        }
        if (t.epoch < t.opt.epochs && t.step < t.total_steps) {
            write_checkpoint(t);
        }
    }
    ggml_opt_result_free(result_train);
    ggml_opt_result_free(result_eval);
}

} // namespace prism
