#!/usr/bin/env python3
"""Writes a BENCH_MODEL-shaped F32 llama GGUF (12 blocks, n_embd 1024, GQA 16/4, FFN 2816, 259-token byte SPM
vocabulary) for GPU throughput checks on machines without node. Weights are windows of one seeded normal pool
(like src/core/gguf/syntheticModel.ts's PooledSampler): fine for timing, not for quality.
Usage: python3 experiments/trainerGpuModel.py <out.gguf> [blocks] [n_embd] [n_ff]"""
import random
import struct
import sys
from array import array

out = sys.argv[1]
L = int(sys.argv[2]) if len(sys.argv) > 2 else 12
E = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
F = int(sys.argv[4]) if len(sys.argv) > 4 else 2816
H, HKV = 16, 4
KV = E // H * HKV
tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
V = len(tokens)

rng = random.Random(1)
POOL = 1 << 20
pool = array("f", (rng.gauss(0.0, 1.0) for _ in range(POOL)))


scaled = {}


def weights(count, std):
    if std not in scaled:  # a handful of distinct std values: scale the pool once per value
        scaled[std] = array("f", (x * std for x in pool))
    src = scaled[std]
    a = array("f")
    while len(a) < count:
        n = min(65536, count - len(a))
        s = rng.randrange(POOL - n)
        a.extend(src[s:s + n])
    return a


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


kvs = []
def kv(key, vtype, payload):
    kvs.append(s(key) + struct.pack("<I", vtype) + payload)

kv("general.architecture", 8, s("llama"))
kv("general.type", 8, s("model"))
kv("general.file_type", 4, struct.pack("<I", 0))
for k, v in [("context_length", 2048), ("embedding_length", E), ("block_count", L), ("feed_forward_length", F),
             ("rope.dimension_count", E // H), ("attention.head_count", H), ("attention.head_count_kv", HKV)]:
    kv("llama." + k, 4, struct.pack("<I", v))
kv("llama.rope.freq_base", 6, struct.pack("<f", 10000.0))
kv("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5))
kv("tokenizer.ggml.model", 8, s("llama"))
kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, V) + b"".join(s(t) for t in tokens))
kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, V) + struct.pack("<%df" % V, *([0.0] * V)))
kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, V) + struct.pack("<%di" % V, *([2, 3, 3] + [6] * 256)))
for k, v in [("bos_token_id", 1), ("eos_token_id", 2), ("unknown_token_id", 0)]:
    kv("tokenizer.ggml." + k, 4, struct.pack("<I", v))

tensors = [("token_embd.weight", [E, V], 1.0), ("output_norm.weight", [E], 0), ("output.weight", [E, V], 2 / E ** 0.5)]
for i in range(L):
    p = "blk.%d." % i
    tensors += [(p + "attn_norm.weight", [E], 0), (p + "attn_q.weight", [E, E], E ** -0.5),
                (p + "attn_k.weight", [E, KV], E ** -0.5), (p + "attn_v.weight", [E, KV], E ** -0.5),
                (p + "attn_output.weight", [E, E], E ** -0.5), (p + "ffn_norm.weight", [E], 0),
                (p + "ffn_gate.weight", [E, F], E ** -0.5), (p + "ffn_up.weight", [E, F], E ** -0.5),
                (p + "ffn_down.weight", [F, E], F ** -0.5)]

ALIGN = 32
infos, offset = [], 0
for name, dims, _ in tensors:
    n = 1
    for d in dims:
        n *= d
    infos.append(s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
                 + struct.pack("<IQ", 0, offset))
    offset += (n * 4 + ALIGN - 1) // ALIGN * ALIGN

with open(out, "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k in kvs:
        f.write(k)
    for i in infos:
        f.write(i)
    f.write(b"\0" * (-f.tell() % ALIGN))
    for name, dims, std in tensors:
        n = 1
        for d in dims:
            n *= d
        data = array("f", [1.0]) * n if std == 0 else weights(n, std)
        f.write(data.tobytes())
        f.write(b"\0" * (-(n * 4) % ALIGN))
print(out)
