import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AppError } from "../errors.js";
import { hashFile } from "../util/hashFile.js";
import { worldManifestSchema, worldPromptSchema, type WorldManifest, type WorldPromptLine } from "./worldManifest.js";

/** A built world, validated: its manifest, model path, held-out and distillation prompts. */
export interface LoadedWorld {
  dir: string;
  manifest: WorldManifest;
  modelPath: string;
  heldOut: WorldPromptLine[];
  prompts: WorldPromptLine[];
}

/**
 * Opens a world directory made by `prism world build`: `world.json` must parse and match its schema, every file
 * must exist, and the model's SHA-256 must be the recorded one (`world/modelMismatch`), so an evaluation never
 * runs on a model other than the one the world was built with.
 */
export async function readWorld(dirArg: string): Promise<LoadedWorld> {
  const dir = resolve(dirArg);
  let text: string;
  try {
    text = await readFile(join(dir, "world.json"), "utf8");
  } catch {
    throw new AppError("world/notFound", `${dir} is not a built world (no world.json); run "prism world build".`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError("world/invalid", `${join(dir, "world.json")} is not valid JSON.`);
  }
  const parsed = worldManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("world/invalid", `${join(dir, "world.json")}: ${issue?.path.join(".")}: ${issue?.message}.`);
  }
  const manifest = parsed.data;
  const modelPath = join(dir, manifest.files.model.path);
  if (!existsSync(modelPath)) throw new AppError("world/notFound", `The world's model ${modelPath} is missing.`);
  const actual = await hashFile(modelPath);
  if (actual !== manifest.files.model.sha256) {
    throw new AppError(
      "world/modelMismatch",
      `${modelPath} is not the model this world was built with (SHA-256 ${actual.slice(0, 12)}…, expected ` +
        `${manifest.files.model.sha256.slice(0, 12)}…); rebuild it with "prism world build --fresh".`,
    );
  }
  return {
    dir,
    manifest,
    modelPath,
    heldOut: await readPrompts(join(dir, manifest.files.heldOut.path)),
    prompts: await readPrompts(join(dir, manifest.files.prompts.path)),
  };
}

async function readPrompts(path: string): Promise<WorldPromptLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new AppError("world/notFound", `The world file ${path} is missing.`);
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = undefined;
      }
      const r = worldPromptSchema.safeParse(value);
      if (!r.success) throw new AppError("world/invalid", `${path}, line ${i + 1}: not a world prompt.`);
      return r.data;
    });
}
