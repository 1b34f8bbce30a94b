// Typed access to mocha's TDD interface inside the VS Code extension host.
//
// mocha is installed in test-host/ (not in the root package), and the root tsconfig loads only @types/node, so the
// suites import these wrappers instead of relying on ambient mocha globals. mocha defines the globals when it
// loads each test file (its "pre-require" event), before the file's top-level code calls these wrappers.

/** A test or hook body: sync, async, or returning a promise. `this` is mocha's context (timeout(), skip()…). */
export type TestFn = (this: MochaContext) => void | Promise<unknown>;

export interface MochaContext {
  timeout(ms: number): void;
  skip(): never;
}

interface TddGlobals {
  suite(title: string, fn: () => void): void;
  test(title: string, fn: TestFn): void;
  suiteSetup(fn: TestFn): void;
  suiteTeardown(fn: TestFn): void;
  setup(fn: TestFn): void;
  teardown(fn: TestFn): void;
}

const tdd = (): TddGlobals => {
  const g = globalThis as unknown as Partial<TddGlobals>;
  if (typeof g.suite !== "function")
    throw new Error("mocha's TDD globals are missing: load this file through test/vscode/index.ts");
  return g as TddGlobals;
};

export const suite = (title: string, fn: () => void): void => tdd().suite(title, fn);
export const test = (title: string, fn: TestFn): void => tdd().test(title, fn);
export const suiteSetup = (fn: TestFn): void => tdd().suiteSetup(fn);
export const suiteTeardown = (fn: TestFn): void => tdd().suiteTeardown(fn);
export const setup = (fn: TestFn): void => tdd().setup(fn);
export const teardown = (fn: TestFn): void => tdd().teardown(fn);
