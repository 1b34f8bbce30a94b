#include "options.h"

#include "events.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace prism {

const char * loss_name(LossMode m) {
    switch (m) {
        case LossMode::SFT: return "sft";
        case LossMode::SFT_ALL: return "sft-all";
        case LossMode::KL: return "kl";
    }
    return "?";
}

[[noreturn]] static void usage(const std::string & msg) {
    fail(EXIT_USAGE, "usage/invalidOption", msg);
}

static double to_number(const std::string & opt, const char * s) {
    char * end = nullptr;
    errno = 0;
    const double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !std::isfinite(v)) {
        usage(opt + " expects a number, got '" + s + "'");
    }
    return v;
}

static int64_t to_int(const std::string & opt, const char * s) {
    const double v = to_number(opt, s);
    if (v != std::floor(v) || std::fabs(v) > 9e15) {
        usage(opt + " expects an integer, got '" + s + "'");
    }
    return (int64_t) v;
}

static std::vector<std::string> split(const std::string & s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t pos = s.find(sep, start);
        std::string part = s.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
        if (!part.empty()) {
            out.push_back(part);
        }
        if (pos == std::string::npos) {
            return out;
        }
        start = pos + 1;
    }
}

TrainOptions parse_train_options(int argc, char ** argv) {
    TrainOptions o;
    bool have_threads = false;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        // --resume takes an optional path, every other option except flags takes exactly one value
        const bool is_flag = a == "--allow-layer0" || a == "--no-pack" || a == "--truncate" ||
            a == "--train-embeddings" || a == "--pack" || a == "--cross-sample-attention";
        if (a == "--resume") {
            o.resume = true;
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                o.resume_path = argv[++i];
            }
            continue;
        }
        if (is_flag) {
            if (a == "--allow-layer0") o.allow_layer0 = true;
            if (a == "--no-pack") o.pack = false;
            if (a == "--pack") o.pack = true;
            if (a == "--truncate") o.truncate = true;
            if (a == "--cross-sample-attention") o.cross_sample_attention = true;
            if (a == "--train-embeddings") o.train_embeddings = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage(a + " needs a value");
        }
        const char * v = argv[++i];
        if (a == "--base") o.base = v;
        else if (a == "--data") o.data = v;
        else if (a == "--out") o.out = v;
        else if (a == "--mode") {
            if (strcmp(v, "lora") == 0) o.full = false;
            else if (strcmp(v, "full") == 0) o.full = true;
            else usage("--mode must be lora or full");
        }
        else if (a == "--rank") o.rank = (int) to_int(a, v);
        else if (a == "--alpha") o.alpha = (float) to_number(a, v);
        else if (a == "--targets") o.targets = split(v, ',');
        else if (a == "--layers") {
            // "a-b", "a-" (to the last block) or "a"
            const std::string s = v;
            const size_t dash = s.find('-');
            if (dash == std::string::npos) {
                o.layer_first = o.layer_last = (int) to_int(a, v);
            } else {
                o.layer_first = (int) to_int(a, s.substr(0, dash).c_str());
                const std::string last = s.substr(dash + 1);
                o.layer_last = last.empty() ? -1 : (int) to_int(a, last.c_str());
            }
        }
        else if (a == "--epochs") o.epochs = (int) to_int(a, v);
        else if (a == "--lr") o.lr = (float) to_number(a, v);
        else if (a == "--wd") o.wd = (float) to_number(a, v);
        else if (a == "--beta1") o.beta1 = (float) to_number(a, v);
        else if (a == "--beta2") o.beta2 = (float) to_number(a, v);
        else if (a == "--warmup") o.warmup = (int) to_int(a, v);
        else if (a == "--schedule") {
            if (strcmp(v, "linear") == 0) o.schedule = Schedule::LINEAR;
            else if (strcmp(v, "cosine") == 0) o.schedule = Schedule::COSINE;
            else if (strcmp(v, "constant") == 0) o.schedule = Schedule::CONSTANT;
            else usage("--schedule must be linear, cosine or constant");
        }
        else if (a == "--ctx") o.ctx = (int) to_int(a, v);
        else if (a == "--eval-fraction") o.eval_fraction = (float) to_number(a, v);
        else if (a == "--patience") o.patience = (int) to_int(a, v);
        else if (a == "--loss") {
            if (strcmp(v, "sft") == 0) o.loss = LossMode::SFT;
            else if (strcmp(v, "sft-all") == 0) o.loss = LossMode::SFT_ALL;
            else if (strcmp(v, "kl") == 0) o.loss = LossMode::KL;
            else usage("--loss must be sft, sft-all or kl");
        }
        else if (a == "--kl-temperature") o.kl_temperature = (float) to_number(a, v);
        else if (a == "--threads") { o.threads = (int) to_int(a, v); have_threads = true; }
        else if (a == "--gpu-layers") o.gpu_layers = (int) to_int(a, v);
        else if (a == "--seed") o.seed = (uint32_t) to_int(a, v);
        else if (a == "--init") o.init = v;
        else if (a == "--checkpoint-every") o.checkpoint_every = (int) to_int(a, v);
        else if (a == "--max-steps") o.max_steps = to_int(a, v);
        else if (a == "--pad-token") o.pad_token = (int32_t) to_int(a, v);
        else if (a == "--progress-interval") o.progress_interval_ms = (int) to_int(a, v);
        else usage("unknown option " + a);
    }

    if (o.base.empty() || o.data.empty() || o.out.empty()) usage("--base, --data and --out are required");
    if (!have_threads || o.threads < 1) usage("--threads is required (at most the number of physical cores)");
    if (!o.full && (o.rank < 1 || o.rank > 4096)) usage("--rank must be between 1 and 4096");
    if (!o.full && !(o.alpha > 0.0f)) usage("--alpha must be positive");
    if (!o.full && o.targets.empty()) usage("--targets is empty");
    if (o.ctx < 256 || o.ctx % 256 != 0) usage("--ctx must be a positive multiple of 256 (llama.cpp rounds n_ctx up to 256)");
    if (o.epochs < 1) usage("--epochs must be at least 1");
    if (!(o.lr > 0.0f)) usage("--lr must be positive");
    if (o.wd < 0.0f || o.wd > 1.0f) usage("--wd must be between 0 and 1");
    if (o.eval_fraction < 0.0f || o.eval_fraction > 0.5f) usage("--eval-fraction must be between 0 and 0.5");
    if (o.patience < 0) usage("--patience must be >= 0");
    if (!(o.kl_temperature > 0.0f)) usage("--kl-temperature must be positive");
    if (o.gpu_layers < -1) usage("--gpu-layers must be >= -1 (-1 = all)");
    if (o.checkpoint_every < 0 || o.max_steps < 0) usage("--checkpoint-every and --max-steps must be >= 0");
    if (!o.full && o.layer_first == 0 && !o.allow_layer0) {
        usage("block 0 must stay untouched (docs/method.md §5); pass --allow-layer0 to override");
    }
    if (o.full && !o.init.empty()) usage("--init applies to LoRA mode only");
    if (o.layer_first < 0 || (o.layer_last >= 0 && o.layer_last < o.layer_first)) usage("--layers range is empty");
    return o;
}

} // namespace prism
