import { PassThrough } from "node:stream";
import { runCli } from "../src/cli/runCli.js";

/** What an in-process `prism` run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in this process, collecting its output. Starting the engine throws `engineError`: the paths these
 * tests take (help, usage errors, file-only commands) provably start none.
 */
export async function runCliInProcess(argv: string[], engineError: string): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, {
    stdout,
    stderr,
    signal: new AbortController().signal,
    startEngine: () => {
      throw new Error(engineError);
    },
  });
  return { code, stdout: out, stderr: err };
}
