// Entry of the compare-panel webview (bundled by esbuild into dist/webview/main.js, a browser IIFE).
import "./zodJitless.js";
import "./elements.js";
import { App } from "./App.js";
import { HostApi } from "./hostApi.js";

/** The running panel; exported so tests can dispose it between cases. */
export const app = new App(document.getElementById("app") ?? document.body, new HostApi());

// start() reports its own failures in the page; a throw here would be a bug worth seeing in the console.
app.start().catch((err: unknown) => console.error("[prism] the compare panel failed to start", err));
window.addEventListener("pagehide", () => app.dispose(), { once: true });
