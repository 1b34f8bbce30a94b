import * as vscode from "vscode";
import type { LoadedBundle } from "../../core/bundle/readBundle.js";
import { withAbortSignal } from "../withAbortSignal.js";
import type { PrismService } from "../PrismService.js";

/**
 * "PRISM: Select Bundle": activates a `.prism` bundle (a folder) after validating it against the configured
 * model; a bundle made for another model is refused with the reason. `path` skips the dialog (tests, jobs).
 */
export async function selectBundle(service: PrismService, path?: string): Promise<LoadedBundle | undefined> {
  let dir = path;
  if (!dir) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      title: "Choose a PRISM bundle (<name>.prism folder)",
      defaultUri: vscode.Uri.file(service.storageDir),
    });
    dir = picked?.[0]?.fsPath;
  }
  if (!dir) return undefined;
  const c = vscode.workspace.getConfiguration("prism");
  const previous = c.get<string>("bundle.path", "");
  await c.update("bundle.path", dir, vscode.ConfigurationTarget.Global);
  try {
    const bundle = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "PRISM: checking the bundle", cancellable: true },
      (_p, token) => withAbortSignal(token, (signal) => service.activeBundle(signal)),
    );
    if (bundle) {
      void vscode.window.showInformationMessage(
        `PRISM bundle "${bundle.manifest.name}" is active: ${bundle.manifest.personas.length} persona(s), threshold ${bundle.threshold}.`,
      );
    }
    return bundle;
  } catch (err) {
    // Leave the previous (valid) bundle active when the new one is refused.
    await c.update("bundle.path", previous || undefined, vscode.ConfigurationTarget.Global);
    throw err;
  }
}
