import { homedir } from "node:os";
import { join } from "node:path";

/** The per-user cache of the CLI (model content hashes): `$XDG_CACHE_HOME/prism`, default `~/.cache/prism`. */
export function cliCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "prism");
}
