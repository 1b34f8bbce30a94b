#include "gguf_io.h"

#include "ggml.h"
#include "gguf.h"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prism {

std::string temp_path_for(const std::string & path) {
    return path + ".partial-" + std::to_string(getpid());
}

int64_t file_size(const std::string & path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? (int64_t) st.st_size : -1;
}

bool commit_file(const std::string & tmp, const std::string & path, std::string & error) {
    const int fd = open(tmp.c_str(), O_RDONLY);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    ok = ok && rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) {
        error = "cannot write " + path + ": " + strerror(errno);
        unlink(tmp.c_str());
        return false;
    }
    // Make the rename itself durable.
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dfd = open(dir.c_str(), O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return true;
}

bool read_base_info(const std::string & path, BaseInfo & out, std::string & error) {
    gguf_init_params params = {/*.no_alloc =*/ true, /*.ctx =*/ nullptr};
    gguf_context * ctx = gguf_init_from_file(path.c_str(), params);
    if (!ctx) {
        error = "not a readable GGUF file: " + path;
        return false;
    }
    const int64_t arch_id = gguf_find_key(ctx, "general.architecture");
    out.arch = arch_id >= 0 && gguf_get_kv_type(ctx, arch_id) == GGUF_TYPE_STRING ? gguf_get_val_str(ctx, arch_id) : "";
    for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
        TensorShape t;
        t.name = gguf_get_tensor_name(ctx, i);
        const int64_t * ne = gguf_get_tensor_ne(ctx, i);
        t.ne0 = ne[0];
        t.ne1 = ne[1];
        t.n_dims = ne[3] > 1 ? 4 : ne[2] > 1 ? 3 : ne[1] > 1 ? 2 : 1;
        t.type = gguf_get_tensor_type(ctx, i);
        out.tensors.push_back(t);
    }
    gguf_free(ctx);
    return true;
}

static bool tensor_to_f32(const ggml_tensor * t, std::vector<float> & out) {
    const int64_t n = ggml_nelements(t);
    out.resize(n);
    if (t->type == GGML_TYPE_F32) {
        memcpy(out.data(), t->data, n * sizeof(float));
        return true;
    }
    const ggml_type_traits * tr = ggml_get_type_traits(t->type);
    if (!tr || !tr->to_float || !ggml_is_contiguous(t)) {
        return false;
    }
    tr->to_float(t->data, out.data(), n);
    return true;
}

bool read_lora(const std::string & path, LoraFile & out, std::string & error) {
    ggml_context * gctx = nullptr;
    gguf_init_params params = {/*.no_alloc =*/ false, /*.ctx =*/ &gctx};
    gguf_context * ctx = gguf_init_from_file(path.c_str(), params);
    if (!ctx) {
        error = "not a readable GGUF file: " + path;
        return false;
    }
    auto get_str = [&](const char * key) -> std::string {
        const int64_t id = gguf_find_key(ctx, key);
        return id >= 0 && gguf_get_kv_type(ctx, id) == GGUF_TYPE_STRING ? gguf_get_val_str(ctx, id) : "";
    };
    bool ok = true;
    out = LoraFile();
    out.arch = get_str("general.architecture");
    if (get_str("general.type") != "adapter" || get_str("adapter.type") != "lora") {
        error = path + " is not a LoRA adapter (general.type / adapter.type)";
        ok = false;
    }
    const int64_t alpha_id = gguf_find_key(ctx, "adapter.lora.alpha");
    out.alpha = alpha_id >= 0 && gguf_get_kv_type(ctx, alpha_id) == GGUF_TYPE_FLOAT32 ? gguf_get_val_f32(ctx, alpha_id) : 0.0f;
    std::map<std::string, LoraPair> pairs;
    for (int64_t i = 0; ok && i < gguf_get_n_tensors(ctx); ++i) {
        const std::string name = gguf_get_tensor_name(ctx, i);
        const bool is_a = name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_a") == 0;
        const bool is_b = name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_b") == 0;
        if (!is_a && !is_b) {
            continue;
        }
        const ggml_tensor * t = ggml_get_tensor(gctx, name.c_str());
        LoraPair & p = pairs[name.substr(0, name.size() - 7)];
        p.base = name.substr(0, name.size() - 7);
        if (!t || !tensor_to_f32(t, is_a ? p.a : p.b)) {
            error = "cannot read tensor " + name + " of " + path;
            ok = false;
            break;
        }
        if (is_a) {
            p.n_in = t->ne[0];
            p.rank = (int) t->ne[1];
        } else {
            p.n_out = t->ne[1];
        }
    }
    for (auto & kv : pairs) {
        if (ok && (kv.second.a.empty() || kv.second.b.empty())) {
            error = "tensor " + kv.first + " of " + path + " lacks its lora_a or lora_b";
            ok = false;
        }
        out.pairs.push_back(std::move(kv.second));
    }
    gguf_free(ctx);
    ggml_free(gctx);
    return ok;
}

int64_t write_lora_atomic(const std::string & path, const LoraFile & lora,
                          const std::map<std::string, std::string> & extra_kv, std::string & error) {
    size_t bytes = 0;
    for (const auto & p : lora.pairs) {
        bytes += (p.a.size() + p.b.size()) * sizeof(float);
    }
    ggml_init_params ip = {
        /*.mem_size   =*/ bytes + (lora.pairs.size() * 2 + 1) * ggml_tensor_overhead() + 1024,
        /*.mem_buffer =*/ nullptr,
        /*.no_alloc   =*/ false,
    };
    ggml_context * gctx = ggml_init(ip);
    gguf_context * ctx = gguf_init_empty();
    gguf_set_val_str(ctx, "general.architecture", lora.arch.c_str());
    gguf_set_val_str(ctx, "general.type", "adapter");
    gguf_set_val_str(ctx, "adapter.type", "lora");
    gguf_set_val_f32(ctx, "adapter.lora.alpha", lora.alpha);
    for (const auto & kv : extra_kv) {
        gguf_set_val_str(ctx, kv.first.c_str(), kv.second.c_str());
    }
    for (const auto & p : lora.pairs) {
        ggml_tensor * a = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, p.n_in, p.rank);
        ggml_tensor * b = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, p.rank, p.n_out);
        ggml_set_name(a, (p.base + ".lora_a").c_str());
        ggml_set_name(b, (p.base + ".lora_b").c_str());
        memcpy(a->data, p.a.data(), p.a.size() * sizeof(float));
        memcpy(b->data, p.b.data(), p.b.size() * sizeof(float));
        gguf_add_tensor(ctx, a);
        gguf_add_tensor(ctx, b);
    }
    const std::string tmp = temp_path_for(path);
    FILE * f = fopen(tmp.c_str(), "wb");
    bool ok = f && gguf_write_to_file_ptr(ctx, f, false);
    ok = f && fclose(f) == 0 && ok;
    gguf_free(ctx);
    ggml_free(gctx);
    if (!ok) {
        error = "cannot write " + tmp + ": " + strerror(errno);
        unlink(tmp.c_str());
        return -1;
    }
    if (!commit_file(tmp, path, error)) {
        return -1;
    }
    return file_size(path);
}

bool restore_metadata(const std::string & path, const std::string & base_path, uint32_t n_ctx_train,
                      std::string & error) {
    ggml_context * gctx = nullptr;
    gguf_init_params params = {/*.no_alloc =*/ false, /*.ctx =*/ &gctx};
    gguf_context * src = gguf_init_from_file(path.c_str(), params);
    if (!src) {
        error = "cannot re-read saved model " + path;
        return false;
    }
    gguf_init_params meta_only = {/*.no_alloc =*/ true, /*.ctx =*/ nullptr};
    gguf_context * base = gguf_init_from_file(base_path.c_str(), meta_only);
    if (!base) {
        gguf_free(src);
        ggml_free(gctx);
        error = "cannot re-read the base model " + base_path;
        return false;
    }
    const int64_t arch_id = gguf_find_key(src, "general.architecture");
    const std::string key = std::string(arch_id >= 0 ? gguf_get_val_str(src, arch_id) : "llama") + ".context_length";
    const int64_t id = gguf_find_key(src, key.c_str());
    // llama_model_save_to_file writes only the metadata llama.cpp itself uses: keys such as
    // tokenizer.chat_template are dropped, and without its template a model is prompted with the wrong format.
    bool missing = false;
    for (int64_t i = 0; i < gguf_get_n_kv(base); ++i) {
        missing = missing || gguf_find_key(src, gguf_get_key(base, i)) < 0;
    }
    bool ok = true;
    if (missing || id < 0 || gguf_get_kv_type(src, id) != GGUF_TYPE_UINT32 || gguf_get_val_u32(src, id) != n_ctx_train) {
        // A context read from a file cannot be written back directly (its tensor infos carry no data pointers):
        // copy the KVs into a fresh context and add the loaded tensors, in file order.
        // The base's keys first (in its order), then the saved file's values over them.
        gguf_context * dst = gguf_init_empty();
        gguf_set_kv(dst, base);
        gguf_set_kv(dst, src);
        gguf_set_val_u32(dst, key.c_str(), n_ctx_train);
        for (int64_t i = 0; i < gguf_get_n_tensors(src); ++i) {
            gguf_add_tensor(dst, ggml_get_tensor(gctx, gguf_get_tensor_name(src, i)));
        }
        const std::string tmp = path + ".ctx";
        FILE * f = fopen(tmp.c_str(), "wb");
        ok = f && gguf_write_to_file_ptr(dst, f, false);
        ok = f && fclose(f) == 0 && ok;
        gguf_free(dst);
        ok = ok && commit_file(tmp, path, error);
        if (!ok && error.empty()) {
            error = "cannot rewrite " + path;
        }
        if (!ok) {
            unlink(tmp.c_str());
        }
    }
    gguf_free(base);
    gguf_free(src);
    ggml_free(gctx);
    return ok;
}

} // namespace prism
