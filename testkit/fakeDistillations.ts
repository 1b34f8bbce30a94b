import {
  fakeBaseModel,
  fakeDistillation,
  type FakeBaseModel,
  type FakeDistillation,
  type FakeDistillationOptions,
} from "./fakeDistillation.js";
import { scratchDirs } from "./scratchDirs.js";

/**
 * For one test file: fresh fake distillations, each in its own scratch directory (removed after the file's tests),
 * all on one base model written on first use. Call it at the top level of the test file.
 */
export function fakeDistillations(prefix: string): (o?: FakeDistillationOptions) => Promise<FakeDistillation> {
  const tmp = scratchDirs(prefix);
  let base: Promise<FakeBaseModel> | undefined;
  return async (o = {}) => {
    base ??= tmp().then(fakeBaseModel);
    return fakeDistillation(await tmp(), { base: await base, ...o });
  };
}
