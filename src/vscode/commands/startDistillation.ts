import { readFile } from "node:fs/promises";
import * as vscode from "vscode";
import { DEFAULT_PERSONAS, personaSchema, type Persona } from "../../core/pipeline/personas.js";
import type { JobManager } from "../jobs/JobManager.js";

/**
 * "PRISM: Start Distillation": persona set (the 12 defaults, a subset, or your own), queries per persona, an
 * optional prompts file, and the bundle name; the job then runs in the background (Jobs view + notification).
 */
export async function startDistillation(jobs: JobManager): Promise<string | undefined> {
  const mode = await vscode.window.showQuickPick(
    [
      { label: "All 12 default personas", value: "all" },
      { label: "Choose among the default personas…", value: "some" },
      { label: "Write my own persona…", value: "own" },
      { label: "Load personas from a JSON file…", value: "file" },
    ],
    { title: "PRISM distillation: personas" },
  );
  if (!mode) return undefined;
  let personas: Persona[] = DEFAULT_PERSONAS.map(({ id, text }) => ({ id, text }));
  if (mode.value === "some") {
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
    value: "50",
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
  await jobs.start({ name, personas, queriesPerPersona: Number(count), userPrompts });
  void vscode.commands.executeCommand("prism.jobs.focus");
  return name;
}
