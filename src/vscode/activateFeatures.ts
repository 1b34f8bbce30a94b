import * as vscode from "vscode";
import { toAbortSignal } from "./cancellation.js";
import { readConfig } from "./config.js";
import { EngineHost } from "./EngineHost.js";
import { showError } from "./showError.js";
import { formatModelInfo } from "./formatModelInfo.js";

/** Registers commands and the engine host. Nothing here starts the engine: that happens on first use. */
export async function activateFeatures(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel("PRISM", { log: true });
  const host = new EngineHost(context.asAbsolutePath("dist/engine.mjs"), log);
  context.subscriptions.push(log, host);

  const command = (id: string, run: () => Promise<unknown>): void => {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async () => {
        try {
          return await run();
        } catch (err) {
          await showError(err, log);
          return undefined;
        }
      }),
    );
  };

  command("prism.showModelInfo", async () => {
    const config = readConfig((m) => log.warn(m));
    if (!config.modelPath) {
      const choice = await vscode.window.showWarningMessage(
        "PRISM: no model is configured (prism.model.path).",
        "Open Settings",
      );
      if (choice) await vscode.commands.executeCommand("workbench.action.openSettings", "prism.model.path");
      return undefined;
    }
    const info = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "PRISM: loading model", cancellable: true },
      (_progress, token) => host.loadModel(config, toAbortSignal(token)),
    );
    const text = formatModelInfo(info);
    log.info(`model info:\n${text}`);
    void vscode.window.showInformationMessage(`PRISM model: ${text.split("\n").join(" · ")}`);
    return info;
  });

  command("prism.restartEngine", async () => {
    await host.restart();
    void vscode.window.showInformationMessage("PRISM: engine restarted.");
  });

  command("prism.showLogs", async () => log.show());
}
