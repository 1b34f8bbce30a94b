#include "data.h"

#include "events.h"
#include "json.h"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace prism {

[[noreturn]] static void bad(const std::string & code, const std::string & msg) {
    fail(EXIT_DATA, code, msg);
}

static bool int_array(const JsonValue * v, std::vector<int32_t> & out) {
    if (!v || v->type != JsonValue::ARRAY) {
        return false;
    }
    out.clear();
    out.reserve(v->items.size());
    for (const auto & x : v->items) {
        if (x.type != JsonValue::NUMBER || x.number != std::floor(x.number) || std::fabs(x.number) > 2147483647.0) {
            return false;
        }
        out.push_back((int32_t) x.number);
    }
    return true;
}

static void read_teacher(const JsonValue & teacher, Sample & s, TeacherRows & rows, float temperature,
                         const std::string & where) {
    const JsonValue * ids = teacher.get("ids");
    const JsonValue * logp = teacher.get("logp");
    if (!ids || !logp || ids->type != JsonValue::ARRAY || logp->type != JsonValue::ARRAY) {
        bad("data/invalid", where + ": teacher needs arrays \"ids\" and \"logp\"");
    }
    const int64_t answer = (int64_t) s.tokens.size() - s.answer_start;
    if ((int64_t) ids->items.size() != answer || (int64_t) logp->items.size() != answer) {
        bad("data/invalid", where + ": teacher has " + std::to_string(ids->items.size()) + " rows, expected one per " +
            "answer token (" + std::to_string(answer) + ")");
    }
    if (rows.offset.empty()) {
        rows.offset.push_back(0);
    }
    s.teacher_row0 = (int64_t) rows.offset.size() - 1;
    s.teacher_rows = (int32_t) answer;
    std::vector<int32_t> row_ids;
    std::vector<double> z;
    for (int64_t r = 0; r < answer; ++r) {
        const JsonValue & lp = logp->items[r];
        if (!int_array(&ids->items[r], row_ids) || lp.type != JsonValue::ARRAY || lp.items.size() != row_ids.size() ||
            row_ids.empty()) {
            bad("data/invalid", where + ": teacher row " + std::to_string(r) + " needs equally long, non-empty ids/logp");
        }
        // The engine reports log-probabilities at temperature 0, i.e. logits minus a constant, so
        // softmax(logp / T) over the row is exactly softmax(z_T[I_t] / T) of docs/method.md §3.5.
        z.resize(row_ids.size());
        double zmax = -INFINITY;
        for (size_t i = 0; i < row_ids.size(); ++i) {
            if (lp.items[i].type != JsonValue::NUMBER || !std::isfinite(lp.items[i].number)) {
                bad("data/invalid", where + ": teacher logp must be finite numbers");
            }
            z[i] = lp.items[i].number / temperature;
            zmax = std::max(zmax, z[i]);
        }
        double sum = 0.0;
        for (double & x : z) {
            x = std::exp(x - zmax);
            sum += x;
        }
        double h = 0.0;
        for (size_t i = 0; i < row_ids.size(); ++i) {
            const double p = z[i] / sum;
            rows.ids.push_back(row_ids[i]);
            rows.probs.push_back((float) p);
            if (p > 0.0) {
                h -= p * std::log(p);
            }
        }
        rows.entropy.push_back((float) h);
        rows.offset.push_back((int64_t) rows.ids.size());
    }
}

Data read_data(const std::string & path, const TrainOptions & opt) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        bad("data/notFound", "cannot open training data " + path);
    }
    Data data;
    std::string line;
    JsonValue v;
    std::string err;
    while (std::getline(in, line)) {
        ++data.lines;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        const std::string where = path + ":" + std::to_string(data.lines);
        if (!json_parse(line, v, err)) {
            bad("data/invalidJson", where + ": " + err);
        }
        if (v.type != JsonValue::OBJECT) {
            bad("data/invalid", where + ": each line must be a JSON object");
        }
        Sample s;
        if (const JsonValue * id = v.get("id")) {
            s.id = id->type == JsonValue::STRING ? id->string : std::to_string((long long) id->number);
        } else {
            s.id = "line-" + std::to_string(data.lines);
        }
        if (!int_array(v.get("tokens"), s.tokens)) {
            bad("data/invalid", where + ": \"tokens\" must be an array of integers");
        }
        const JsonValue * as = v.get("answer_start");
        if (!as || as->type != JsonValue::NUMBER || as->number != std::floor(as->number) || as->number < 0 ||
            as->number > (double) s.tokens.size()) {
            bad("data/invalid", where + ": \"answer_start\" must be an integer in [0, tokens.length]");
        }
        s.answer_start = (int32_t) as->number;
        if (opt.loss == LossMode::KL) {
            const JsonValue * teacher = v.get("teacher");
            if (!teacher || teacher->type != JsonValue::OBJECT) {
                bad("data/invalid", where + ": --loss kl needs a \"teacher\" object on every line");
            }
            read_teacher(*teacher, s, data.teacher, opt.kl_temperature, where);
        }
        data.samples.push_back(std::move(s));
    }
    if (data.samples.empty()) {
        bad("data/empty", "no samples in " + path);
    }
    return data;
}

void validate_tokens(const Data & data, int32_t n_vocab) {
    for (const auto & s : data.samples) {
        for (int32_t t : s.tokens) {
            if (t < 0 || t >= n_vocab) {
                bad("data/tokenOutOfRange", "sample " + s.id + ": token " + std::to_string(t) +
                    " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
            }
        }
    }
    for (int32_t t : data.teacher.ids) {
        if (t < 0 || t >= n_vocab) {
            bad("data/tokenOutOfRange", "teacher token " + std::to_string(t) + " is outside the vocabulary");
        }
    }
}

namespace {

struct WindowWriter {
    Windows & w;
    bool isolate = true; // one sequence per sample; else the whole window is sequence 0 (one causal stream)
    int64_t fill = 0;    // positions used in the current window
    int32_t seq = -1;    // sequence of the sample being written
    int64_t seq_start = 0;

    void open() {
        const size_t n = (size_t) (w.count + 1) * w.n_ctx;
        w.tokens.resize(n);
        w.labels.resize(n);
        w.seq.resize(n);
        w.pos.resize(n);
        w.answer_tokens.push_back(0);
        w.entropy_sum.push_back(0.0);
        ++w.count;
        fill = 0;
        seq = isolate ? -1 : 0;
        seq_start = 0;
    }

    // Starts the next sample's sequence: positions restart at 0 and it attends only to itself.
    void begin_sample() {
        if (isolate) {
            ++seq;
            seq_start = fill;
        }
    }

    // Room for one more sequence (a sample, plus one for the padding after it).
    bool seq_room() const { return !isolate || seq + 2 < MAX_SEQS_PER_WINDOW; }

    void pad(int32_t pad_token) {
        if (fill < w.n_ctx) {
            begin_sample(); // padding is a sequence of its own, so it never widens a sample's attention
        }
        for (; fill < w.n_ctx; ++fill) {
            const size_t i = (size_t) (w.count - 1) * w.n_ctx + fill;
            w.tokens[i] = pad_token;
            w.labels[i] = LABEL_MASKED;
            w.seq[i] = seq;
            w.pos[i] = (int32_t) (fill - seq_start);
        }
    }

    void put(int32_t token, int32_t label, double entropy) {
        const size_t i = (size_t) (w.count - 1) * w.n_ctx + fill;
        w.seq[i] = seq;
        w.pos[i] = (int32_t) (fill - seq_start);
        ++fill;
        w.tokens[i] = token;
        w.labels[i] = label;
        if (label != LABEL_MASKED) {
            w.answer_tokens.back()++;
            w.entropy_sum.back() += entropy;
        }
    }
};

} // namespace

Windows build_windows(const Data & data, const TrainOptions & opt, int32_t pad) {
    Windows w;
    w.n_ctx = opt.ctx;
    WindowWriter ww{w};
    ww.isolate = opt.loss != LossMode::SFT_ALL && !opt.cross_sample_attention;

    if (opt.loss == LossMode::SFT_ALL) {
        // Upstream behaviour: one token stream, every next token is a target, samples may span two windows.
        std::vector<int32_t> stream;
        for (const auto & s : data.samples) {
            stream.insert(stream.end(), s.tokens.begin(), s.tokens.end());
        }
        w.samples = (int64_t) data.samples.size();
        for (size_t j = 0; j + 1 < stream.size(); ++j) {
            if (w.count == 0 || ww.fill == w.n_ctx) {
                ww.open();
            }
            ww.put(stream[j], stream[j + 1], 0.0);
        }
        if (w.count > 0) {
            ww.pad(pad);
        }
        return w;
    }

    for (const auto & s : data.samples) {
        int64_t len = (int64_t) s.tokens.size();
        if (len > w.n_ctx) {
            if (!opt.truncate) {
                bad("data/tooLong", "sample " + s.id + " has " + std::to_string(len) + " tokens, more than the window (" +
                    std::to_string(w.n_ctx) + "); raise --ctx or pass --truncate");
            }
            len = w.n_ctx;
            ++w.truncated_samples;
        }
        // Position j predicts token j+1; it is trained when token j+1 belongs to the answer.
        const int64_t first_label = std::max<int64_t>(s.answer_start, 1) - 1;
        if (first_label >= len - 1) {
            ++w.skipped_samples;
            continue;
        }
        if (w.count == 0 || !opt.pack || ww.fill + len > w.n_ctx || !ww.seq_room()) {
            if (w.count > 0) {
                ww.pad(pad);
            }
            ww.open();
        }
        ww.begin_sample();
        for (int64_t j = 0; j < len; ++j) {
            int32_t label = LABEL_MASKED;
            double entropy = 0.0;
            if (j >= first_label && j + 1 < len) {
                if (opt.loss == LossMode::KL) {
                    const int64_t row = s.teacher_row0 + (j + 1 - s.answer_start);
                    label = (int32_t) (-row - 2);
                    entropy = data.teacher.entropy[row];
                } else {
                    label = s.tokens[j + 1];
                }
            }
            ww.put(s.tokens[j], label, entropy);
        }
        ++w.samples;
    }
    if (w.count > 0) {
        ww.pad(pad);
    }
    if (w.count == 0) {
        bad("data/empty", "no sample has an answer token to train on (" + std::to_string(w.skipped_samples) + " skipped)");
    }
    return w;
}

} // namespace prism
