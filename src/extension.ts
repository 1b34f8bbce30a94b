import type * as vscode from "vscode";

/**
 * Activation only builds the composition root: the features (and the engine process, started on first use)
 * are loaded lazily so that activation stays cheap.
 */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const { activateFeatures } = await import("./vscode/activateFeatures.js");
  await activateFeatures(context);
}

export function deactivate(): void {
  // Every disposable (engine host included) is in context.subscriptions; VS Code disposes them.
}
