// Saving weights, checkpoints and --resume.
//
// A checkpoint is two files next to --out: the weights `<out>.ckpt-<step>.gguf` (an adapter, or a whole model in
// full mode) and `<out>.ckpt.json` naming them. Both are written atomically, weights first, so the JSON always
// names a complete file; the previous weights file is deleted afterwards.
// Restored on --resume: weights, step counter and learning-rate schedule position, epoch and position within it
// (shuffles are a function of seed and epoch), early-stopping state and the best-epoch file. Not restored: the
// AdamW moments — ggml-opt keeps them private — so they restart from zero (with bias correction restarting).
#include "trainer.h"

#include "events.h"
#include "json.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace prism {

int64_t save_weights(Trainer & t, const std::string & path, double * sum_abs_b) {
    std::string err;
    if (t.opt.full) {
        const std::string tmp = temp_path_for(path);
        register_cleanup(tmp);
        llama_model_save_to_file(t.model, tmp.c_str());
        // The saver keeps only llama.cpp's own metadata and llama_opt_init changed n_ctx_train: repair both
        if (!restore_metadata(tmp, t.opt.base, t.n_ctx_train_orig, err) || !commit_file(tmp, path, err)) {
            fail(EXIT_TRAIN, "io/writeFailed", err);
        }
        unregister_cleanup(tmp);
        return file_size(path);
    }
    // G8: A/B may live in device buffers, read them back
    double sum_b = 0.0;
    for (size_t i = 0; i < t.lora.pairs.size(); ++i) {
        LoraPair & p = t.lora.pairs[i];
        ggml_backend_tensor_get(t.live_a[i], p.a.data(), 0, p.a.size() * sizeof(float));
        ggml_backend_tensor_get(t.live_b[i], p.b.data(), 0, p.b.size() * sizeof(float));
        for (float x : p.b) {
            sum_b += std::fabs(x);
        }
        for (float x : p.a) {
            if (!std::isfinite(x)) {
                sum_b = NAN;
            }
        }
    }
    if (sum_abs_b) {
        *sum_abs_b = sum_b;
    }
    register_cleanup(temp_path_for(path));
    const int64_t bytes = write_lora_atomic(path, t.lora, {{"prism.trainer.loss", loss_name(t.opt.loss)}}, err);
    unregister_cleanup(temp_path_for(path));
    if (bytes < 0) {
        fail(EXIT_TRAIN, "io/writeFailed", err);
    }
    return bytes;
}

static std::string basename_of(const std::string & p) {
    const size_t s = p.find_last_of('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

static std::string dirname_of(const std::string & p) {
    const size_t s = p.find_last_of('/');
    return s == std::string::npos ? "." : p.substr(0, s);
}

static std::string previous_weights(Trainer & t) {
    std::ifstream in(t.ckpt_json());
    std::stringstream ss;
    ss << in.rdbuf();
    JsonValue v;
    std::string err;
    if (!in || !json_parse(ss.str(), v, err) || !v.get("weights") || v.get("weights")->type != JsonValue::STRING) {
        return "";
    }
    return dirname_of(t.opt.out) + "/" + v.get("weights")->string;
}

void write_checkpoint(Trainer & t) {
    const std::string old = previous_weights(t);
    const std::string weights = t.ckpt_weights(t.step);
    const int64_t bytes = save_weights(t, weights, nullptr);
    std::ostringstream js;
    js.precision(17);
    js << "{\"v\":1,\"mode\":\"" << (t.opt.full ? "full" : "lora") << "\",\"config\":\"" << t.config_hash
       << "\",\"weights\":\"" << json_escape(basename_of(weights)) << "\",\"step\":" << t.step << ",\"epoch\":" << t.epoch
       << ",\"epochStep\":" << t.epoch_step << ",\"bestEval\":" << t.best_eval << ",\"bestEpoch\":" << t.best_epoch
       << ",\"badEpochs\":" << t.bad_epochs << ",\"epochLossSum\":" << t.epoch_loss_sum
       << ",\"epochLossCount\":" << t.epoch_loss_count << "}\n";
    const std::string tmp = temp_path_for(t.ckpt_json());
    std::string err;
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << js.str();
        if (!out) {
            fail(EXIT_TRAIN, "io/writeFailed", "cannot write " + tmp);
        }
    }
    if (!commit_file(tmp, t.ckpt_json(), err)) {
        fail(EXIT_TRAIN, "io/writeFailed", err);
    }
    if (!old.empty() && old != weights) {
        unlink(old.c_str());
    }
    Event("checkpoint").str("path", weights).integer("step", t.step).integer("bytes", bytes).emit();
}

void load_checkpoint(Trainer & t, std::string & weights_path) {
    const std::string json_path = t.opt.resume_path.empty() ? t.ckpt_json() : t.opt.resume_path;
    std::ifstream in(json_path);
    if (!in) {
        // nothing to resume from: start fresh, so the host can always pass --resume
        return;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    JsonValue v;
    std::string err;
    if (!json_parse(ss.str(), v, err)) {
        fail(EXIT_USAGE, "resume/invalidCheckpoint", json_path + ": " + err);
    }
    auto num = [&](const char * k) {
        const JsonValue * x = v.get(k);
        if (!x || x->type != JsonValue::NUMBER) {
            fail(EXIT_USAGE, "resume/invalidCheckpoint", json_path + " lacks \"" + k + "\"");
        }
        return x->number;
    };
    const JsonValue * mode = v.get("mode");
    const JsonValue * config = v.get("config");
    const JsonValue * weights = v.get("weights");
    if (!mode || !config || !weights || mode->type != JsonValue::STRING || config->type != JsonValue::STRING ||
        weights->type != JsonValue::STRING) {
        fail(EXIT_USAGE, "resume/invalidCheckpoint", json_path + " is not a prism-trainer checkpoint");
    }
    if (mode->string != (t.opt.full ? "full" : "lora") || config->string != t.config_hash) {
        fail(EXIT_USAGE, "resume/mismatch", "checkpoint " + json_path + " was made with other data or options; "
             "resume needs the same --data and training options");
    }
    weights_path = dirname_of(json_path) + "/" + weights->string;
    if (access(weights_path.c_str(), R_OK) != 0) {
        fail(EXIT_USAGE, "resume/invalidCheckpoint", "checkpoint weights missing: " + weights_path);
    }
    t.step = (int64_t) num("step");
    t.resumed_from = t.step;
    t.epoch = (int) num("epoch");
    t.epoch_step = (int64_t) num("epochStep");
    t.best_eval = num("bestEval");
    t.best_epoch = (int) num("bestEpoch");
    t.bad_epochs = (int) num("badEpochs");
    t.epoch_loss_sum = num("epochLossSum");
    t.epoch_loss_count = num("epochLossCount");
}

void remove_checkpoints(Trainer & t) {
    const std::string old = previous_weights(t);
    if (!old.empty()) {
        unlink(old.c_str());
    }
    unlink(t.ckpt_json().c_str());
    unlink(t.best_path().c_str());
}

} // namespace prism
