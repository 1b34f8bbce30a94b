/** Attributes and children for {@link el}. `false`/`undefined` attributes are left out. */
export type ElAttrs = Record<string, string | number | boolean | undefined>;

/**
 * Creates an element with attributes and children. Text children become text nodes, so nothing passed here
 * is ever parsed as HTML (model output goes through `renderMarkdown` only).
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: ElAttrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
  return element;
}

/** Formats a duration in milliseconds for the metric lines ("—" when unknown). */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return "—";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`; // the gate itself takes well under 1 ms
}

/** Formats a probability or threshold with two decimals. */
export function formatP(p: number): string {
  return p.toFixed(2);
}
