import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * The number of physical CPU cores this process may use: llama.cpp's CPU thread pool collapses when it has
 * more threads than cores (node-llama-cpp defaults to 4 even on 2 cores, which is orders of magnitude slower),
 * and hyper-threads add little to matrix work. Linux counts unique (physical id, core id) pairs; elsewhere,
 * and when that fails, the logical count is used. Never more than the CPUs this process is allowed to run on.
 */
export function defaultThreadCount(): number {
  const logical = Math.max(1, availableParallelism());
  return Math.max(1, Math.min(logical, physicalCores() ?? logical));
}

function physicalCores(): number | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const cores = new Set<string>();
    let physicalId = "0";
    for (const line of readFileSync("/proc/cpuinfo", "utf8").split("\n")) {
      const [key, value] = line.split(":").map((s) => s.trim());
      if (key === "physical id") physicalId = value ?? "0";
      else if (key === "core id") cores.add(`${physicalId}:${value}`);
    }
    return cores.size > 0 ? cores.size : undefined;
  } catch {
    return undefined;
  }
}
