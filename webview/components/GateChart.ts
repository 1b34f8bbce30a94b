import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip, type Plugin } from "chart.js";
import { histogram } from "../uiState.js";
import { el, formatP } from "./el.js";

// Only what a bar histogram needs, so the bundle carries no other chart types.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

const BINS = 10;
const LABELS = Array.from({ length: BINS }, (_, i) => `${(i / BINS).toFixed(1)}–${((i + 1) / BINS).toFixed(1)}`);

/** Theme colours for the chart, read from VS Code's `--vscode-*` variables. */
interface ChartColours {
  bar: string;
  threshold: string;
  text: string;
  grid: string;
  font: string;
}

function readColours(): ChartColours {
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  return {
    bar: v("--vscode-charts-blue", "#3794ff"),
    threshold: v("--vscode-charts-red", "#f14c4c"),
    text: v("--vscode-foreground", "#cccccc"),
    grid: v("--vscode-charts-lines", "rgba(128, 128, 128, 0.35)"),
    font: v("--vscode-font-family", "sans-serif"),
  };
}

/**
 * Histogram of gate probabilities (10 bins over 0–1) with the threshold as a vertical line. Chart.js draws
 * on a canvas; a visually hidden table carries the same numbers for screen readers (and tests: jsdom has no
 * canvas, so there only the table is filled). Colours follow the theme: VS Code switches the body's
 * `vscode-light` / `vscode-dark` / `vscode-high-contrast` class, which a MutationObserver watches.
 */
export class GateChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tableBody: HTMLTableSectionElement;
  private readonly caption: HTMLElement;
  private chart: Chart<"bar", number[], string> | undefined;
  private counts = new Array<number>(BINS).fill(0);
  private threshold: number | undefined;
  private colours = readColours();
  private readonly observer: MutationObserver;

  constructor() {
    this.canvas = el("canvas", { role: "img", "data-testid": "chart-canvas" });
    this.tableBody = el("tbody");
    this.caption = el("caption");
    this.element = el(
      "section",
      { class: "card chart", "data-testid": "chart", "aria-label": "Gate probability distribution" },
      el("h2", {}, "Gate probability distribution"),
      el("div", { class: "chart-box" }, this.canvas),
      el(
        "table",
        { class: "sr-only", "data-testid": "chart-table" },
        this.caption,
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "p"), el("th", { scope: "col" }, "prompts"))),
        this.tableBody,
      ),
    );
    this.observer = new MutationObserver(() => this.onThemeChange());
    this.observer.observe(document.body, { attributes: true, attributeFilter: ["class"] });
  }

  /** Shows the distribution of `probabilities` and the `threshold` line (none when undefined). */
  update(probabilities: readonly number[], threshold: number | undefined): void {
    this.counts = histogram(probabilities, BINS);
    this.threshold = threshold;
    const summary =
      `${probabilities.length} prompts` + (threshold === undefined ? "" : `; threshold ${formatP(threshold)}`);
    this.canvas.setAttribute("aria-label", `Histogram of gate probabilities: ${summary}`);
    this.caption.textContent = `Gate probabilities: ${summary}`;
    this.element.dataset.bins = this.counts.join(",");
    this.element.dataset.threshold = threshold === undefined ? "" : String(threshold);
    this.tableBody.replaceChildren(
      ...this.counts.map((count, i) =>
        el("tr", {}, el("th", { scope: "row" }, LABELS[i]!), el("td", {}, String(count))),
      ),
    );
    this.draw();
  }

  /** Destroys the chart and stops watching the theme. */
  dispose(): void {
    this.observer.disconnect();
    this.chart?.destroy();
    this.chart = undefined;
  }

  private onThemeChange(): void {
    this.colours = readColours();
    if (!this.chart) return;
    this.chart.options = this.options();
    this.chart.data.datasets[0]!.backgroundColor = this.colours.bar;
    this.chart.update("none");
  }

  private draw(): void {
    if (this.chart) {
      this.chart.data.datasets[0]!.data = this.counts;
      this.chart.update("none");
      return;
    }
    // Without a 2D context (jsdom, or a canvas-less environment) the hidden table is all there is.
    if (!this.canvas.getContext("2d")) return;
    this.chart = new Chart(this.canvas, {
      type: "bar",
      data: {
        labels: LABELS,
        datasets: [
          {
            label: "prompts",
            data: this.counts,
            backgroundColor: this.colours.bar,
            barPercentage: 1,
            categoryPercentage: 0.95,
          },
        ],
      },
      options: this.options(),
      plugins: [this.thresholdPlugin()],
    });
  }

  private options(): NonNullable<Chart<"bar", number[], string>["options"]> {
    const { text, grid, font } = this.colours;
    return {
      animation: false, // re-drawn on every history change; animating would only cost time
      responsive: true,
      maintainAspectRatio: false,
      font: { family: font },
      color: text,
      plugins: { tooltip: { enabled: true } },
      scales: {
        x: {
          ticks: { color: text },
          grid: { color: grid },
          title: { display: true, text: "gate probability", color: text },
        },
        y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
      },
    };
  }

  /** Draws the threshold line; the 10 category bins split the x axis evenly, so p maps linearly. */
  private thresholdPlugin(): Plugin<"bar"> {
    return {
      id: "prismThreshold",
      afterDatasetsDraw: (chart) => {
        if (this.threshold === undefined) return;
        const { ctx, chartArea } = chart;
        const x = chartArea.left + Math.min(1, Math.max(0, this.threshold)) * (chartArea.right - chartArea.left);
        ctx.save();
        ctx.strokeStyle = this.colours.threshold;
        ctx.lineWidth = 2;
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.restore();
      },
    };
  }
}
