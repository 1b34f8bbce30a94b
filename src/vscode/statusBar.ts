import * as vscode from "vscode";
import type { PrismService } from "./PrismService.js";

/** Status bar: engine state, model, last routing decision; a click opens the compare panel. */
export function createStatusBar(service: PrismService): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("prism.status", vscode.StatusBarAlignment.Right, 100);
  item.name = "PRISM";
  item.command = "prism.openCompare";
  const render = (): void => {
    const s = service.status();
    const engine =
      s.engine === "ready"
        ? "$(check)"
        : s.engine === "crashed"
          ? "$(error)"
          : s.engine === "starting"
            ? "$(sync~spin)"
            : "$(circle-outline)";
    const last = service.lastRoute?.result;
    const decision = last ? ` · ${last.served} p=${last.gate.probability.toFixed(2)}` : "";
    item.text = `$(git-compare) PRISM ${engine}${s.model ? ` ${s.model}` : ""}${decision}`;
    item.tooltip = new vscode.MarkdownString(
      [
        `**PRISM** — engine ${s.engine}`,
        `Model: ${s.model ?? "none (PRISM: Select Model)"}`,
        `Bundle: ${s.bundle ? `${s.bundle.name} (threshold ${s.bundle.threshold}, ${s.bundle.featureSpec})` : "none"}`,
        last
          ? `Last decision: ${last.gate.decision} (p = ${last.gate.probability.toFixed(3)}), served ${last.served}`
          : "",
        s.blocked ? `⚠ ${s.blocked}` : "",
        "Click to open the comparison.",
      ]
        .filter(Boolean)
        .join("\n\n"),
    );
    item.backgroundColor = s.engine === "crashed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  };
  render();
  item.show();
  const sub = service.onDidChangeStatus(render);
  return vscode.Disposable.from(item, sub);
}
