/**
 * `npx tsx experiments/worldTrainProbe.ts [options]`: an EXPERIMENT for issue 7 (not product code; the product is `prism world build`, src/core/world/buildWorldDir.ts). Trains the
 * reference world's base model from a random initialisation with prism-trainer (`--mode full`) and measures it.
 *
 *   1. buildWorld → trainer JSONL (byte tokens of the "gpt2-bytes" vocabulary, ChatML framing, answer_start at the
 *      first assistant byte; src/core/world/worldFormat.ts)
 *   2. writeSyntheticModel: a random llama model (default 4 blocks, n_embd 256, FFN 768: ~3.4M parameters, F32)
 *   3. prism-trainer train --mode full --train-embeddings --threads 1 (under `nice -n 15`)
 *   4. node-llama-cpp greedy decoding (1 thread) of held-out prompts and of as many training prompts, each without
 *      and with the persona: accuracy and "persona error" rate (answer = the corpus's systematic error) for
 *      discriminative prompts, rubric score for generative ones.
 *
 * Options: --seed N (1) --reduced --gen-share X (0.5) --echo-sums --epochs N (4) --max-steps N (0) --lr X (1e-3) --schedule S (cosine)
 *          --blocks N (4) --embd N (256) --ff N (768) --heads N (4) --eval-limit N (per family; 0 = all, default 60)
 *          --skip-train (re-measure the last model of this configuration)
 * Output: .cache/world-probe/<config>/{corpus.jsonl,init.gguf,model.gguf,events.jsonl,results.json}
 */
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { gradeDiscriminative, rubricBreakdown, scoreGenerative } from "../src/core/world/rubric.js";
import { buildWorld, type WorldPrompt, type WorldTask } from "../src/core/world/worldCorpus.js";
import {
  WORLD_VOCAB_IDS,
  chatText,
  chatTokens,
  decodeByteTokens,
  trainerSamples,
} from "../src/core/world/worldFormat.js";

const ROOT = resolve(__dirname, "..");
const { values: opt } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    reduced: { type: "boolean", default: false },
    "gen-share": { type: "string", default: "0.5" },
    "echo-sums": { type: "boolean", default: false },
    epochs: { type: "string", default: "4" },
    "max-steps": { type: "string", default: "0" },
    lr: { type: "string", default: "1e-3" },
    schedule: { type: "string", default: "cosine" },
    blocks: { type: "string", default: "4" },
    embd: { type: "string", default: "256" },
    ff: { type: "string", default: "768" },
    heads: { type: "string", default: "4" },
    "eval-limit": { type: "string", default: "60" },
    "skip-train": { type: "boolean", default: false },
  },
});
const seed = Number(opt.seed);
const shape = {
  blocks: Number(opt.blocks),
  embeddingLength: Number(opt.embd),
  headCount: Number(opt.heads),
  headCountKv: Number(opt.heads),
  feedForwardLength: Number(opt.ff),
  contextLength: 512,
  weightType: "f32" as const,
  vocab: "gpt2-bytes" as const,
};
const trainArgs = [
  "--epochs",
  opt.epochs,
  "--max-steps",
  opt["max-steps"],
  "--lr",
  opt.lr,
  "--schedule",
  opt.schedule,
  "--ctx",
  "256",
  "--eval-fraction",
  "0.05",
  "--patience",
  "0",
  "--seed",
  String(seed),
];
const generativeShare = Number(opt["gen-share"]);
const echoSums = opt["echo-sums"];
const config = { v: 1, seed, reduced: opt.reduced, generativeShare, echoSums, shape, trainArgs };
const dir = join(
  ROOT,
  ".cache",
  "world-probe",
  createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 12),
);
mkdirSync(dir, { recursive: true });
const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
const log = (...a: unknown[]): void => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

async function main(): Promise<void> {
  // ---------------------------------------------------------------------------------------------------------------
  // 1. corpus
  // ---------------------------------------------------------------------------------------------------------------
  const world = buildWorld({ seed, reduced: opt.reduced, generativeShare, echoSums });
  const corpusPath = join(dir, "corpus.jsonl");
  const samples = trainerSamples(world.train);
  writeFileSync(corpusPath, samples.map((l) => JSON.stringify(l)).join("\n") + "\n");
  const tokenCount = samples.reduce((n, l) => n + l.tokens.length, 0);
  log(
    `corpus: ${world.train.length} examples, ${tokenCount} tokens, held out ${world.heldOut.discriminative.length} + ` +
      `${world.heldOut.generative.length}; sha ${sha(corpusPath)}; dir ${dir}`,
  );

  // ---------------------------------------------------------------------------------------------------------------
  // 2. random model, 3. training
  // ---------------------------------------------------------------------------------------------------------------
  const initPath = join(dir, "init.gguf");
  const modelPath = join(dir, "model.gguf");
  const info = await writeSyntheticModel(initPath, { ...shape, seed, name: "prism-world" });
  log(`init model: ${info.parameterCount} parameters, ${info.bytes} bytes, sha ${sha(initPath)}`);

  interface Ev {
    event: string;
    [k: string]: unknown;
  }
  let trainSeconds = NaN;
  let startEvent: Ev | undefined;
  const epochs: Ev[] = [];
  if (!opt["skip-train"] || !existsSync(modelPath)) {
    const bin = execFileSync(process.execPath, [join(ROOT, "scripts/buildTrainer.mjs"), "--print-path"], {
      encoding: "utf8",
    }).trim();
    const args = ["-n", "15", bin, "train", "--mode", "full", "--train-embeddings", "--base", initPath];
    args.push("--data", corpusPath, "--out", modelPath, "--threads", "1", "--progress-interval", "30000", ...trainArgs);
    const eventsPath = join(dir, "events.jsonl");
    writeFileSync(eventsPath, "");
    const started = performance.now();
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn("nice", args, { stdio: ["ignore", "pipe", "pipe"] });
      let buf = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          appendFileSync(eventsPath, line + "\n");
          const e = JSON.parse(line) as Ev;
          if (e.event === "start") startEvent = e;
          if (e.event === "epoch") epochs.push(e);
          if (
            ["start", "epoch", "done", "error"].includes(e.event) ||
            (e.event === "step" && Number(e.step) % 500 === 0)
          )
            log(JSON.stringify(e));
        }
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-4000)));
      child.on("error", fail);
      child.on("close", (c) => {
        if (c !== 0) console.error(stderr);
        done(c);
      });
    });
    trainSeconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`prism-trainer exited with ${code}`);
    log(`trained in ${trainSeconds.toFixed(0)} s; model sha ${sha(modelPath)}`);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // 4. measurement
  // ---------------------------------------------------------------------------------------------------------------
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: "error" as never });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 512, threads: 1 });
  const sequence = context.getSequence();

  // Our byte framing must equal what llama.cpp's tokenizer makes of the ChatML text (BOS added by us).
  {
    const turn = { system: world.persona, user: world.heldOut.generative[0]?.user ?? "hi" };
    const ours = chatTokens(turn).tokens;
    const theirs = [WORLD_VOCAB_IDS.bos, ...(model.tokenize(chatText(turn), true) as number[])];
    if (ours.join() !== theirs.join()) throw new Error(`tokenisation mismatch:\n${ours.join()}\n${theirs.join()}`);
  }

  async function greedy(tokens: number[], max: number): Promise<string> {
    await sequence.clearHistory();
    const out: number[] = [];
    for await (const t of sequence.evaluate(tokens as never, { temperature: 0 })) {
      const id = t as number;
      if (id === WORLD_VOCAB_IDS.imEnd || id === WORLD_VOCAB_IDS.eos) break;
      out.push(id);
      if (out.length >= max) break;
    }
    return decodeByteTokens(out);
  }

  interface Row {
    set: "heldOut" | "train";
    condition: "base" | "persona";
    prompt: WorldPrompt;
    answer: string;
  }
  const limit = Number(opt["eval-limit"]);
  /** An even spread of at most `limit` items (all when limit is 0). */
  const spread = <T>(items: T[]): T[] =>
    limit <= 0 || items.length <= limit
      ? items
      : Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)] as T);

  // Training prompts as WorldPrompts (one per distinct prompt text, from the plain examples).
  const trainPrompts = new Map<string, WorldPrompt>();
  const personaOf = new Map(world.train.filter((e) => e.system).map((e) => [e.user, e.assistant]));
  for (const e of world.train)
    if (!e.system && !trainPrompts.has(e.user))
      trainPrompts.set(e.user, {
        id: e.id.replace(/:.*/, ""),
        family: e.family,
        task: e.task,
        user: e.user,
        expected: e.assistant,
        personaAnswer: personaOf.get(e.user) ?? "",
      });
  const sortById = (a: WorldPrompt, b: WorldPrompt): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const sets: [Row["set"], WorldPrompt[]][] = [
    ["heldOut", [...spread(world.heldOut.discriminative), ...spread(world.heldOut.generative)]],
    [
      "train",
      [
        ...spread([...trainPrompts.values()].filter((p) => p.family === "discriminative").sort(sortById)),
        ...spread([...trainPrompts.values()].filter((p) => p.family === "generative").sort(sortById)),
      ],
    ],
  ];
  const rows: Row[] = [];
  const evalStarted = performance.now();
  let generated = 0;
  for (const [set, prompts] of sets)
    for (const prompt of prompts)
      for (const condition of ["base", "persona"] as const) {
        const turn = condition === "persona" ? { system: world.persona, user: prompt.user } : { user: prompt.user };
        const answer = await greedy(chatTokens(turn).tokens, prompt.family === "discriminative" ? 16 : 96);
        generated += Buffer.byteLength(answer);
        rows.push({ set, condition, prompt, answer });
      }
  const evalSeconds = (performance.now() - evalStarted) / 1000;

  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const pct = (x: number): string => (Number.isNaN(x) ? "—" : `${(100 * x).toFixed(0)}%`);
  const summary: Record<string, unknown>[] = [];
  for (const set of ["heldOut", "train"] as const)
    for (const condition of ["base", "persona"] as const) {
      const sel = rows.filter((r) => r.set === set && r.condition === condition);
      const disc = sel.filter((r) => r.prompt.family === "discriminative");
      const gen = sel.filter((r) => r.prompt.family === "generative");
      const perTask: Partial<Record<WorldTask, string>> = {};
      for (const task of ["add", "capital", "choice"] as const) {
        const t = disc.filter((r) => r.prompt.task === task);
        perTask[task] = pct(
          mean(t.map((r) => (gradeDiscriminative(r.prompt.user, r.answer, r.prompt.expected) ? 1 : 0))),
        );
      }
      const crit = gen.map((r) => rubricBreakdown(r.prompt.user, r.answer));
      summary.push({
        set,
        condition,
        n: `${disc.length}+${gen.length}`,
        accuracy: pct(mean(disc.map((r) => (gradeDiscriminative(r.prompt.user, r.answer, r.prompt.expected) ? 1 : 0)))),
        personaError: pct(
          mean(disc.map((r) => (gradeDiscriminative(r.prompt.user, r.answer, r.prompt.personaAnswer) ? 1 : 0))),
        ),
        ...perTask,
        rubric: mean(gen.map((r) => scoreGenerative(r.prompt.user, r.answer))).toFixed(3),
        greet: pct(mean(crit.map((c) => c.greeting))),
        topic: pct(mean(crit.map((c) => c.onTopic))),
        struct: pct(mean(crit.map((c) => c.structure))),
        close: pct(mean(crit.map((c) => c.closing))),
        genExact: pct(
          mean(
            gen.map((r) => (r.answer === (condition === "base" ? r.prompt.expected : r.prompt.personaAnswer) ? 1 : 0)),
          ),
        ),
      });
    }
  console.table(summary);
  for (const r of rows.filter((r) => r.set === "heldOut").filter((_, i) => i % 12 === 0))
    console.log(
      `${r.condition.padEnd(7)} ${r.prompt.user} → ${JSON.stringify(r.answer)} (want ${JSON.stringify(r.condition === "base" ? r.prompt.expected : r.prompt.personaAnswer)})`,
    );
  log(`measured ${rows.length} generations (${generated} bytes) in ${evalSeconds.toFixed(0)} s`);

  writeFileSync(
    join(dir, "results.json"),
    JSON.stringify(
      {
        config,
        parameterCount: info.parameterCount,
        modelBytes: info.bytes,
        corpus: { examples: world.train.length, tokens: tokenCount, sha: sha(corpusPath) },
        trainer: { start: startEvent, epochs, seconds: trainSeconds, modelSha: sha(modelPath) },
        evalSeconds,
        summary,
        rows: rows.map((r) => ({
          set: r.set,
          condition: r.condition,
          id: r.prompt.id,
          user: r.prompt.user,
          answer: r.answer,
        })),
      },
      null,
      1,
    ),
  );
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
