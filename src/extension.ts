import type * as vscode from "vscode";
import type { PrismExtensionApi } from "./vscode/activateFeatures.js";

/**
 * Activation only builds the composition root: no engine process starts and no model loads until first use,
 * so activation stays cheap. Failures are reported with a retry action instead of failing silently.
 */
export async function activate(context: vscode.ExtensionContext): Promise<PrismExtensionApi | undefined> {
  const started = performance.now();
  const vscodeApi = await import("vscode");
  try {
    const { activateFeatures } = await import("./vscode/activateFeatures.js");
    const api = activateFeatures(context);
    api.activationMs = performance.now() - started;
    api.service.log.info(`activated in ${api.activationMs.toFixed(1)} ms`);
    return api;
  } catch (err) {
    const choice = await vscodeApi.window.showErrorMessage(
      `PRISM failed to activate: ${(err as Error).message}`,
      "Retry",
    );
    if (choice === "Retry") return activate(context);
    return undefined;
  }
}

export function deactivate(): void {
  // Every disposable (engine process included) is in context.subscriptions; VS Code disposes them.
}
