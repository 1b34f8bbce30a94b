import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { DistillLabel, DistillQuery } from "../../../src/core/distill/distillRecords.js";
import { distillSettingsSchema } from "../../../src/core/distill/distillSettings.js";
import { JobProgress } from "../../../src/core/distill/JobProgress.js";
import { stage4Gate } from "../../../src/core/distill/stage4Gate.js";
import type { FeatureExtractor } from "../../../src/core/features/FeatureExtractor.js";

const settings = distillSettingsSchema.parse({
  model: { path: "/m.gguf", architecture: "qwen3", tensorShapesDigest: "d", fileSize: 1, contentHash: "h" },
  personas: [{ id: "cardio", text: "You are a cardiologist." }],
  judge: "test",
  generator: "test",
  gate: { minPerClass: 4 },
});

describe("stage 4 needs both labels", () => {
  it.each([
    ["every query distill", 10, 0],
    ["too few retain", 7, 3],
    ["too few distill", 2, 8],
  ])("%s: gate/insufficientData naming both counts, before any feature", async (_name, distill, retain) => {
    const queries: DistillQuery[] = Array.from({ length: distill + retain }, (_, i) => ({
      id: `cardio-${i}`,
      personaId: "cardio",
      query: `Question number ${i} about the heart?`,
      source: "generated",
    }));
    const labels = new Map<string, DistillLabel>(queries.map((q, i) => [q.id, i < distill ? "distill" : "retain"]));
    const extract = vi.fn();
    const err = await stage4Gate({
      jobDir: await mkdtemp(join(tmpdir(), "prism-stage4-")),
      settings,
      queries,
      labels,
      features: { extract } as unknown as FeatureExtractor,
      progress: new JobProgress("job", undefined, () => undefined),
      signal: undefined,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "gate/insufficientData", detail: { distill, retain, minPerClass: 4 } });
    expect((err as Error).message).toContain(`${distill} distill`);
    expect((err as Error).message).toContain(`${retain} retain`);
    expect(extract).not.toHaveBeenCalled();
  });
});
