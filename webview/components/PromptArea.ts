import type { VscodeButton } from "@vscode-elements/elements/dist/vscode-button/vscode-button.js";
import type { VscodeSingleSelect } from "@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js";
import type { VscodeTextarea } from "@vscode-elements/elements/dist/vscode-textarea/vscode-textarea.js";
import { routeModeSchema, type RouteModeWire } from "../../src/protocol/webviewProtocol.js";
import { el } from "./el.js";

/** What the prompt area asks of the app. */
export interface PromptAreaHandlers {
  onRun(prompt: string, mode: RouteModeWire): void;
  onStop(): void;
  onUseSelection(): void;
  onDraftChange(draft: string): void;
  onModeChange(mode: RouteModeWire): void;
}

const MODE_LABELS: Record<RouteModeWire, string> = {
  compare: "compare (both sides)",
  hard: "hard (gate picks a side)",
  soft: "soft (gate scales the adapter)",
  base: "base only",
  persona: "persona only",
};

/** The prompt box, routing-mode dropdown and Run / Stop / Use-selection buttons. */
export class PromptArea {
  readonly element: HTMLElement;
  private readonly textarea: VscodeTextarea;
  private readonly mode: VscodeSingleSelect;
  private readonly runButton: VscodeButton;
  private readonly stopButton: VscodeButton;
  private readonly selectionButton: VscodeButton;
  private readonly notice: HTMLElement;
  private blocked: string | undefined;
  private running = false;

  constructor(private readonly handlers: PromptAreaHandlers) {
    this.textarea = el("vscode-textarea", {
      "data-testid": "prompt",
      rows: 6,
      resize: "vertical",
      placeholder: "Ask something… (Ctrl+Enter or Cmd+Enter runs)",
      "aria-label": "Prompt",
      class: "prompt-input",
    });
    this.textarea.addEventListener("input", () => handlers.onDraftChange(this.textarea.value));
    this.textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.requestRun();
      }
    });

    this.mode = el("vscode-single-select", { "data-testid": "mode", "aria-label": "Routing mode" });
    for (const mode of routeModeSchema.options) {
      const option = el("vscode-option", { value: mode, description: MODE_LABELS[mode] }, mode);
      this.mode.append(option);
    }
    this.mode.addEventListener("change", () => {
      const mode = this.getMode();
      handlers.onModeChange(mode);
    });

    this.runButton = el("vscode-button", { "data-testid": "run" }, "Run");
    this.runButton.addEventListener("click", () => this.requestRun());
    this.stopButton = el("vscode-button", { "data-testid": "stop", secondary: true, disabled: true }, "Stop");
    this.stopButton.addEventListener("click", () => {
      if (this.running) handlers.onStop(); // a disabled vscode-button still dispatches click
    });
    this.selectionButton = el(
      "vscode-button",
      { "data-testid": "use-selection", secondary: true },
      "Use editor selection",
    );
    this.selectionButton.addEventListener("click", () => handlers.onUseSelection());

    this.notice = el("p", { "data-testid": "prompt-notice", class: "notice", role: "alert", hidden: true });
    this.element = el(
      "section",
      { class: "prompt-area", "aria-label": "Prompt" },
      this.textarea,
      el(
        "div",
        { class: "prompt-controls" },
        el("label", { class: "mode-label" }, "Mode ", this.mode),
        this.runButton,
        this.stopButton,
        this.selectionButton,
      ),
      this.notice,
    );
  }

  /** The prompt box's text. */
  getPrompt(): string {
    return this.textarea.value;
  }

  /** Replaces the prompt box's text. */
  setPrompt(text: string): void {
    this.textarea.value = text;
  }

  /** The selected routing mode (compare if the select has no valid value yet). */
  getMode(): RouteModeWire {
    const parsed = routeModeSchema.safeParse(this.mode.value);
    return parsed.success ? parsed.data : "compare";
  }

  /** Selects a routing mode. */
  setMode(mode: RouteModeWire): void {
    // The select only knows its options once they are slotted; `selected` works before that too.
    for (const option of this.mode.querySelectorAll("vscode-option")) option.selected = option.value === mode;
    this.mode.value = mode;
  }

  /** Disables Run with the reason shown, or re-enables it (`undefined`). */
  setBlocked(reason: string | undefined): void {
    this.blocked = reason;
    this.runButton.disabled = reason !== undefined;
    this.showNotice(reason ? `Cannot run: ${reason}` : undefined);
  }

  /** Enables Stop while a run is in progress. */
  setRunning(running: boolean): void {
    this.running = running;
    this.stopButton.disabled = !running;
    this.element.classList.toggle("running", running);
  }

  /** Shows a short message under the controls (a blocked reason or a validation hint), or hides it. */
  showNotice(message: string | undefined): void {
    this.notice.textContent = message ?? "";
    this.notice.hidden = !message;
  }

  /** Puts the keyboard focus in the prompt box. */
  focus(): void {
    this.textarea.focus();
  }

  private requestRun(): void {
    if (this.blocked !== undefined) return; // a disabled vscode-button still dispatches click
    const prompt = this.textarea.value;
    if (!prompt.trim()) {
      this.showNotice("Enter a prompt first.");
      return;
    }
    this.showNotice(undefined);
    this.handlers.onRun(prompt, this.getMode());
  }
}
