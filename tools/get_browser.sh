#!/usr/bin/env bash
# Make sure the browser tests have a Chromium: Debian's package where we may install it (root,
# as in CI), else Playwright's own download. Prints what it found; fails loudly if nothing works.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "browser: $(command -v chromium)"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "browser: installing Debian's chromium package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "browser: no system chromium and not root; downloading Playwright's Chromium"
.venv/bin/python -m playwright install chromium || {
  echo "No browser for the site tests. Install Debian's 'chromium' package (as root) or run"
  echo "'.venv/bin/python -m playwright install chromium' with network access." >&2
  exit 1
}
