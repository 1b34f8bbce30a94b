// GGUF files the trainer reads and writes: base-model tensor shapes, LoRA adapters (docs/engine.md §6), and the
// context-length fix-up of fully fine-tuned models. All writes go to a temp file in the target directory, are
// fsynced, and renamed over the destination, so readers never see a partial file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace prism {

struct TensorShape {
    std::string name;
    int64_t ne0 = 0, ne1 = 0;
    int n_dims = 0;
    int type = 0;
};

struct BaseInfo {
    std::string arch;
    std::vector<TensorShape> tensors;
};

// Reads metadata only. Returns false with `error` set when the file is not a readable GGUF.
bool read_base_info(const std::string & path, BaseInfo & out, std::string & error);

// One adapted weight. Shapes as the llama.cpp loader checks them: A ne = [n_in, r], B ne = [r, n_out].
struct LoraPair {
    std::string base;   // e.g. "blk.3.attn_q.weight"
    int64_t n_in = 0, n_out = 0;
    int rank = 0;
    std::vector<float> a, b;
};

struct LoraFile {
    std::string arch;
    float alpha = 0.0f;
    std::vector<LoraPair> pairs;
};

// Reads an adapter (any float tensor type, converted to F32). Returns false with `error` on failure.
bool read_lora(const std::string & path, LoraFile & out, std::string & error);

// Writes general.architecture / general.type=adapter / adapter.type=lora / adapter.lora.alpha and F32 A/B tensors,
// plus extra string KVs. Returns the file size, or -1 with `error` set.
int64_t write_lora_atomic(const std::string & path, const LoraFile & lora,
                          const std::map<std::string, std::string> & extra_kv, std::string & error);

// Repairs a model saved by llama_model_save_to_file: restores `<arch>.context_length` (llama_opt_init overwrites it
// with the window size) and every metadata key of the base model the saver dropped (tokenizer.chat_template, …).
bool restore_metadata(const std::string & path, const std::string & base_path, uint32_t n_ctx_train,
                      std::string & error);

// Temp path in the same directory (rename is atomic only within one file system).
std::string temp_path_for(const std::string & path);

// fsync + rename; on failure removes `tmp` and returns false with `error`.
bool commit_file(const std::string & tmp, const std::string & path, std::string & error);

int64_t file_size(const std::string & path);

} // namespace prism
