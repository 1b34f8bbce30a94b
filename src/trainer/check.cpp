// `prism-trainer check`: what this binary was built from and whether the training fixes are live
// (docs/trainer.md §3, self-check). Exits 5 on any failed probe.
#include "cpu_check.h"
#include "events.h"

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

// Patch 0010: cross-entropy with sparse label rows; declared by its callers, not in ggml.h. Weak: null without it.
extern "C" __attribute__((weak)) ggml_tensor * ggml_cross_entropy_loss_sparse(ggml_context * ctx, ggml_tensor * a,
                                                                              ggml_tensor * b);

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

// One cross-entropy loss and its gradient as training allocates them (graph allocator, CPU backend): the logits
// are a computed, non-output tensor, as in patch 0009's training graphs. Labels: dense rows, or with `sparse` the
// same rows as (id, weight) pairs (patch 0010).
struct CeRun {
    float loss = NAN;
    std::vector<float> grad;
    bool in_place = false;   // the gradient overwrote the logits (patch 0009)
    double ref_error = NAN;  // max |gradient - (softmax*sum(row) - row)/rows| computed here in double
};

static CeRun run_cross_entropy(bool sparse) {
    const int nc = 7, nr = 3, k = 4;
    const float xv[nc * nr] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 0.25f, -0.5f,
                               3.0f, 0.1f, -2.0f, 0.7f, 0.0f, 1.5f, -0.3f,
                               -1.2f, 0.4f, 0.9f, 2.2f, -0.6f, 0.05f, 1.1f};
    // row 0: one-hot 1.5 at id 2; row 1 masked; row 2 soft, with a repeated id (weights add up)
    const float ids[nr][k] = {{2, 0, 0, 0}, {0, 0, 0, 0}, {0, 4, 4, 6}};
    const float wts[nr][k] = {{1.5f, 0, 0, 0}, {0, 0, 0, 0}, {0.2f, 0.3f, 0.1f, 0.4f}};
    std::vector<float> yv;
    if (sparse) {
        for (int r = 0; r < nr; ++r) {
            yv.insert(yv.end(), ids[r], ids[r] + k);
            yv.insert(yv.end(), wts[r], wts[r] + k);
        }
    } else {
        yv.assign(nc * nr, 0.0f);
        for (int r = 0; r < nr; ++r) {
            for (int j = 0; j < k; ++j) {
                yv[r * nc + (int) ids[r][j]] += wts[r][j];
            }
        }
    }
    ggml_init_params ip = {/*.mem_size =*/ 4 * 1024 * 1024, /*.mem_buffer =*/ nullptr, /*.no_alloc =*/ true};
    ggml_context * ctx = ggml_init(ip);
    ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, nc, nr);
    ggml_set_param(x);
    ggml_tensor * logits = ggml_scale(ctx, x, 1.0f);
    ggml_tensor * labels = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, sparse ? 2 * k : nc, nr);
    ggml_set_input(labels);
    ggml_tensor * loss = sparse ? ggml_cross_entropy_loss_sparse(ctx, logits, labels)
                                : ggml_cross_entropy_loss(ctx, logits, labels);
    ggml_set_output(loss);
    ggml_set_loss(loss);
    ggml_cgraph * gb = ggml_new_graph_custom(ctx, GGML_DEFAULT_GRAPH_SIZE, true);
    ggml_build_forward_expand(gb, loss);
    ggml_build_backward_expand(ctx, gb, nullptr);
    ggml_tensor * grad = ggml_graph_get_grad(gb, logits);
    ggml_set_output(grad);
    CeRun out;
    ggml_backend_t cpu = ggml_backend_cpu_init();
    ggml_gallocr_t galloc = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    if (cpu && galloc && grad && ggml_gallocr_alloc_graph(galloc, gb)) {
        ggml_backend_tensor_set(x, xv, 0, sizeof(xv));
        ggml_backend_tensor_set(labels, yv.data(), 0, yv.size() * sizeof(float));
        ggml_graph_reset(gb);
        out.in_place = grad->data == logits->data;
        if (ggml_backend_graph_compute(cpu, gb) == GGML_STATUS_SUCCESS) {
            ggml_backend_tensor_get(loss, &out.loss, 0, sizeof(float));
            out.grad.resize(nc * nr);
            ggml_backend_tensor_get(grad, out.grad.data(), 0, out.grad.size() * sizeof(float));
            out.ref_error = 0.0;
            for (int r = 0; r < nr; ++r) {
                double mx = -INFINITY, se = 0.0, sw = 0.0;
                std::vector<double> row(nc, 0.0);
                for (int j = 0; j < k; ++j) {
                    row[(int) ids[r][j]] += wts[r][j];
                    sw += wts[r][j];
                }
                for (int c = 0; c < nc; ++c) mx = std::max(mx, (double) xv[r * nc + c]);
                for (int c = 0; c < nc; ++c) se += std::exp(xv[r * nc + c] - mx);
                for (int c = 0; c < nc; ++c) {
                    const double g = (std::exp(xv[r * nc + c] - mx) / se * sw - row[c]) / nr;
                    out.ref_error = std::max(out.ref_error, std::fabs(g - out.grad[r * nc + c]));
                }
            }
        }
    }
    ggml_gallocr_free(galloc);
    ggml_backend_free(cpu);
    ggml_free(ctx);
    return out;
}

// Patch 0009 probe: the cross-entropy gradient is computed in place over the logits (no extra [n_vocab, ctx]
// tensor) and is still the exact gradient. Patch 0010 probe: sparse label rows give the dense rows' loss and
// gradient.
static bool probe_cross_entropy_memory(bool & in_place_ok, std::string & in_place_detail, bool & sparse_ok,
                                       std::string & sparse_detail) {
    const CeRun dense = run_cross_entropy(false);
    const bool finite = std::isfinite(dense.loss) && !dense.grad.empty();
    in_place_ok = finite && dense.in_place && dense.ref_error < 1e-6;
    in_place_detail = std::string("gradient ") + (dense.in_place ? "in place over" : "beside") +
                      " the logits, max |gradient - exact| = " + std::to_string(dense.ref_error);
    if (!ggml_cross_entropy_loss_sparse) {
        sparse_ok = false;
        sparse_detail = "ggml_cross_entropy_loss_sparse missing";
        return in_place_ok && sparse_ok;
    }
    const CeRun sp = run_cross_entropy(true);
    double worst = std::fabs((double) sp.loss - dense.loss);
    for (size_t i = 0; i < dense.grad.size() && sp.grad.size() == dense.grad.size(); ++i) {
        worst = std::max(worst, (double) std::fabs(sp.grad[i] - dense.grad[i]));
    }
    sparse_ok = finite && sp.grad.size() == dense.grad.size() && std::isfinite(sp.loss) && worst < 1e-6 &&
                sp.ref_error < 1e-6 && sp.in_place;
    sparse_detail = "max |sparse - dense| (loss, gradient) = " + std::to_string(worst) + (sp.in_place ? "" : ", not in place");
    return in_place_ok && sparse_ok;
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
    bool ip_ok = false, sp_ok = false;
    std::string ip_detail, sp_detail;
    probe_cross_entropy_memory(ip_ok, ip_detail, sp_ok, sp_detail);
    const bool release_ok = expect_release.empty() || expect_release == PRISM_LLAMA_RELEASE;
    Event("check")
        .str("llamaCpp", PRISM_LLAMA_RELEASE)
        .str("commit", PRISM_LLAMA_COMMIT)
        .str("backend", PRISM_BACKEND)
        .str("patches", PRISM_PATCHES)
        .str("cpuVariant", cpu_variant())
        .str("systemInfo", llama_print_system_info())
        .raw("devices", devices)
        .boolean("maskedCrossEntropy", ce_ok)
        .str("maskedCrossEntropyDetail", ce_detail)
        .boolean("outProdConverted", op_ok)
        .str("outProdDetail", op_detail)
        .boolean("crossEntropyInPlace", ip_ok)
        .str("crossEntropyInPlaceDetail", ip_detail)
        .boolean("sparseCrossEntropy", sp_ok)
        .str("sparseCrossEntropyDetail", sp_detail)
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
    if (!ip_ok) {
        fail(EXIT_CHECK, "trainer/patchMissing", "the cross-entropy gradient is not computed in place (patch 0009): " +
             ip_detail);
    }
    if (!sp_ok) {
        fail(EXIT_CHECK, "trainer/patchMissing", "sparse cross-entropy labels are wrong or missing (patch 0010): " +
             sp_detail);
    }
    Event("done").emit();
    return EXIT_OK;
}

} // namespace prism
