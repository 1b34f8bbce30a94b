// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { allByTestId, byTestId, FakeHost, flush } from "./FakeHost.js";
import { bootstrap, record, runSnapshot, side } from "./fixtures.js";

type ValueElement = HTMLElement & { value: string; disabled: boolean };

let host: FakeHost;

// Newest last, as the protocol sends it.
const history = [
  record({ time: "2026-01-01T10:00:00.000Z", prompt: "How do I sort a list?", probability: 0.1, promptHash: "aaa111" }),
  record({
    time: "2026-01-01T11:00:00.000Z",
    prompt: "Talk like a pirate about ships",
    probability: 0.9,
    promptHash: "bbb222",
  }),
  record({
    time: "2026-01-01T12:00:00.000Z",
    prompt: undefined,
    probability: 0.55,
    promptHash: "ccc333",
    mode: "hard",
  }),
  record({
    time: "2026-01-01T13:00:00.000Z",
    prompt: "Explain sorting to a pirate",
    probability: 0.42,
    promptHash: "ddd444",
  }),
];

const itemTexts = (): string[] => allByTestId("history-item").map((item) => item.textContent ?? "");

beforeEach(async () => {
  host = new FakeHost();
  host.bootstrap = bootstrap({ history, run: runSnapshot({ state: "done", sides: { base: side("live answer") } }) });
  await host.start();
});

afterEach(() => host.stop());

describe("history list", () => {
  it("lists the history newest first with decision, p and prompt (or that it was not kept)", () => {
    const texts = itemTexts();
    expect(texts).toHaveLength(4);
    expect(texts[0]).toContain("Explain sorting to a pirate");
    expect(texts[0]).toContain("base");
    expect(texts[0]).toContain("p 0.42");
    expect(texts[1]).toContain("(prompt not kept)");
    expect(texts[3]).toContain("How do I sort a list?");
  });

  it("filters by decision and by text, and remembers the filter", async () => {
    const decision = byTestId<ValueElement>("history-filter-decision");
    decision.value = "persona";
    decision.dispatchEvent(new Event("change"));
    await flush(1);
    expect(itemTexts()).toHaveLength(2);
    expect(itemTexts().every((t) => t.includes("persona"))).toBe(true);

    decision.value = "all";
    decision.dispatchEvent(new Event("change"));
    const text = byTestId<ValueElement>("history-filter-text");
    text.value = "SORT";
    text.dispatchEvent(new Event("input"));
    await flush(1);
    expect(itemTexts()).toHaveLength(2);
    expect(byTestId("history-count").textContent).toBe("2 of 4");
    expect(host.uiState).toMatchObject({ historyDecision: "all", historyText: "SORT" });
  });

  it("updates from history/didChange and the chart follows the filtered history", async () => {
    expect(byTestId("chart").dataset.bins).toBe("0,1,0,0,1,1,0,0,0,1");
    expect(byTestId("chart").dataset.threshold).toBe("0.5");
    host.notify("history/didChange", {
      history: [...history, record({ time: "2026-01-01T14:00:00.000Z", prompt: "newest", probability: 0.97 })],
    });
    await flush();
    expect(itemTexts()[0]).toContain("newest");
    expect(byTestId("chart").dataset.bins).toBe("0,1,0,0,1,1,0,0,0,2");
    const rows = [...byTestId("chart-table").querySelectorAll("tbody tr")].map((r) => r.textContent);
    expect(rows[9]).toBe("0.9–1.02");

    const decision = byTestId<ValueElement>("history-filter-decision");
    decision.value = "base";
    decision.dispatchEvent(new Event("change"));
    await flush(1);
    expect(byTestId("chart").dataset.bins).toBe("0,1,0,0,1,0,0,0,0,0");
  });

  it("re-opens a clicked entry without re-running it, and offers Run again", async () => {
    allByTestId("history-item")[2]!.querySelector("button")!.click();
    await flush(1);
    expect(host.sent("compare/run")).toEqual([]);
    expect(byTestId<ValueElement>("prompt").value).toBe("Talk like a pirate about ships");
    expect(byTestId("gate-probability").textContent).toBe("0.90");
    expect(byTestId("gate-decision").textContent).toBe("persona");
    expect(byTestId("served-badge", byTestId("side-persona")).hidden).toBe(false);
    expect(byTestId("metric-tokens", byTestId("side-persona")).textContent).toBe("70");
    expect(byTestId("reopened").hidden).toBe(false);
    expect(allByTestId("history-item")[2]!.classList.contains("selected")).toBe(true);

    byTestId("run-again").click();
    await flush();
    expect(host.sent("compare/run")).toEqual([{ prompt: "Talk like a pirate about ships", mode: "compare" }]);
    expect(byTestId("reopened").hidden).toBe(true);
  });

  it("re-opens an entry whose prompt was not kept, with Run again disabled", async () => {
    allByTestId("history-item")[1]!.querySelector("button")!.click();
    await flush(1);
    expect(byTestId("reopened").textContent).toContain("not kept");
    expect(byTestId<ValueElement>("run-again").disabled).toBe(true);
    expect(byTestId("side-placeholder", byTestId("side-base")).textContent).toContain("history keeps no answers");

    byTestId("reopen-close").click();
    await flush(1);
    expect(byTestId("side-output", byTestId("side-base")).textContent?.trim()).toBe("live answer");
  });

  it("exports in the chosen format", async () => {
    byTestId("export-jsonl").click();
    byTestId("export-csv").click();
    await flush();
    expect(host.sent("history/export")).toEqual([{ format: "jsonl" }, { format: "csv" }]);
    expect(byTestId("notice").textContent).toBe("History saved to /tmp/history.csv.");
  });
});
