import { describe, expect, it } from "vitest";
import { jobName } from "../../../src/vscode/jobs/jobName.js";

describe("jobName (the argument of the prism.jobs.* commands)", () => {
  it("takes a name or the Jobs view's item", () => {
    expect(jobName("persona-a")).toBe("persona-a");
    expect(jobName({ name: "persona-b", state: "done" })).toBe("persona-b");
  });

  it("run without a job (command palette): vscode/noJob, not a CLI usage error", () => {
    for (const missing of [undefined, "", {}, { name: 3 }])
      expect(() => jobName(missing)).toThrow(expect.objectContaining({ code: "vscode/noJob" }));
  });
});
