// @vitest-environment jsdom
import { Chart } from "chart.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GateChart } from "../../webview/components/GateChart.js";
import { installDomShims } from "./domShims.js";

/**
 * jsdom has no canvas. A context whose every method is a no-op (and whose `measureText` answers) is enough for
 * Chart.js to build and "draw" the chart, which shows that the registered controllers, elements and scales
 * suffice and that the chart gets the right data and theme colours.
 */
function fakeContext(canvas: HTMLCanvasElement, calls: string[]): CanvasRenderingContext2D {
  const state: Record<string | symbol, unknown> = { canvas };
  return new Proxy(state, {
    get(target, key) {
      if (key in target) return target[key];
      if (key === "measureText")
        return (text: string) => ({ width: text.length * 6, actualBoundingBoxAscent: 8, actualBoundingBoxDescent: 2 });
      if (key === "getLineDash") return () => [];
      if (key === "createLinearGradient" || key === "createPattern") return () => ({ addColorStop() {} });
      return (...args: unknown[]) => void calls.push(`${String(key)}(${args.join(",")})`);
    },
    set(target, key, value) {
      target[key] = value;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
}

describe("GateChart with Chart.js", () => {
  const calls: string[] = [];
  let chart: GateChart;

  beforeEach(() => {
    installDomShims();
    document.body.className = "vscode-dark";
    document.body.style.setProperty("--vscode-charts-blue", "rgb(1, 2, 3)");
    HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement) {
      return fakeContext(this, calls);
    } as unknown as typeof HTMLCanvasElement.prototype.getContext;
    chart = new GateChart();
    // jsdom does no layout; Chart.js skips drawing a chart of size 0, so give the box a size.
    const box = chart.element.querySelector<HTMLElement>(".chart-box")!;
    for (const [name, value] of [
      ["clientWidth", 400],
      ["clientHeight", 180],
    ] as const) {
      Object.defineProperty(box, name, { value, configurable: true });
    }
    box.getBoundingClientRect = () => ({
      x: 0,
      y: 0,
      top: 0,
      left: 0,
      right: 400,
      bottom: 180,
      width: 400,
      height: 180,
      toJSON() {},
    });
    document.body.append(chart.element);
  });

  afterEach(() => {
    chart.dispose();
    document.body.replaceChildren();
  });

  it("draws a 10-bin histogram with the threshold line in theme colours, and follows theme changes", async () => {
    chart.update([0.05, 0.15, 0.16, 0.95], 0.5);
    const instance = Chart.getChart(chart.element.querySelector("canvas")!)!;
    expect(instance).toBeDefined();
    expect(instance.data.datasets[0]!.data).toEqual([1, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(instance.data.datasets[0]!.backgroundColor).toBe("rgb(1, 2, 3)");
    expect(calls.some((c) => c.startsWith("setLineDash(4,3)"))).toBe(true); // the threshold line was drawn

    document.body.style.setProperty("--vscode-charts-blue", "rgb(9, 9, 9)");
    document.body.className = "vscode-high-contrast";
    await new Promise((resolve) => setTimeout(resolve, 0)); // MutationObserver callbacks are microtasks
    expect(instance.data.datasets[0]!.backgroundColor).toBe("rgb(9, 9, 9)");

    chart.update([0.5], undefined);
    expect(instance.data.datasets[0]!.data).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  });
});
