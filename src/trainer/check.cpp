// `prism-trainer check`: what this binary was built from and whether the training fixes are live
// (docs/trainer.md §3, self-check). Exits 5 on any failed probe.
#include "events.h"

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace prism {

// Patch 0003 probe on the CPU backend: a zero label row must give a zero gradient (stock ggml gives softmax).
static bool probe_masked_cross_entropy(std::string & detail) {
    ggml_init_params ip = {/*.mem_size =*/ 16 * 1024 * 1024, /*.mem_buffer =*/ nullptr, /*.no_alloc =*/ false};
    ggml_context * ctx = ggml_init(ip);
    ggml_tensor * logits = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 4, 2);
    ggml_tensor * labels = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 4, 2);
    ggml_set_param(logits);
    const float lv[8] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 0.25f, -0.5f, 3.0f};
    const float yv[8] = {0, 1, 0, 0, /* masked row: */ 0, 0, 0, 0};
    memcpy(logits->data, lv, sizeof(lv));
    memcpy(labels->data, yv, sizeof(yv));
    ggml_tensor * loss = ggml_cross_entropy_loss(ctx, logits, labels);
    ggml_set_loss(loss);
    ggml_cgraph * gb = ggml_new_graph_custom(ctx, GGML_DEFAULT_GRAPH_SIZE, true);
    ggml_build_forward_expand(gb, loss);
    ggml_build_backward_expand(ctx, gb, nullptr);
    ggml_graph_reset(gb);
    ggml_graph_compute_with_ctx(ctx, gb, 1);
    const ggml_tensor * grad = ggml_graph_get_grad(gb, logits);
    bool ok = grad != nullptr;
    double masked = 0.0, trained = 0.0;
    if (ok) {
        const float * g = (const float *) grad->data;
        for (int i = 0; i < 4; ++i) {
            trained += std::fabs(g[i]);
            masked += std::fabs(g[4 + i]);
        }
        ok = masked == 0.0 && trained > 0.0;
    }
    detail = "masked-row |grad| = " + std::to_string(masked) + ", trained-row |grad| = " + std::to_string(trained);
    ggml_free(ctx);
    return ok;
}

// Patch 0005 probe: OUT_PROD with an F16 and a Q8_0 src0 (the backward pass through a frozen weight) must match
// the F32 kernel on the same values.
static bool probe_out_prod(std::string & detail) {
    ggml_init_params ip = {/*.mem_size =*/ 64 * 1024 * 1024, /*.mem_buffer =*/ nullptr, /*.no_alloc =*/ false};
    ggml_context * ctx = ggml_init(ip);
    const int64_t n_in = 64, n_out = 40, n_tok = 37; // odd sizes: partial row blocks and thread splits
    ggml_tensor * w32 = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_in, n_out);
    ggml_tensor * g = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_tok, n_out);
    uint32_t state = 12345;
    auto rnd = [&]() { state = state * 1664525u + 1013904223u; return ((state >> 8) / 16777216.0f) - 0.5f; };
    for (int64_t i = 0; i < n_in * n_out; ++i) ((float *) w32->data)[i] = rnd();
    for (int64_t i = 0; i < n_tok * n_out; ++i) ((float *) g->data)[i] = rnd();
    double worst = 0.0;
    for (ggml_type type : {GGML_TYPE_F16, GGML_TYPE_Q8_0}) {
        ggml_tensor * wq = ggml_new_tensor_2d(ctx, type, n_in, n_out);
        ggml_quantize_chunk(type, (const float *) w32->data, wq->data, 0, n_out, n_in, nullptr);
        // reference: the same (rounded) weights in F32
        ggml_tensor * wr = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_in, n_out);
        ggml_get_type_traits(type)->to_float(wq->data, (float *) wr->data, n_in * n_out);
        ggml_tensor * a = ggml_out_prod(ctx, wq, g);
        ggml_tensor * b = ggml_out_prod(ctx, wr, g);
        ggml_cgraph * gf = ggml_new_graph(ctx);
        ggml_build_forward_expand(gf, a);
        ggml_build_forward_expand(gf, b);
        ggml_graph_compute_with_ctx(ctx, gf, 2);
        for (int64_t i = 0; i < ggml_nelements(a); ++i) {
            worst = std::max(worst, (double) std::fabs(((float *) a->data)[i] - ((float *) b->data)[i]));
        }
    }
    ggml_free(ctx);
    detail = "max |F16/Q8_0 - F32| = " + std::to_string(worst);
    return worst < 1e-4;
}

int run_check(int argc, char ** argv) {
    std::string expect_release;
    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "--expect-release") == 0 && i + 1 < argc) {
            expect_release = argv[++i];
        } else {
            fail(EXIT_USAGE, "usage/invalidOption", std::string("unknown check option ") + argv[i]);
        }
    }
    llama_backend_init();
    std::string devices = "[";
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        devices += std::string(i ? "," : "") + "\"" + json_escape(ggml_backend_dev_name(d)) + "\"";
    }
    devices += "]";
    std::string ce_detail;
    const bool ce_ok = probe_masked_cross_entropy(ce_detail);
    std::string op_detail;
    const bool op_ok = probe_out_prod(op_detail);
    const bool release_ok = expect_release.empty() || expect_release == PRISM_LLAMA_RELEASE;
    Event("check")
        .str("llamaCpp", PRISM_LLAMA_RELEASE)
        .str("commit", PRISM_LLAMA_COMMIT)
        .str("backend", PRISM_BACKEND)
        .str("patches", PRISM_PATCHES)
        .str("systemInfo", llama_print_system_info())
        .raw("devices", devices)
        .boolean("maskedCrossEntropy", ce_ok)
        .str("maskedCrossEntropyDetail", ce_detail)
        .boolean("outProdConverted", op_ok)
        .str("outProdDetail", op_detail)
        .boolean("releaseMatches", release_ok)
        .emit();
    if (!release_ok) {
        fail(EXIT_CHECK, "trainer/versionMismatch", std::string("prism-trainer was built from llama.cpp ") +
             PRISM_LLAMA_RELEASE + " but " + expect_release + " is expected; rebuild with npm run build:trainer");
    }
    if (!ce_ok) {
        fail(EXIT_CHECK, "trainer/patchMissing", "the cross-entropy masking patch (0003) is not active: " + ce_detail);
    }
    if (!op_ok) {
        fail(EXIT_CHECK, "trainer/patchMissing", "OUT_PROD of a converted weight is wrong (patch 0005): " + op_detail);
    }
    Event("done").emit();
    return EXIT_OK;
}

} // namespace prism
