import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as z from "zod";
import { loraSettingsSchema } from "../../core/distill/distillSettings.js";
import { NativeTrainer } from "../../core/distill/NativeTrainer.js";
import { ModelSession } from "../../core/engine/ModelSession.js";
import { AppError } from "../../core/errors.js";
import { chatMessageSchema } from "../../protocol/engineProtocol.js";
import { LORA_TARGETS } from "../../core/model/trainerSupport.js";
import { UsageError } from "../CliContext.js";
import { intOption, listOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import {
  ENGINE_OPTIONS,
  JOB_SEED_MAX,
  LORA_DEFAULTS,
  LORA_OPTIONS,
  lossOption,
  MODEL_OPTION,
  seedOption,
} from "../options/commonOptions.js";
import { trainerBinary } from "../trainerBinary.js";

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
export function trainLoss(flag: "sft" | "kl" | undefined, chats: readonly TrainChat[]): "sft" | "kl" {
  if (flag !== undefined) return flag;
  return chats.length > 0 && chats.every((c) => c.teacher !== undefined) ? "kl" : "sft";
}

/**
 * `prism train`: a LoRA from chats in the common `{"messages": [...]}` form; the loss is on the last assistant
 * message (`sft`, or `kl` to a teacher's top-k rows carried by every line). Each chat is formatted with the model's
 * own template by the engine, then trained by prism-trainer.
 */
export const trainCommand = cliCommand(
  {
    name: "train",
    summary: "train a LoRA adapter on chats with prism-trainer",
    description:
      'Trains a LoRA adapter on chats in the common form, one {"messages": [...]} per line, ending with a user then ' +
      "an assistant message. Each chat is formatted with the model's own template; the loss is on the last " +
      'assistant message: sft, or kl to a teacher\'s top-k rows that every line carries as "teacher" ' +
      "(docs/trainer.md §10).",
    options: {
      model: MODEL_OPTION,
      data: stringOption({ valueName: "<chats.jsonl>", description: "the training chats", required: true }),
      out: stringOption({ valueName: "<adapter.gguf>", description: "the adapter to write", required: true }),
      ...LORA_OPTIONS,
      "first-block": intOption({
        description: "the first block the LoRA adapts (the blocks below stay as they are)",
        min: 0,
        max: 10_000,
        default: 1,
      }),
      targets: listOption({
        description: "the block weights to adapt",
        choices: LORA_TARGETS,
        defaultText: LORA_DEFAULTS.targets.join(","),
      }),
      loss: lossOption("kl when every chat carries a teacher, else sft"),
      seed: seedOption({ description: "the trainer's seed", max: JOB_SEED_MAX, default: 42 }),
      ...ENGINE_OPTIONS,
      "gpu-layers": intOption({
        description: "model layers the trainer offloads to the GPU; -1 offloads all",
        min: -1,
        max: 10_000,
        defaultText: "0",
      }),
    },
  },
  async ({ values: v }, ctx) => {
    const text = await readFile(resolve(v.data), "utf8").catch((err: Error) => {
      throw new AppError("trainer/failed", `Cannot read ${v.data}: ${err.message}`);
    });
    const chats = parseTrainChats(text, v.data);
    const loss = trainLoss(v.loss, chats);
    const settings = loraSettingsSchema.parse({
      rank: v.rank,
      alpha: v.alpha,
      epochs: v.epochs,
      learningRate: v.lr,
      contextSize: v.window,
      targets: v.targets,
      loss,
    });
    const session = new ModelSession(ctx.engine(), { modelPath: resolve(v.model), gpu: v.gpu, threads: v.threads });
    const { modelId } = await session.model(ctx.signal);

    const lines: string[] = [];
    for (const chat of chats) {
      const last = chat.messages.at(-1)!;
      const f = await session.engine.request(
        "engine/formatPrompt",
        { modelId, messages: chat.messages.slice(0, -1), answer: last.content },
        { signal: ctx.signal },
      );
      const sample: Record<string, unknown> = {
        id: `line-${chat.line}`,
        tokens: f.tokens,
        answer_start: f.answerStart,
      };
      if (loss === "kl" && chat.teacher) sample.teacher = chat.teacher;
      lines.push(JSON.stringify(sample));
    }
    const dir = await mkdtemp(join(tmpdir(), "prism-train-"));
    try {
      const dataPath = join(dir, "train.jsonl");
      await writeFile(dataPath, `${lines.join("\n")}\n`);
      const out = resolve(v.out);
      const trainer = new NativeTrainer({
        binaryPath: trainerBinary(),
        threads: v.threads,
        gpuLayers: v["gpu-layers"],
      });
      const result = await trainer.train({
        basePath: resolve(v.model),
        dataPath,
        outPath: out,
        checkpointDir: dir,
        settings,
        firstBlock: v["first-block"],
        seed: v.seed,
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
  },
);
