import * as vscode from "vscode";
import { formatDuration } from "../../core/cost/estimateDistillation.js";
import type { JobEntry, JobManager } from "./JobManager.js";

const ICONS: Record<JobEntry["state"], string> = {
  running: "sync~spin",
  done: "pass",
  failed: "error",
  cancelled: "circle-slash",
  interrupted: "debug-pause",
};

/** The "PRISM Jobs" view: one item per job with its state, stage and progress; actions by context value. */
export class JobsTreeProvider implements vscode.TreeDataProvider<JobEntry> {
  private readonly emitter = new vscode.EventEmitter<JobEntry | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;

  constructor(private readonly jobs: JobManager) {
    jobs.onDidChange(() => this.emitter.fire(undefined));
  }

  getTreeItem(job: JobEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(job.name, vscode.TreeItemCollapsibleState.None);
    const s = job.snapshot;
    item.description =
      job.state === "running" && s
        ? `stage ${Math.min(s.stage, 5)}/5 ${s.stageName} · ${s.done}/${s.total}${s.etaSeconds !== undefined ? ` · ${Math.ceil(s.etaSeconds)} s left` : ""}${s.jobEtaSeconds !== undefined ? ` · job ~${formatDuration(s.jobEtaSeconds)} left` : ""}`
        : job.state === "interrupted"
          ? "interrupted — resumable"
          : job.state;
    item.tooltip = new vscode.MarkdownString(
      [`**${job.name}** — ${job.state}`, job.error ? `\n\n${job.error}` : "", `\n\n\`${job.jobDir}\``].join(""),
    );
    item.iconPath = new vscode.ThemeIcon(ICONS[job.state]);
    // Drives which inline actions (Resume / Cancel / Open Report / Delete) package.json shows.
    item.contextValue = `prismJob.${job.state}`;
    item.id = job.name;
    return item;
  }

  getChildren(element?: JobEntry): Thenable<JobEntry[]> | JobEntry[] {
    return element ? [] : this.jobs.list();
  }
}
