import { readFile } from "node:fs/promises";
import * as vscode from "vscode";
import { DISTILL_PRESETS, PRESET_VALUES, type DistillPreset } from "../../core/cost/distillPresets.js";
import { formatDistillCost, formatDuration, type DistillEstimate } from "../../core/cost/estimateDistillation.js";
import { DEFAULT_PERSONAS, personaSchema, type Persona } from "../../core/pipeline/personas.js";
import type { JobManager } from "../jobs/JobManager.js";

const PRESET_LABELS: Record<DistillPreset, { label: string; detail: string }> = {
  quick: {
    label: "Quick",
    detail: "6 personas × 16 queries, 256-token answers, 1 epoch: the smallest job that still trains the gate",
  },
  standard: { label: "Standard", detail: "12 personas × 16 queries, 384-token answers, 3 epochs" },
  paper: {
    label: "Paper",
    detail: "The method's full settings: 12 personas × 50 queries, 512-token answers, 10 epochs",
  },
};

/**
 * "PRISM: Start Distillation": size (a preset, `prism.distill.preset` first), persona set (the preset's, the 12
 * defaults, a subset, or your own), queries per persona, an optional prompts file, and the bundle name. The model
 * is loaded and this machine measured, and the job starts only after the user has seen the work and the time
 * estimate (docs/method.md §7); it then runs in the background (Jobs view + notification).
 */
export async function startDistillation(
  jobs: JobManager,
  proposed: DistillPreset = "quick",
): Promise<string | undefined> {
  const order = [proposed, ...DISTILL_PRESETS.filter((p) => p !== proposed)];
  const size = await vscode.window.showQuickPick(
    order.map((value) => ({ ...PRESET_LABELS[value], value, description: value === proposed ? "(setting)" : "" })),
    { title: "PRISM distillation: size (every value can be changed in the next steps)" },
  );
  if (!size) return undefined;
  const preset = PRESET_VALUES[size.value];
  const presetPersonas = preset.personaIds
    ? [
        {
          label: `The preset's ${preset.personaIds.length} personas`,
          description: preset.personaIds.join(", "),
          value: "preset",
        },
      ]
    : [];
  const mode = await vscode.window.showQuickPick(
    [
      ...presetPersonas,
      { label: "All 12 default personas", value: "all" },
      { label: "Choose among the default personas…", value: "some" },
      { label: "Write my own persona…", value: "own" },
      { label: "Load personas from a JSON file…", value: "file" },
    ],
    { title: "PRISM distillation: personas" },
  );
  if (!mode) return undefined;
  let personas: Persona[] = DEFAULT_PERSONAS.map(({ id, text }) => ({ id, text }));
  if (mode.value === "preset") {
    personas = personas.filter((p) => preset.personaIds?.includes(p.id));
  } else if (mode.value === "some") {
    const picked = await vscode.window.showQuickPick(
      DEFAULT_PERSONAS.map((p) => ({ label: p.id, description: p.min, detail: p.half, picked: true })),
      { canPickMany: true, title: "Personas to distil" },
    );
    if (!picked?.length) return undefined;
    personas = personas.filter((p) => picked.some((x) => x.label === p.id));
  } else if (mode.value === "own") {
    const text = await vscode.window.showInputBox({
      title: "Your persona (system prompt)",
      prompt: "e.g. You are a meticulous code reviewer who…",
      validateInput: (v) => (v.trim().length < 10 ? "Write at least a sentence." : undefined),
    });
    if (!text) return undefined;
    personas = [{ id: "custom", text: text.trim() }];
  } else if (mode.value === "file") {
    const file = await vscode.window.showOpenDialog({ filters: { JSON: ["json"] }, canSelectMany: false });
    if (!file?.[0]) return undefined;
    const parsed = personaSchema
      .array()
      .min(1)
      .safeParse(JSON.parse(await readFile(file[0].fsPath, "utf8")));
    if (!parsed.success) throw new Error(`${file[0].fsPath}: expected a JSON array of {"id", "text"}.`);
    personas = parsed.data;
  }
  const count = await vscode.window.showInputBox({
    title: "Queries per persona",
    value: String(preset.queriesPerPersona),
    prompt: "The model writes this many questions per persona (the paper: 50). 0 = only your own prompts.",
    validateInput: (v) => (/^\d{1,4}$/.test(v.trim()) ? undefined : "A whole number from 0 to 9999."),
  });
  if (count === undefined) return undefined;
  const promptsFile = await vscode.window.showQuickPick(["No", "Yes, choose a file…"], {
    title: "Add prompts of your own (JSONL or TXT)?",
  });
  let userPrompts: Array<{ prompt: string; personaId?: string }> = [];
  if (promptsFile?.startsWith("Yes")) {
    const file = await vscode.window.showOpenDialog({ filters: { Prompts: ["jsonl", "txt"] }, canSelectMany: false });
    if (file?.[0]) {
      const text = await readFile(file[0].fsPath, "utf8");
      userPrompts = text
        .split(/\r?\n/)
        .filter((l) => l.trim())
        .map((l) => {
          if (!l.trimStart().startsWith("{")) return { prompt: l.trim() };
          const o = JSON.parse(l) as { prompt?: unknown; persona?: unknown };
          return { prompt: String(o.prompt ?? ""), personaId: typeof o.persona === "string" ? o.persona : undefined };
        })
        .filter((p) => p.prompt.trim());
    }
  }
  const name = await vscode.window.showInputBox({
    title: "Bundle name",
    value: `prism-${new Date().toISOString().slice(0, 10)}`,
    validateInput: (v) => (/^[\w.-]{1,64}$/.test(v) ? undefined : "Letters, digits, '.', '_' or '-' (at most 64)."),
  });
  if (!name) return undefined;
  let measured!: () => void;
  const measuring = new Promise<void>((resolve) => (measured = resolve));
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "PRISM: loading the model and measuring this machine…" },
    () => measuring,
  );
  let started = false;
  await jobs.start({
    name,
    personas,
    queriesPerPersona: Number(count),
    userPrompts,
    preset: size.value,
    confirm: async (estimate) => {
      measured();
      started = await confirmEstimate(name, estimate);
      return started;
    },
  });
  // A job that fails before its estimate (a model the trainer refuses, say) must not leave the progress open.
  void jobs.whenSettled(name).finally(measured);
  void vscode.commands.executeCommand("prism.jobs.focus");
  return name;
}

/** The work and time estimate, and the choice to start. */
async function confirmEstimate(name: string, estimate: DistillEstimate): Promise<boolean> {
  const choice = await vscode.window.showInformationMessage(
    `Distil "${name}": about ${formatDuration(estimate.cost.totalSeconds)} on this machine.`,
    { modal: true, detail: formatDistillCost(estimate.cost, estimate.rates, estimate.memory).join("\n") },
    "Start",
  );
  return choice === "Start";
}
