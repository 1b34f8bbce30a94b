import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import * as vscode from "vscode";
import { AppError } from "../../core/errors.js";
import { worldEvaluationSchema } from "../../core/world/worldEvaluation.js";
import { renderReportHtml, type ReportData } from "./renderReportHtml.js";

/**
 * Opens a bundle's report (`report.json`, and `evaluation.json` when `prism eval` saved one) in a script-free
 * webview. An evaluation file that does not match its schema is left out with a warning: it crossed a file
 * boundary and is not trusted.
 */
export async function openReportPanel(
  context: vscode.ExtensionContext,
  bundleDir: string,
  name = basename(bundleDir).replace(/\.prism$/, ""),
  warn: (message: string) => void = () => undefined,
): Promise<vscode.WebviewPanel> {
  const reportPath = join(bundleDir, "report.json");
  if (!existsSync(reportPath))
    throw new AppError("bundle/missingFile", `${bundleDir} has no report yet (its distillation has not finished).`);
  let report: Omit<ReportData, "name">;
  try {
    report = JSON.parse(await readFile(reportPath, "utf8")) as Omit<ReportData, "name">;
  } catch {
    throw new AppError("bundle/invalidManifest", `${reportPath} is not valid JSON.`);
  }
  const data: ReportData = { ...report, name, evaluation: undefined };
  const evalPath = join(bundleDir, "evaluation.json");
  if (existsSync(evalPath)) {
    try {
      const parsed = worldEvaluationSchema.safeParse(JSON.parse(await readFile(evalPath, "utf8")));
      if (parsed.success) data.evaluation = parsed.data;
      else warn(`${evalPath} does not match the evaluation schema; not shown.`);
    } catch {
      warn(`${evalPath} is not valid JSON; not shown.`);
    }
  }
  const panel = vscode.window.createWebviewPanel("prism.report", `PRISM report: ${name}`, vscode.ViewColumn.Active, {
    enableScripts: false,
    localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, "media")],
  });
  panel.webview.html = renderReportHtml(
    data,
    panel.webview.cspSource,
    String(panel.webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "media", "report.css"))),
  );
  return panel;
}
