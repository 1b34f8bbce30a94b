import { AppError } from "../../core/errors.js";

/**
 * The job a `prism.jobs.*` command acts on: its argument is the job's name (command palette, tests) or the Jobs
 * view's tree item. Errors: `vscode/noJob` when it is neither (the command was run without picking a job).
 */
export function jobName(job: unknown): string {
  if (typeof job === "string" && job) return job;
  if (job && typeof job === "object" && typeof (job as { name?: unknown }).name === "string")
    return (job as { name: string }).name;
  throw new AppError("vscode/noJob", "Pick a job in the PRISM Jobs view.");
}
