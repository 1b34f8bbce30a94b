import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import * as vscode from "vscode";
import type { ModelInfo } from "../../protocol/engineProtocol.js";
import { withAbortSignal } from "../withAbortSignal.js";
import { formatModelInfo } from "../formatModelInfo.js";
import type { PrismService } from "../PrismService.js";

/**
 * "PRISM: Select Model": a local GGUF (file dialog), the preconfigured default model, or any `hf:` URI / https
 * URL, downloaded into global storage with a cancellable, resumable progress notification. Nothing is fetched
 * unless the user picks a download here.
 */
export async function selectModel(service: PrismService): Promise<ModelInfo | undefined> {
  const config = service.config();
  type Pick = vscode.QuickPickItem & { action: "file" | "default" | "uri" };
  const items: Pick[] = [
    { label: "$(folder-opened) Choose a GGUF file…", action: "file" },
    ...(config.defaultModelUri
      ? [
          {
            label: "$(cloud-download) Download the default model",
            description: config.defaultModelUri,
            action: "default" as const,
          },
        ]
      : []),
    { label: "$(link) Download from an hf: URI or https URL…", action: "uri" },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: "PRISM: Select Model",
    placeHolder: config.modelPath || "No model selected",
  });
  if (!pick) return undefined;
  let path: string | undefined;
  if (pick.action === "file") {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { "GGUF models": ["gguf"] },
      title: "Choose a GGUF model",
    });
    path = files?.[0]?.fsPath;
  } else {
    const uri =
      pick.action === "default"
        ? config.defaultModelUri
        : await vscode.window.showInputBox({
            title: "Model to download",
            prompt: "hf:<user>/<repo>/<file>.gguf, hf:<user>/<repo>:<quant>, or an https URL of a .gguf file",
            validateInput: (v) => (/^(hf:|https:\/\/)\S+$/.test(v.trim()) ? undefined : "Start with hf: or https://"),
          });
    if (!uri) return undefined;
    path = await download(service, uri.trim());
  }
  if (!path) return undefined;
  await vscode.workspace.getConfiguration("prism").update("model.path", path, vscode.ConfigurationTarget.Global);
  const info = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "PRISM: loading model", cancellable: true },
    (_p, token) => withAbortSignal(token, (signal) => service.loadModel(signal)),
  );
  void vscode.window.showInformationMessage(`PRISM model: ${formatModelInfo(info).split("\n").join(" · ")}`);
  return info;
}

async function download(service: PrismService, uri: string): Promise<string> {
  const dir = join(service.storageDir, "models");
  await mkdir(dir, { recursive: true });
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `PRISM: downloading ${uri}`, cancellable: true },
    (progress, token) =>
      withAbortSignal(token, async (signal) => {
        let reported = 0;
        // Downloading needs node-llama-cpp, which lives only in the engine process.
        const r = await service.engine.request(
          "engine/download",
          { uri, dir },
          {
            signal,
            onDownloadProgress: (done, total) => {
              const pct = total > 0 ? (done / total) * 100 : 0;
              progress.report({
                increment: pct - reported,
                message: `${(done / 1e6).toFixed(0)} / ${(total / 1e6).toFixed(0)} MB`,
              });
              reported = pct;
            },
          },
        );
        return r.path;
      }),
  );
}
