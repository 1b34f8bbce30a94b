/** Formatting shared by the report view's renderers: every value goes through these before it reaches HTML. */

/** HTML-escapes any value (text content and attribute values alike). */
export const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A fraction as a percentage with one decimal; "–" when absent. */
export const pct = (x: number | undefined | null): string =>
  typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–";

/** A number with `d` decimals; "–" when absent. */
export const num = (x: number | undefined | null, d = 3): string => (typeof x === "number" ? x.toFixed(d) : "–");
