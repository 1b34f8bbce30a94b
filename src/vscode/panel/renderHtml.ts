import { randomBytes } from "node:crypto";

/** What {@link renderHtml} needs; plain strings so the function stays testable without VS Code. */
export interface PanelHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `asWebviewUri` of the bundled script in dist/webview. */
  scriptUri: string;
  /** `asWebviewUri` of the stylesheet in media. */
  styleUri: string;
  title: string;
}

/**
 * The panel's HTML: a strict CSP (`default-src 'none'`, scripts only with this render's nonce, styles and
 * images only from the extension's own webview resources). The nonce comes from a CSPRNG, never Math.random().
 */
export function renderHtml(o: PanelHtmlOptions): string {
  const nonce = randomBytes(16).toString("base64");
  const csp = [
    "default-src 'none'",
    `style-src ${o.cspSource}`,
    `img-src ${o.cspSource} data:`,
    `font-src ${o.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(o.styleUri)}">
<title>${escapeAttr(o.title)}</title>
</head>
<body>
<div id="app" data-testid="app">Connecting…</div>
<script nonce="${nonce}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>`;
}

function escapeAttr(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
