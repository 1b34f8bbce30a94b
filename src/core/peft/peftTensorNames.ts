import { AppError } from "../errors.js";

/**
 * The llama.cpp architectures whose LoRA tensors this module maps to Hugging Face PEFT names: the ones PRISM
 * generates and trains (docs/peft.md §3). Mistral checkpoints convert to `llama`.
 */
export const PEFT_ARCHITECTURES = ["llama", "qwen2", "qwen3", "gemma3", "phi3"] as const;
/** A llama.cpp architecture with a PEFT mapping. */
export type PeftArchitecture = (typeof PEFT_ARCHITECTURES)[number];

/**
 * GGUF block tensor → Hugging Face module path inside `model.layers.N`, from llama.cpp's
 * `gguf-py/gguf/tensor_mapping.py` (`llama-hf` rows). Phi-3's Hugging Face checkpoints keep q/k/v and gate/up
 * fused (`qkv_proj`, `gate_up_proj`), exactly as its GGUF does (`attn_qkv`, `ffn_up`), and convert_hf_to_gguf.py
 * copies them unchanged, so no split or merge is needed in either direction.
 */
const MODULES: Record<PeftArchitecture, Readonly<Record<string, string>>> = {
  llama: llamaLike(),
  qwen2: llamaLike(),
  qwen3: llamaLike(),
  gemma3: llamaLike(),
  phi3: {
    attn_qkv: "self_attn.qkv_proj",
    attn_output: "self_attn.o_proj",
    ffn_up: "mlp.gate_up_proj",
    ffn_down: "mlp.down_proj",
  },
};

function llamaLike(): Record<string, string> {
  return {
    attn_q: "self_attn.q_proj",
    attn_k: "self_attn.k_proj",
    attn_v: "self_attn.v_proj",
    attn_output: "self_attn.o_proj",
    ffn_gate: "mlp.gate_proj",
    ffn_up: "mlp.up_proj",
    ffn_down: "mlp.down_proj",
  };
}

/** PEFT saves `get_peft_model(AutoModelForCausalLM…)` weights under this prefix (the PeftModel wraps the model). */
export const PEFT_PREFIX = "base_model.model.model.layers.";

/** One LoRA pair's place: the block and the GGUF tensor (`attn_q`), and its PEFT module path (`self_attn.q_proj`). */
export interface LoraSite {
  block: number;
  /** GGUF tensor within the block, without `.weight`: `attn_q`. */
  target: string;
  /** Hugging Face module path within the layer: `self_attn.q_proj`. */
  module: string;
}

/** `architecture` as a {@link PeftArchitecture}, or `peft/unsupportedArchitecture` naming it. */
export function peftArchitecture(architecture: string): PeftArchitecture {
  if ((PEFT_ARCHITECTURES as readonly string[]).includes(architecture)) return architecture as PeftArchitecture;
  throw new AppError(
    "peft/unsupportedArchitecture",
    `PEFT export/import does not know the tensor names of architecture "${architecture}"; it supports ` +
      `${PEFT_ARCHITECTURES.join(", ")}.`,
    { architecture },
  );
}

/** The GGUF block tensors (`attn_q`, …) LoRA may target in `arch`, in block order. */
export function loraTargets(arch: PeftArchitecture): string[] {
  return Object.keys(MODULES[arch]);
}

/** The PEFT module path of GGUF `target` in `arch`, or `peft/unknownTensor` when it has none. */
export function peftModule(arch: PeftArchitecture, target: string): string {
  const module = MODULES[arch][target];
  if (module === undefined) {
    throw new AppError(
      "peft/unknownTensor",
      `GGUF tensor "${target}" of architecture ${arch} has no PEFT name; LoRA targets there are ` +
        `${loraTargets(arch).join(", ")}.`,
      { architecture: arch, target },
    );
  }
  return module;
}

/** The GGUF target of PEFT `module` in `arch` (`self_attn.q_proj` → `attn_q`), or undefined. */
export function ggufTarget(arch: PeftArchitecture, module: string): string | undefined {
  return Object.entries(MODULES[arch]).find(([, m]) => m === module)?.[0];
}

/** `blk.3.attn_q.weight.lora_a` → `{block: 3, target: "attn_q", half: "a"}`; undefined for other names. */
export function parseGgufLoraName(name: string): { block: number; target: string; half: "a" | "b" } | undefined {
  const m = /^blk\.(\d+)\.([a-z0-9_]+)\.weight\.lora_([ab])$/.exec(name);
  return m ? { block: Number(m[1]), target: m[2] ?? "", half: m[3] === "a" ? "a" : "b" } : undefined;
}

/** `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` for site 3/`self_attn.q_proj`, half "a". */
export function peftTensorName(site: Pick<LoraSite, "block" | "module">, half: "a" | "b"): string {
  return `${PEFT_PREFIX}${site.block}.${site.module}.lora_${half === "a" ? "A" : "B"}.weight`;
}

/**
 * The block, module and half of a PEFT LoRA tensor name, or undefined when it is not one. Accepts the adapter-name
 * infix that some PEFT versions leave in (`lora_A.default.weight`).
 */
export function parsePeftTensorName(name: string): { block: number; module: string; half: "a" | "b" } | undefined {
  if (!name.startsWith(PEFT_PREFIX)) return undefined;
  const m = /^(\d+)\.((?:self_attn|mlp)\.[a-z_]+)\.lora_([AB])(?:\.default)?\.weight$/.exec(
    name.slice(PEFT_PREFIX.length),
  );
  return m ? { block: Number(m[1]), module: m[2] ?? "", half: m[3] === "A" ? "a" : "b" } : undefined;
}

/**
 * How many heads the rows of `target`'s output are grouped in, when llama.cpp reorders them: convert_hf_to_gguf.py
 * permutes Llama's `q_proj` (by `n_head`) and `k_proj` (by `n_head_kv`) rows from Hugging Face's rotate-half RoPE
 * layout to ggml's interleaved one (its `LlamaModel.permute`), and convert_lora_to_gguf.py applies the same to
 * `lora_B`'s rows. Qwen, Gemma 3 and Phi-3 use the NeoX layout on both sides and are not permuted.
 */
export function ropePermuteHeads(
  arch: PeftArchitecture,
  target: string,
  heads: { headCount: number; headCountKv: number },
): number | undefined {
  if (arch !== "llama") return undefined;
  if (target === "attn_q") return heads.headCount;
  if (target === "attn_k") return heads.headCountKv;
  return undefined;
}
