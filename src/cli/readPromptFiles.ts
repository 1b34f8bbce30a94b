import { readFile } from "node:fs/promises";
import * as z from "zod";
import { AppError } from "../core/errors.js";
import { personaSchema, type Persona } from "../core/pipeline/personas.js";

/** Reads `--personas`: a JSON array or JSONL of `{id, text}`. Errors: `distill/invalidPersonas`. */
export async function readPersonasFile(path: string): Promise<Persona[]> {
  const items = await readJsonItems(path, "distill/invalidPersonas");
  const personas = z.array(personaSchema).min(1).safeParse(items);
  if (!personas.success) {
    const issue = personas.error.issues[0];
    throw new AppError(
      "distill/invalidPersonas",
      `${path}: persona ${issue?.path.join(".") ?? ""}: ${issue?.message}.`,
    );
  }
  const ids = new Set<string>();
  for (const p of personas.data) {
    if (ids.has(p.id)) throw new AppError("distill/invalidPersonas", `${path}: persona id "${p.id}" appears twice.`);
    ids.add(p.id);
  }
  return personas.data;
}

/** Reads `--prompts`: JSONL of `{prompt, persona?}`, or plain text with one prompt per line. */
export async function readPromptsFile(path: string): Promise<Array<{ prompt: string; personaId?: string }>> {
  const text = await readText(path, "distill/invalidPrompts");
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const isJsonl = lines.length > 0 && lines.every((l) => l.trimStart().startsWith("{"));
  if (!isJsonl) return lines.map((prompt) => ({ prompt: prompt.trim() }));
  return lines.map((line, i) => {
    const parsed = z
      .object({ prompt: z.string().trim().min(1), persona: z.string().optional() })
      .safeParse(safeJson(line));
    if (!parsed.success)
      throw new AppError(
        "distill/invalidPrompts",
        `${path}, line ${i + 1}: expected {"prompt": "…", "persona"?: "…"}.`,
      );
    return { prompt: parsed.data.prompt, personaId: parsed.data.persona };
  });
}

/** Reads `--labelled` for gate-eval: JSONL of `{prompt, persona: boolean}`. */
export async function readLabelledFile(path: string): Promise<Array<{ prompt: string; label: 0 | 1 }>> {
  const text = await readText(path, "cli/usage");
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((line, i) => {
      const parsed = z.object({ prompt: z.string().min(1), persona: z.boolean() }).safeParse(safeJson(line));
      if (!parsed.success)
        throw new AppError("cli/usage", `${path}, line ${i + 1}: expected {"prompt": "…", "persona": true|false}.`);
      return { prompt: parsed.data.prompt, label: parsed.data.persona ? 1 : 0 };
    });
}

async function readJsonItems(path: string, code: "distill/invalidPersonas"): Promise<unknown[]> {
  const text = (await readText(path, code)).trim();
  if (text.startsWith("[")) {
    const value = safeJson(text);
    if (!Array.isArray(value)) throw new AppError(code, `${path} is not a JSON array.`);
    return value;
  }
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l, i) => {
      const v = safeJson(l);
      if (v === undefined) throw new AppError(code, `${path}, line ${i + 1}: not valid JSON.`);
      return v;
    });
}

async function readText(
  path: string,
  code: "distill/invalidPersonas" | "distill/invalidPrompts" | "cli/usage",
): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new AppError(code, `Cannot read ${path}: ${(err as Error).message}`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
