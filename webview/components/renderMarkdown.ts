import createDOMPurify, { type Config } from "dompurify";
import { Marked } from "marked";

/**
 * Model output is untrusted: a persona adapter or a prompt injection can make the model emit HTML. Two layers
 * keep it inert. (1) marked renders raw HTML blocks as escaped text, so the user sees what the model wrote.
 * (2) DOMPurify sanitises marked's output anyway, with a deny-list tuned to this panel, in case a marked
 * construct (links, autolinks) carries something dangerous. Only the returned fragment reaches the DOM; it is
 * never re-serialised to a string, which would allow mutation-XSS through re-parsing.
 */

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c]!);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html: ({ text }) => escapeHtml(text),
  },
});

/** Only absolute web and mail links survive; `javascript:`, `data:`, relative and `vscode:` URLs are dropped. */
const SAFE_URL = /^(?:https?|mailto):/i;

const SANITIZE_CONFIG: Config = {
  USE_PROFILES: { html: true }, // no SVG or MathML: both have had sanitiser bypasses
  FORBID_TAGS: [
    "style",
    "link",
    "meta",
    "base",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "img",
    "picture",
    "source",
    "video",
    "audio",
    "track",
    "dialog",
    "template",
    "slot",
  ],
  // `style` needs 'unsafe-inline' under our CSP; `class`/`id`/`name` could imitate or clobber the panel's own
  // elements (a fake "served by PRISM" badge, DOM clobbering); `target` could open windows.
  FORBID_ATTR: ["style", "class", "id", "name", "target", "srcset", "formaction", "action", "ping"],
  ALLOW_DATA_ATTR: false, // else the model could forge our data-testid hooks
  ALLOWED_URI_REGEXP: SAFE_URL,
};

let purifier: ReturnType<typeof createDOMPurify> | undefined;

function getPurifier(): ReturnType<typeof createDOMPurify> {
  if (purifier) return purifier;
  // A private instance: hooks on the shared default instance would leak into any other user of DOMPurify.
  const instance = createDOMPurify(window);
  instance.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName !== "A") return;
    const anchor = node as HTMLAnchorElement;
    anchor.setAttribute("rel", "noopener noreferrer");
    const href = anchor.getAttribute("href");
    if (href) anchor.setAttribute("title", href); // links open nothing by themselves (see linkGuard); show the URL
  });
  purifier = instance;
  return instance;
}

/** Sanitises an HTML string into an inert fragment (exported for tests of the sanitiser on its own). */
export function sanitizeHtml(html: string): DocumentFragment {
  return getPurifier().sanitize(html, { ...SANITIZE_CONFIG, RETURN_DOM_FRAGMENT: true });
}

/** Renders untrusted Markdown into `target`, replacing its content. */
export function renderMarkdown(target: Element, markdown: string): void {
  const html = marked.parse(markdown, { async: false });
  target.replaceChildren(sanitizeHtml(html));
}

/**
 * Makes every link inside `container` inert to clicks: the webview would otherwise hand http(s) links to
 * VS Code's opener, so a click on model output could open a page the user did not mean to visit.
 * Returns a function that removes the guard.
 */
export function linkGuard(container: Element): () => void {
  const stop = (event: Event): void => {
    if (event.target instanceof Element && event.target.closest("a")) event.preventDefault();
  };
  container.addEventListener("click", stop);
  container.addEventListener("auxclick", stop);
  return () => {
    container.removeEventListener("click", stop);
    container.removeEventListener("auxclick", stop);
  };
}
