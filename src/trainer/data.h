// Training data: JSONL samples in, fixed-size windows with label ids out.
//
// Label ids (one per window position, the dataset "labels" that llama_opt_epoch hands to our label callback):
//   id >= 0   hard target token (one-hot row)
//   id == -1  masked: the row stays zero, so the position adds neither loss nor gradient (patch 0003)
//   id <= -2  soft target: teacher row (-id - 2) of Data::teacher (KL distillation)
#pragma once

#include "options.h"

#include <cstdint>
#include <string>
#include <vector>

namespace prism {

constexpr int32_t LABEL_MASKED = -1;

struct Sample {
    std::string id;
    std::vector<int32_t> tokens;
    int32_t answer_start = 0;
    int64_t teacher_row0 = -1; // index of this sample's first teacher row (KL only)
    int32_t teacher_rows = 0;
};

// Teacher distributions, one row per answer token, already converted to probabilities at the KL temperature.
struct TeacherRows {
    std::vector<int64_t> offset;  // row r spans [offset[r], offset[r+1])
    std::vector<int32_t> ids;
    std::vector<float> probs;     // softmax(logp / T) over the row's ids
    std::vector<float> entropy;   // -sum p log p per row, to report the KL part of the loss
};

struct Data {
    std::vector<Sample> samples;
    TeacherRows teacher;
    int64_t lines = 0;
};

struct Windows {
    int n_ctx = 0;
    int64_t count = 0;
    std::vector<int32_t> tokens;          // [count * n_ctx]
    std::vector<int32_t> labels;          // [count * n_ctx], see label ids above
    std::vector<int32_t> seq;             // [count * n_ctx] sequence id: one per packed sample, padding its own
    std::vector<int32_t> pos;             // [count * n_ctx] position within that sequence (restarts at 0)
    std::vector<int32_t> answer_tokens;   // trained positions per window
    std::vector<double> entropy_sum;      // sum of teacher entropies per window (KL)
    int64_t truncated_samples = 0;
    int64_t skipped_samples = 0;          // no trainable position (e.g. empty answer)
    int64_t samples = 0;                  // samples placed in windows
};

// Reads and validates the JSONL file (syntax, schema, teacher rows). Exits with EXIT_DATA on bad input.
Data read_data(const std::string & path, const TrainOptions & opt);

// Checks token ids against the model's vocabulary. Exits with EXIT_DATA on a bad id.
void validate_tokens(const Data & data, int32_t n_vocab);

// Cuts the samples into windows of exactly n_ctx tokens (docs/trainer.md §4, G2). sft/kl: whole samples, packed
// greedily unless --no-pack, the rest padded with masked `pad` tokens; sft-all: one continuous stream.
Windows build_windows(const Data & data, const TrainOptions & opt, int32_t pad);

// Most sequences in one window: llama.cpp's unified KV cache takes sequence ids below LLAMA_MAX_SEQ (256).
constexpr int32_t MAX_SEQS_PER_WINDOW = 256;

} // namespace prism
