import { describe, expect, it } from "vitest";
import { runSoak, slope } from "../../testkit/runSoak.js";

describe("soak (small)", () => {
  it(
    "routes 150 prompts with random cancellations without a memory or handle leak trend",
    { timeout: 600_000 },
    async () => {
      const r = await runSoak({ prompts: 150, sampleEvery: 25 });
      expect(r.completed + r.cancelled).toBe(150);
      expect(r.cancelled).toBeGreaterThan(5);
      const after = r.samples.slice(1); // the first sample precedes allocator warm-up
      const x = after.map((s) => s.prompts);
      // Leak budget: a leak of one context or KV cache per prompt would be ≥ 0.8 MB per prompt here.
      expect(
        slope(
          x,
          after.map((s) => s.engineRssMb),
        ) * 100,
      ).toBeLessThan(8);
      expect(
        slope(
          x,
          after.map((s) => s.hostRssMb),
        ) * 100,
      ).toBeLessThan(8);
      expect(after.at(-1)!.hostHandles).toBeLessThanOrEqual(after[0]!.hostHandles + 3);
      expect(after.at(-1)!.engineFds).toBeLessThanOrEqual(after[0]!.engineFds + 3);
    },
  );
});
