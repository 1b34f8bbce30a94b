// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_MESSAGE_CHARS } from "../../src/protocol/envelope.js";
import { renderMarkdown, sanitizeHtml } from "../../webview/components/renderMarkdown.js";
import { byTestId, FakeHost, flush } from "./FakeHost.js";
import { runSnapshot, side } from "./fixtures.js";

/** Asserts that nothing under `root` can run code or navigate by itself. */
function expectInert(root: Element): void {
  expect(
    root.querySelectorAll("script, iframe, frame, object, embed, img, style, link, meta, form, svg, math"),
  ).toHaveLength(0);
  for (const element of root.querySelectorAll("*")) {
    for (const attr of element.getAttributeNames()) {
      expect(attr, `<${element.localName} ${attr}>`).not.toMatch(
        /^on|^style$|^srcdoc$|^formaction$|^data-|^class$|^id$/i,
      );
    }
  }
  for (const anchor of root.querySelectorAll("a")) {
    const href = anchor.getAttribute("href");
    if (href !== null) expect(href).toMatch(/^(https?|mailto):/i);
    expect(anchor.getAttribute("rel")).toBe("noopener noreferrer");
    expect(anchor.hasAttribute("target")).toBe(false);
  }
}

const MODEL_OUTPUT = [
  "<script>alert(1)</script>",
  "",
  "<img src=x onerror=alert(1)>",
  "",
  "[x](javascript:alert(1)) and [y](JaVaScRiPt:alert(2)) and [z](data:text/html,<script>alert(3)</script>)",
  "",
  '<iframe src="https://evil.example"></iframe>',
  "",
  'Inline <a href="https://e" onclick="x">html link</a> and <span style="color:red" data-testid="served-badge">forged</span>',
  "",
  "[safe](https://example.com) and ![pixel](https://tracker.example/p.png)",
].join("\n");

describe("model output", () => {
  let host: FakeHost;
  beforeEach(async () => {
    host = new FakeHost();
    await host.start();
  });
  afterEach(() => host.stop());

  it("is rendered inert in both columns", async () => {
    host.notify("compare/didUpdate", {
      run: runSnapshot({
        state: "done",
        served: "base",
        sides: { base: side(MODEL_OUTPUT), persona: side(MODEL_OUTPUT) },
      }),
    });
    await flush();
    for (const id of ["side-base", "side-persona"]) {
      const output = byTestId("side-output", byTestId(id));
      expectInert(output);
      // Raw HTML is shown as text, not dropped silently.
      expect(output.textContent).toContain("<script>alert(1)</script>");
      expect(output.querySelector('a[href="https://example.com"]')?.textContent).toBe("safe");
    }
    // Only the real badge (in the served column) carries the test hook.
    expect(document.querySelectorAll('[data-testid="served-badge"]:not([hidden])')).toHaveLength(1);
  });

  it("has links that open nothing by themselves", async () => {
    host.notify("compare/didUpdate", { run: runSnapshot({ sides: { base: side("[site](https://example.com)") } }) });
    await flush();
    const link = byTestId("side-output", byTestId("side-base")).querySelector("a")!;
    const click = new MouseEvent("click", { bubbles: true, cancelable: true });
    link.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    expect(link.title).toBe("https://example.com");
  });
});

describe("the sanitiser on its own (raw HTML, as if marked let it through)", () => {
  const cases = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<iframe src="https://e" srcdoc="<script>alert(1)</script>"></iframe>',
    '<a href="https://e" onclick="x" target="_blank">e</a>',
    '<p style="background:url(javascript:alert(1))" class="served" id="app" name="x">p</p>',
    "<svg><script>alert(1)</script></svg><math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://e"><button formaction="javascript:alert(1)">b</button></form>',
    '<div data-testid="run">forged hook</div><details open ontoggle=alert(1)>d</details>',
    '<a href="vscode://settings">settings</a><a href="/relative">rel</a>',
  ];
  it.each(cases)("neutralises %s", (html) => {
    const container = document.createElement("div");
    container.append(sanitizeHtml(html));
    expectInert(container);
  });

  it("keeps ordinary Markdown", () => {
    const container = document.createElement("div");
    renderMarkdown(container, "# Title\n\n- **bold** and `code`\n\n```ts\nconst a = 1 < 2;\n```\n\n> quote");
    expect(container.querySelector("h1")?.textContent).toBe("Title");
    expect(container.querySelector("li strong")?.textContent).toBe("bold");
    expect(container.querySelector("pre code")?.textContent).toBe("const a = 1 < 2;\n");
    expect(container.querySelector("blockquote")).not.toBeNull();
  });
});

describe("invalid messages from the host", () => {
  let host: FakeHost;
  let warn: ReturnType<typeof vi.spyOn>;
  beforeEach(async () => {
    warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    host = new FakeHost();
    await host.start();
  });
  afterEach(() => {
    host.stop();
    warn.mockRestore();
  });

  it("are dropped without breaking the panel", async () => {
    const run = (text: unknown): unknown => ({
      kind: "notify",
      method: "compare/didUpdate",
      params: { run: runSnapshot({ sides: { base: side(text as string) } }) },
    });
    host.postRaw({ kind: "notify", method: "compare/didExplode", params: {} }); // unknown method
    host.postRaw({ kind: "notify", method: "panel/didChangeStatus", params: { status: { engine: 42 } } }); // wrong type
    host.postRaw(run(12345)); // wrong field type
    host.postRaw(run("x".repeat(1_000_001))); // over the schema's limit
    host.postRaw(run("y".repeat(MAX_MESSAGE_CHARS + 1))); // over the channel's limit
    host.postRaw({ kind: "response", id: 999, method: "compare/run", result: {} }); // answers nothing
    host.postRaw("not an envelope");
    host.postRaw(null);
    host.postRaw({ kind: "notify", method: "history/didChange", params: { history: [{ time: 1 }] } });
    await flush();

    expect(warn).toHaveBeenCalledTimes(8); // all but the unmatched response, which is expected after a cancel
    expect(byTestId("status-engine").textContent).toBe("ready");
    expect(byTestId("side-placeholder", byTestId("side-base")).textContent).toBe("No run yet.");

    host.postRaw(run("still alive"));
    await flush();
    expect(byTestId("side-output", byTestId("side-base")).textContent?.trim()).toBe("still alive");
  });

  it("reject a request whose result is invalid, and the panel stays usable", async () => {
    const prompt = byTestId<HTMLElement & { value: string }>("prompt");
    prompt.value = "hello";
    byTestId("run").click();
    await flush();
    // Request 1 was webview/ready; answer request 2 (compare/run) with garbage before the host does.
    host.postRaw({ kind: "response", id: 2, method: "compare/run", result: { runId: "one" } });
    await flush();
    expect(byTestId("notice").textContent).toMatch(/^Run failed: Invalid result for compare\/run/);
    byTestId("run").click();
    await flush();
    expect(host.sent("compare/run")).toHaveLength(2);
  });
});
