import { isIP } from "node:net";

/**
 * True if binding `host` reaches only this machine: `localhost`, 127.0.0.0/8 or `::1`. Anything else (`0.0.0.0`,
 * `::`, a LAN address, a name) may be reachable from the network, so `prism serve` requires an API key for it.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}
