import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod";
import { loraSettingsSchema } from "../../core/distill/distillSettings.js";
import { NativeTrainer } from "../../core/distill/NativeTrainer.js";
import { ModelSession } from "../../core/engine/ModelSession.js";
import { AppError } from "../../core/errors.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { chatMessageSchema } from "../../protocol/engineProtocol.js";
import { intFlag, numberFlag, UsageError, type CliContext } from "../CliContext.js";
import { trainerBinary } from "../trainerBinary.js";
import { gpuFlag } from "./gpuFlag.js";

export const TRAIN_USAGE =
  "prism train --model <m.gguf> --data <chats.jsonl> --out <adapter.gguf> [--rank N] [--alpha A] [--epochs N] [--lr X] " +
  "[--window N] [--first-block N] [--targets a,b] [--loss sft|kl] [--seed N] [--threads N] [--gpu-layers N] [--json]";

const lineSchema = z.object({
  messages: z.array(chatMessageSchema).min(2),
  /** Teacher top-k rows per answer token (`{ids, logp}`), passed to the trainer as is for `--loss kl`. */
  teacher: z.record(z.string(), z.unknown()).optional(),
});

/** One training chat of the data file. */
export interface TrainChat {
  line: number;
  messages: z.infer<typeof chatMessageSchema>[];
  teacher?: Record<string, unknown>;
}

/**
 * Parses `{"messages": [...], "teacher"?: {...}}` lines: each chat ends with a user then an assistant message.
 *
 * @throws UsageError naming the file and line of the first bad chat, or when there is none.
 */
export function parseTrainChats(text: string, file: string): TrainChat[] {
  const chats: TrainChat[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (!line.trim()) continue;
    let parsed;
    try {
      parsed = lineSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = undefined;
    }
    const messages = parsed?.success ? parsed.data.messages : undefined;
    if (!messages || messages.at(-1)?.role !== "assistant" || messages.at(-2)?.role !== "user") {
      throw new UsageError(
        `${file}, line ${i + 1}: expected {"messages": [...]} ending with a user then an assistant message.`,
      );
    }
    chats.push({ line: i + 1, messages, teacher: parsed?.data?.teacher });
  }
  if (chats.length === 0) throw new UsageError(`${file} has no training chats.`);
  return chats;
}

/**
 * The loss of `prism train`: `--loss` when given (then `kl` without teachers fails in the trainer, naming the
 * line); otherwise `kl` only when every chat carries a teacher, else `sft` — plain chats have nothing to distil
 * from.
 */
export function trainLoss(flag: string | undefined, chats: readonly TrainChat[]): "sft" | "kl" {
  if (flag === "sft" || flag === "kl") return flag;
  if (flag !== undefined) throw new UsageError(`--loss must be sft or kl, got "${flag}".`);
  return chats.length > 0 && chats.every((c) => c.teacher !== undefined) ? "kl" : "sft";
}

/**
 * `prism train`: a LoRA from chats in the common `{"messages": [...]}` form; the loss is on the last assistant
 * message (`sft`, or `kl` to a teacher's top-k rows carried by every line). Each chat is formatted with the model's
 * own template by the engine, then trained by prism-trainer.
 */
export async function trainCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: Object.fromEntries(
      [
        "model",
        "data",
        "out",
        "rank",
        "alpha",
        "epochs",
        "lr",
        "window",
        "first-block",
        "targets",
        "seed",
        "threads",
        "gpu-layers",
        "gpu",
        "loss",
      ].map((k) => [k, { type: "string" as const }]),
    ) as Record<string, { type: "string" }>,
  });
  const s = v as Record<string, string | undefined>;
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!s.model || !s.data || !s.out) throw new UsageError("--model, --data and --out are required.");
  const threads = intFlag("threads", s.threads, 1, 1024) ?? defaultThreadCount();
  const text = await readFile(resolve(s.data), "utf8").catch((err: Error) => {
    throw new AppError("trainer/failed", `Cannot read ${s.data}: ${err.message}`);
  });
  const chats = parseTrainChats(text, s.data);
  const loss = trainLoss(s.loss, chats);
  const settings = loraSettingsSchema.parse({
    rank: intFlag("rank", s.rank, 1, 512),
    alpha: numberFlag("alpha", s.alpha, 0.001, 4096),
    epochs: intFlag("epochs", s.epochs, 1, 1000),
    learningRate: numberFlag("lr", s.lr, 1e-8, 1),
    contextSize: intFlag("window", s.window, 256, 131_072),
    targets: s.targets?.split(",").map((t) => t.trim()),
    loss,
  });
  const session = new ModelSession(ctx.engine(), { modelPath: resolve(s.model), gpu: gpuFlag(s.gpu), threads });
  const { modelId } = await session.model(ctx.signal);

  const lines: string[] = [];
  for (const chat of chats) {
    const last = chat.messages.at(-1)!;
    const f = await session.engine.request(
      "engine/formatPrompt",
      { modelId, messages: chat.messages.slice(0, -1), answer: last.content },
      { signal: ctx.signal },
    );
    const sample: Record<string, unknown> = { id: `line-${chat.line}`, tokens: f.tokens, answer_start: f.answerStart };
    if (loss === "kl" && chat.teacher) sample.teacher = chat.teacher;
    lines.push(JSON.stringify(sample));
  }
  const dir = await mkdtemp(join(tmpdir(), "prism-train-"));
  try {
    const dataPath = join(dir, "train.jsonl");
    await writeFile(dataPath, `${lines.join("\n")}\n`);
    const out = resolve(s.out);
    const trainer = new NativeTrainer({
      binaryPath: trainerBinary(),
      threads,
      gpuLayers: intFlag("gpu-layers", s["gpu-layers"], -1, 10_000),
    });
    const result = await trainer.train({
      basePath: resolve(s.model),
      dataPath,
      outPath: out,
      checkpointDir: dir,
      settings,
      firstBlock: intFlag("first-block", s["first-block"], 0, 10_000) ?? 1,
      seed: intFlag("seed", s.seed, 0, 2 ** 31 - 1) ?? 42,
      signal: ctx.signal,
      onEvent: (e) => {
        if (e.event === "epoch")
          ctx.stderr.write(`epoch ${e.epoch}/${e.epochs}: loss ${String(e.loss)}, eval ${String(e.evalLoss)}\n`);
      },
    });
    ctx.stdout.write(
      `wrote ${out} (${lines.length} samples, loss ${loss}, ${result.epochs.length} epochs, ${result.seconds.toFixed(1)} s)\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
