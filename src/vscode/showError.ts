import * as vscode from "vscode";
import { AppError, isCancellation } from "../core/errors.js";

/** Shows an error with its code and a "Show Logs" action; cancellation is never an error. */
export async function showError(err: unknown, log: vscode.LogOutputChannel): Promise<void> {
  if (isCancellation(err)) return;
  const message = err instanceof AppError ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
  log.error(message);
  if (err instanceof AppError && err.detail !== undefined) log.error(JSON.stringify(err.detail, null, 2));
  const choice = await vscode.window.showErrorMessage(`PRISM: ${message}`, "Show Logs");
  if (choice === "Show Logs") log.show();
}
