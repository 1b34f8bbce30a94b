import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import * as vscode from "vscode";
import { AppError } from "../core/errors.js";
import { routeModeSchema } from "../protocol/webviewProtocol.js";
import { withAbortSignal } from "./withAbortSignal.js";
import { registerChat } from "./chat/registerChat.js";
import { selectBundle } from "./commands/selectBundle.js";
import { selectModel } from "./commands/selectModel.js";
import { startDistillation } from "./commands/startDistillation.js";
import { formatModelInfo } from "./formatModelInfo.js";
import { jobName } from "./jobs/jobName.js";
import { JobManager, type JobEntry } from "./jobs/JobManager.js";
import { JobsTreeProvider } from "./jobs/JobsTreeProvider.js";
import { ComparePanel } from "./panel/ComparePanel.js";
import { PrismService } from "./PrismService.js";
import { openReportPanel } from "./report/openReportPanel.js";
import { ServeController } from "./serve/ServeController.js";
import { showError } from "./showError.js";
import { createStatusBar } from "./statusBar.js";

/** The API `activate` returns: for tests and other extensions. */
export interface PrismExtensionApi {
  /** Milliseconds `activate` took (set by extension.ts): the benchmark report's activation figure. */
  activationMs?: number;
  service: PrismService;
  jobs: JobManager;
  /** `PRISM: Start Server` / `Stop Server`. */
  server: ServeController;
  comparePanel(): ComparePanel | undefined;
}

/** Registers every feature. Nothing here starts the engine or loads a model: that happens on first use. */
export function activateFeatures(context: vscode.ExtensionContext): PrismExtensionApi {
  const log = vscode.window.createOutputChannel("PRISM", { log: true });
  const service = new PrismService(context, log);
  const jobs = new JobManager(service, () => trainerBinary(context));
  context.subscriptions.push(log, service, jobs, createStatusBar(service));

  const command = (id: string, run: (...args: unknown[]) => Promise<unknown> | unknown): void => {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await run(...args);
        } catch (err) {
          await showError(err, log);
          return undefined;
        }
      }),
    );
  };

  command("prism.showModelInfo", async () => {
    if (!service.config().modelPath) {
      const choice = await vscode.window.showWarningMessage("PRISM: no model is configured.", "Select Model");
      if (choice) await vscode.commands.executeCommand("prism.selectModel");
      return undefined;
    }
    const info = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "PRISM: loading model", cancellable: true },
      (_p, token) => withAbortSignal(token, (signal) => service.loadModel(signal)),
    );
    const text = formatModelInfo(info);
    log.info(`model info:\n${text}`);
    void vscode.window.showInformationMessage(`PRISM model: ${text.split("\n").join(" · ")}`);
    return info;
  });
  command("prism.selectModel", () => selectModel(service));
  command("prism.selectBundle", (path?: unknown) => selectBundle(service, typeof path === "string" ? path : undefined));
  command("prism.restartEngine", async () => {
    await service.restartEngine();
    void vscode.window.showInformationMessage("PRISM: engine restarted.");
  });
  command("prism.showLogs", () => log.show());

  command("prism.openCompare", (prompt?: unknown, mode?: unknown, run?: unknown) => {
    const panel = ComparePanel.createOrShow(context, service);
    if (typeof prompt === "string" && prompt.trim()) {
      const parsed = routeModeSchema.safeParse(mode ?? "compare");
      panel.requestPrompt(prompt, parsed.success ? parsed.data : "compare", run === true);
    }
    return panel;
  });
  command("prism.compareSelection", () => {
    const text = selectionText();
    ComparePanel.createOrShow(context, service).requestPrompt(text, "compare", true);
  });
  command("prism.askSelection", async () => {
    const text = selectionText();
    await vscode.commands.executeCommand("workbench.action.chat.open", {
      query: `@prism ${text}`,
      isPartialQuery: false,
    });
  });
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(ComparePanel.viewType, {
      deserializeWebviewPanel: async (panel) => {
        ComparePanel.revive(panel, context, service);
      },
    }),
  );

  const tree = new JobsTreeProvider(jobs);
  context.subscriptions.push(
    vscode.window.createTreeView("prism.jobs", { treeDataProvider: tree, showCollapseAll: false }),
  );
  command("prism.startDistillation", () => startDistillation(jobs, service.config().distillPreset));
  command("prism.jobs.refresh", () => jobs.list());
  command("prism.jobs.resume", (job?: unknown) => jobs.resume(jobName(job)));
  command("prism.jobs.cancel", (job?: unknown) => jobs.cancel(jobName(job)));
  command("prism.jobs.delete", async (job?: unknown) => {
    const name = jobName(job);
    const ok = await vscode.window.showWarningMessage(
      `Delete the job "${name}" and its working files? Its bundle stays.`,
      { modal: true },
      "Delete",
    );
    if (ok) await jobs.delete(name);
  });
  command("prism.jobs.openReport", async (job?: unknown) => {
    const name = jobName(job);
    const entry = (await jobs.list()).find((e) => e.name === name);
    if (!entry) throw new AppError("bundle/missingFile", `Job "${name}" has no report yet (it has not finished).`);
    return openReportPanel(context, entry.bundleDir, name, (m) => log.warn(m));
  });
  command("prism.showBundleReport", () => {
    const { bundlePath } = service.config();
    if (!bundlePath) throw new AppError("bundle/notFound", "No PRISM bundle is active: run “PRISM: Select Bundle”.");
    return openReportPanel(context, bundlePath, undefined, (m) => log.warn(m));
  });
  jobs.onDidFinish = (entry: JobEntry) => {
    if (entry.state !== "done") return;
    void vscode.window
      .showInformationMessage(`PRISM: distillation "${entry.name}" finished.`, "Activate Bundle", "Open Report")
      .then((choice) => {
        if (choice === "Activate Bundle") void vscode.commands.executeCommand("prism.selectBundle", entry.bundleDir);
        if (choice === "Open Report") void vscode.commands.executeCommand("prism.jobs.openReport", entry.name);
      });
  };

  const server = new ServeController(service);
  context.subscriptions.push(server);
  command("prism.startServer", async () => {
    const running = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "PRISM: starting the server", cancellable: true },
      (_p, token) => withAbortSignal(token, (signal) => server.start(signal)),
    );
    void vscode.window
      .showInformationMessage(`PRISM: serving model "prism" at ${running.baseUrl}`, "Copy URL")
      .then((choice) => (choice ? vscode.env.clipboard.writeText(running.baseUrl) : undefined));
    return running.baseUrl;
  });
  command("prism.stopServer", async () => {
    const url = server.baseUrl;
    await server.stop();
    if (url) void vscode.window.showInformationMessage(`PRISM: stopped the server at ${url}.`);
  });

  registerChat(context, service);
  // Without Copilot the chat has no model until ours is listed; asking once makes VS Code resolve it now.
  void vscode.lm
    .selectChatModels({ vendor: "prism" })
    .then(undefined, (err: unknown) => log.warn(`selectChatModels: ${String(err)}`));

  return { service, jobs, server, comparePanel: () => ComparePanel.instance };
}

function selectionText(): string {
  const editor = vscode.window.activeTextEditor;
  const text = editor ? editor.document.getText(editor.selection).trim() : "";
  if (!text) throw new AppError("vscode/noSelection", "Select some text in an editor first.");
  return text;
}

/** The trainer: `prism.trainer.path`, else the packaged one, else this checkout's cached build (`npm start`). */
function trainerBinary(context: vscode.ExtensionContext): string {
  const configured = vscode.workspace.getConfiguration("prism").get<string>("trainer.path", "").trim();
  if (configured) return configured;
  // A packaged extension carries its trainer (scripts/package.mjs); a checkout uses its cached build.
  const exe = process.platform === "win32" ? "prism-trainer.exe" : "prism-trainer";
  const packaged = context.asAbsolutePath(join("dist", "trainer", "bin", exe));
  if (existsSync(packaged)) return packaged;
  const script = context.asAbsolutePath(join("scripts", "buildTrainer.mjs"));
  if (existsSync(script)) {
    const r = spawnSync(process.execPath, [script, "--print-path"], {
      cwd: context.extensionPath,
      encoding: "utf8",
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
    });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new AppError(
    "trainer/notBuilt",
    'The LoRA trainer is not built: run "npm run build:trainer" in the extension folder or set prism.trainer.path.',
  );
}
