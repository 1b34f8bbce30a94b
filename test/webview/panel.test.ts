// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WEBVIEW_PROTOCOL_VERSION } from "../../src/protocol/webviewProtocol.js";
import { allByTestId, byTestId, FakeHost, flush } from "./FakeHost.js";
import { bootstrap, readyStatus, record, runSnapshot, side } from "./fixtures.js";

type ValueElement = HTMLElement & { value: string; disabled: boolean };

let host: FakeHost;

beforeEach(() => {
  host = new FakeHost();
});

afterEach(() => host.stop());

function click(id: string): void {
  byTestId(id).click();
}

function setPrompt(text: string): void {
  const prompt = byTestId<ValueElement>("prompt");
  prompt.value = text;
  prompt.dispatchEvent(new Event("input"));
}

describe("handshake", () => {
  it("shows only Connecting… until the bootstrap, then renders everything from it", async () => {
    host.bootstrap = bootstrap({
      run: runSnapshot({ state: "done", served: "persona", sides: { base: side("base says"), persona: side("arr") } }),
      history: [record()],
    });
    const release = host.holdBootstrap();
    await host.start();
    expect(byTestId("connecting").textContent).toBe("Connecting…");
    expect(document.querySelector('[data-testid="prompt"]')).toBeNull();
    release();
    await flush();

    expect(host.sent("webview/ready")).toEqual([{ protocolVersion: WEBVIEW_PROTOCOL_VERSION }]);
    expect(document.querySelector('[data-testid="connecting"]')).toBeNull();
    expect(byTestId("status-engine").textContent).toBe("ready");
    expect(byTestId("status-model").textContent).toBe("tiny-llama.gguf");
    expect(byTestId("status-bundle").textContent).toBe("pirate (threshold 0.50, features mean-last-4)");
    expect(byTestId<ValueElement>("prompt").value).toBe("Tell me about ships");
    expect(byTestId("side-output", byTestId("side-persona")).textContent).toContain("arr");
    expect(allByTestId("history-item")).toHaveLength(1);
    expect(host.acquired).toBe(1);
  });

  it("shows a reload hint when the host answers with protocol/versionMismatch", async () => {
    host.readyError = "protocol/versionMismatch";
    await host.start();
    expect(byTestId("reload-hint").textContent).toMatch(/reload/i);
    expect(document.querySelector('[data-testid="run"]')).toBeNull();
  });

  it("restores the persisted draft, mode and filters of a re-shown panel", async () => {
    host.uiState = { draft: "my draft", mode: "hard", historyDecision: "base", historyText: "ship", scrollY: 0 };
    host.bootstrap = bootstrap({ run: runSnapshot({ prompt: "older run", state: "done" }) });
    await host.start();
    expect(byTestId<ValueElement>("prompt").value).toBe("my draft");
    expect(byTestId<ValueElement>("mode").value).toBe("hard");
    expect(byTestId<ValueElement>("history-filter-decision").value).toBe("base");
    expect(byTestId<ValueElement>("history-filter-text").value).toBe("ship");
  });
});

describe("running", () => {
  it("sends compare/run with the prompt and the selected mode; Ctrl+Enter runs too", async () => {
    await host.start();
    expect(byTestId<ValueElement>("mode").value).toBe("compare");
    setPrompt("What is PRISM?");
    click("run");
    await flush();
    expect(host.sent("compare/run")).toEqual([{ prompt: "What is PRISM?", mode: "compare" }]);

    const mode = byTestId<ValueElement>("mode");
    mode.value = "hard";
    mode.dispatchEvent(new Event("change"));
    byTestId("prompt").dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true, bubbles: true }));
    await flush();
    expect(host.sent("compare/run")[1]).toEqual({ prompt: "What is PRISM?", mode: "hard" });
    expect(host.uiState).toMatchObject({ mode: "hard", draft: "What is PRISM?" });
  });

  it("does not send an empty prompt", async () => {
    await host.start();
    setPrompt("   ");
    click("run");
    await flush();
    expect(host.sent("compare/run")).toEqual([]);
    expect(byTestId("prompt-notice").hidden).toBe(false);
  });

  it("streams snapshots into the columns and marks the served side", async () => {
    await host.start();
    setPrompt("Ahoy?");
    click("run");
    await flush();
    const run = host.runs[0]!;
    const base = byTestId("side-base");
    const persona = byTestId("side-persona");
    expect(byTestId("stop").hasAttribute("disabled")).toBe(false);

    run.update(runSnapshot({ prompt: "Ahoy?", sides: { base: side("Hel") } }));
    await flush();
    expect(byTestId("side-output", base).textContent?.trim()).toBe("Hel");
    expect(byTestId("side-placeholder", persona).textContent).toBe("Waiting…");

    const gate = { probability: 0.73, threshold: 0.5, decision: "persona" as const, featureMs: 10, gateMs: 1 };
    run.update(
      runSnapshot({
        prompt: "Ahoy?",
        gate,
        served: "persona",
        sides: {
          base: side("Hello **there**", { timeToFirstTokenMs: 90, tokensPerSecond: 41.25, generatedTokens: 12 }),
          persona: side("Arr"),
        },
      }),
    );
    await flush();
    expect(byTestId("side-output", base).querySelector("strong")?.textContent).toBe("there");
    expect(byTestId("metric-ttft", base).textContent).toBe("90 ms");
    expect(byTestId("metric-tps", base).textContent).toBe("41.3");
    expect(byTestId("metric-tokens", base).textContent).toBe("12");
    expect(byTestId("served-badge", persona).hidden).toBe(false);
    expect(byTestId("served-badge", base).hidden).toBe(true);
    expect(persona.classList.contains("served")).toBe(true);

    run.finish(
      runSnapshot({
        prompt: "Ahoy?",
        state: "done",
        gate,
        served: "persona",
        sides: { base: side("Hello", { done: true }), persona: side("Arr!", { done: true }) },
      }),
    );
    await flush();
    expect(byTestId("side-output", persona).textContent?.trim()).toBe("Arr!");
    expect(byTestId("stop").hasAttribute("disabled")).toBe(true);
  });

  it("re-renders only the side whose text changed", async () => {
    await host.start();
    host.notify("compare/didUpdate", { run: runSnapshot({ sides: { base: side("one"), persona: side("two") } }) });
    await flush();
    const baseParagraph = byTestId("side-output", byTestId("side-base")).firstElementChild;
    host.notify("compare/didUpdate", {
      run: runSnapshot({ sides: { base: side("one"), persona: side("two three") } }),
    });
    await flush();
    expect(byTestId("side-output", byTestId("side-base")).firstElementChild).toBe(baseParagraph);
    expect(byTestId("side-output", byTestId("side-persona")).textContent?.trim()).toBe("two three");
  });

  it("shows a muted note for a side the mode does not generate, and ignores stale runs", async () => {
    await host.start();
    host.notify("compare/didUpdate", { run: runSnapshot({ runId: 5, mode: "base", sides: { base: side("b") } }) });
    await flush();
    expect(byTestId("side-placeholder", byTestId("side-persona")).textContent).toBe("not generated in base mode");
    expect(byTestId("gate-empty").textContent).toBe("Waiting for the gate…");
    host.notify("compare/didUpdate", { run: runSnapshot({ runId: 4, sides: { base: side("stale") } }) });
    await flush();
    expect(byTestId("side-output", byTestId("side-base")).textContent?.trim()).toBe("b");
  });

  it("draws the gate card: bar width, threshold position, numbers and decision", async () => {
    await host.start();
    const gate = { probability: 0.25, threshold: 0.6, decision: "base" as const, featureMs: 14.2, gateMs: 0.3 };
    host.notify("compare/didUpdate", {
      run: runSnapshot({ mode: "hard", state: "done", gate, served: "base", sides: { base: side("x") } }),
    });
    await flush();
    const bar = byTestId("gate-bar");
    expect(bar.querySelector<HTMLElement>(".gate-fill")!.style.width).toBe("25%");
    expect(byTestId("gate-threshold").style.left).toBe("60%");
    expect(bar.getAttribute("aria-valuenow")).toBe("0.25");
    expect(byTestId("gate-probability").textContent).toBe("0.25");
    expect(byTestId("gate-threshold-value").textContent).toBe("0.60");
    expect(byTestId("gate-decision").textContent).toBe("base");
    expect(byTestId("gate-timings").textContent).toBe("features 14 ms · gate 0.3 ms");
    expect(byTestId("side-placeholder", byTestId("side-persona")).textContent).toBe("not generated in hard mode");
  });

  it("Stop sends compare/stop; a cancelled run says so", async () => {
    await host.start();
    setPrompt("long one");
    click("run");
    await flush();
    click("stop");
    await flush();
    expect(host.sent("compare/stop")).toEqual([{}]);
    host.runs[0]!.finish(runSnapshot({ prompt: "long one", state: "cancelled", sides: { base: side("partial") } }));
    await flush();
    expect(byTestId("run-state").textContent).toBe("Stopped.");
  });

  it("shows a failed request without breaking the panel", async () => {
    await host.start();
    setPrompt("boom");
    click("run");
    await flush();
    host.runs[0]!.fail("engine/crashed", "The engine process exited with code 134.");
    await flush();
    expect(byTestId("notice").textContent).toContain("exited with code 134");
    setPrompt("again");
    click("run");
    await flush();
    expect(host.sent("compare/run")).toHaveLength(2);
  });

  it("fills the prompt from the editor selection", async () => {
    await host.start();
    host.selection = "const x = 1;";
    click("use-selection");
    await flush();
    expect(host.sent("editor/getSelection")).toEqual([{}]);
    expect(byTestId<ValueElement>("prompt").value).toBe("const x = 1;");
  });

  it("fills (and runs) a prompt the host requests", async () => {
    await host.start();
    host.notify("compare/didRequestPrompt", { prompt: "from the editor", mode: "soft", run: true });
    await flush();
    expect(byTestId<ValueElement>("prompt").value).toBe("from the editor");
    expect(host.sent("compare/run")).toEqual([{ prompt: "from the editor", mode: "soft" }]);
  });

  it("disables Run with the reason while status.blocked is set", async () => {
    host.bootstrap = bootstrap({ status: readyStatus({ blocked: "No model configured" }) });
    await host.start();
    expect(byTestId<ValueElement>("run").disabled).toBe(true);
    expect(byTestId("prompt-notice").textContent).toContain("No model configured");
    expect(byTestId("status-blocked").textContent).toBe("No model configured");
    setPrompt("hi");
    click("run");
    await flush();
    expect(host.sent("compare/run")).toEqual([]);

    host.notify("panel/didChangeStatus", { status: readyStatus() });
    await flush();
    expect(byTestId<ValueElement>("run").disabled).toBe(false);
    expect(byTestId("status-blocked").hidden).toBe(true);
    click("run");
    await flush();
    expect(host.sent("compare/run")).toHaveLength(1);
  });
});
