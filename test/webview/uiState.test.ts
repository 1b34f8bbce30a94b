import { describe, expect, it } from "vitest";
import { DEFAULT_UI_STATE, filterHistory, histogram, parseUiState, sideView } from "../../webview/uiState.js";
import { record, runSnapshot, side } from "./fixtures.js";

describe("parseUiState", () => {
  it("defaults a missing or foreign state and keeps every valid field of a partial one", () => {
    expect(parseUiState(undefined)).toEqual(DEFAULT_UI_STATE);
    expect(parseUiState("garbage")).toEqual(DEFAULT_UI_STATE);
    expect(parseUiState({ mode: "warp", draft: "kept", historyDecision: "persona", scrollY: -3 })).toEqual({
      ...DEFAULT_UI_STATE,
      draft: "kept",
      historyDecision: "persona",
    });
  });
});

describe("filterHistory", () => {
  const history = [
    record({ prompt: "alpha", probability: 0.2, promptHash: "h1" }),
    record({ prompt: "Beta", probability: 0.7, promptHash: "h2" }),
    record({ prompt: undefined, probability: 0.9, promptHash: "f00d" }),
  ];
  it("returns newest first and filters by decision, text (case-insensitive) and hash prefix", () => {
    expect(filterHistory(history, "all", "").map((r) => r.promptHash)).toEqual(["f00d", "h2", "h1"]);
    expect(filterHistory(history, "persona", "").map((r) => r.promptHash)).toEqual(["f00d", "h2"]);
    expect(filterHistory(history, "all", " beta ").map((r) => r.promptHash)).toEqual(["h2"]);
    expect(filterHistory(history, "all", "f00").map((r) => r.promptHash)).toEqual(["f00d"]);
    expect(filterHistory(history, "base", "beta")).toEqual([]);
  });
});

describe("histogram", () => {
  it("puts values in 10 bins over 0–1, 1.0 and out-of-range values in the end bins", () => {
    expect(histogram([0, 0.05, 0.1, 0.55, 0.999, 1, 1.2, -0.1, Number.NaN])).toEqual([3, 1, 0, 0, 0, 1, 0, 0, 0, 3]);
  });
});

describe("sideView", () => {
  it("says why a side has no answer", () => {
    expect(sideView(undefined, "base")).toEqual({ kind: "placeholder", message: "No run yet." });
    expect(sideView(runSnapshot({ mode: "persona" }), "base")).toEqual({
      kind: "placeholder",
      message: "not generated in persona mode",
    });
    expect(sideView(runSnapshot({ mode: "hard" }), "base")).toEqual({
      kind: "placeholder",
      message: "Waiting for the gate…",
    });
    expect(sideView(runSnapshot({ mode: "soft", served: "persona", state: "done" }), "base").kind).toBe("placeholder");
    expect(sideView(runSnapshot({ state: "cancelled" }), "persona")).toEqual({
      kind: "placeholder",
      message: "not generated (run cancelled)",
    });
    expect(sideView(runSnapshot({ sides: { base: side("hi") } }), "base")).toEqual({
      kind: "answer",
      snapshot: side("hi"),
    });
  });
});
