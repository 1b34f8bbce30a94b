// What the compare panel shows, read back from the rendered webview DOM (through the shim's text endpoint), and
// waiting for one run to finish there; shared by the compare-panel suites.
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { pageText, pageTexts } from "./harness";
import { FatalWait, waitFor } from "./prismFixtures";

/** The answer area of one side, matched only once the side has finished streaming. */
export const doneOutput = (side: "base" | "persona"): string =>
  `section.side[data-testid=side-${side}]:not(.streaming) [data-testid=side-output]`;

export interface Rendered {
  base: string;
  persona: string;
  probability: string;
  decision: string;
  servedBadge: string;
  historyCount: string;
  historyItems: string[];
}

/** Reads what the panel shows (across all frames); empty strings for what is not rendered. */
export async function rendered(timeoutMs = 1_000): Promise<Rendered> {
  const [base, persona, probability, decision, historyCount] = await Promise.all([
    pageText(doneOutput("base"), timeoutMs),
    pageText(doneOutput("persona"), timeoutMs),
    pageText("[data-testid=gate-probability]", timeoutMs),
    pageText("[data-testid=gate-decision]", timeoutMs),
    pageText("[data-testid=history-count]", timeoutMs),
  ]);
  const served = await pageTexts('section.side[data-served="true"] [data-testid=served-badge]', timeoutMs);
  const historyItems = await pageTexts("[data-testid=history-item]", timeoutMs);
  return {
    base: base?.trim() ?? "",
    persona: persona?.trim() ?? "",
    probability: probability?.trim() ?? "",
    decision: decision?.trim() ?? "",
    servedBadge: served.join("|"),
    historyCount: historyCount?.trim() ?? "",
    historyItems,
  };
}

/** Waits until the panel shows a finished run of `prompt`, with `historyLength` history entries. */
export async function waitForRun(api: PrismExtensionApi, prompt: string, historyLength: number): Promise<Rendered> {
  let failure: string | null = null;
  const last = await waitFor(
    `the host to finish routing "${prompt}"`,
    async () => {
      if (api.service.lastRoute?.prompt === prompt) return api.service.lastRoute.result;
      // A failed run ends the wait at once, with the panel's error line.
      failure = await pageText("[data-testid=run-state][data-state=error]", 100);
      if (failure) throw new FatalWait(`the run failed in the panel: ${failure}`);
      return undefined;
    },
    60_000,
    250,
    () => `last routed prompt: ${JSON.stringify(api.service.lastRoute?.prompt)}`,
  );
  let seen: Rendered | undefined;
  return waitFor(
    `the panel to render the run of "${prompt}"`,
    async () => {
      seen = await rendered(500);
      const ok =
        seen.base !== "" &&
        seen.persona !== "" &&
        seen.probability === last.gate.probability.toFixed(2) &&
        seen.decision === last.gate.decision &&
        seen.servedBadge !== "" &&
        seen.historyCount === String(historyLength) &&
        seen.historyItems.length === historyLength;
      return ok && seen;
    },
    20_000,
    300,
    () => JSON.stringify(seen),
  );
}
