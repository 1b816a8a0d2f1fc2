#!/usr/bin/env bash
# End-to-end test of the page in the system's headless Chromium. Expects www/pkg to be built already
# (.ci/build-wasm.sh); installs playwright-core from the lockfile if it is missing (never a browser), then
# runs node's test runner. Exits non-zero on any failure. CHROMIUM=/path overrides /usr/bin/chromium.
#   bash tests/e2e/run.sh                              every tests/e2e/*.test.mjs
#   bash tests/e2e/run.sh tests/e2e/page.test.mjs ...  only these files
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
files=()
for f in "$@"; do files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
[ ${#files[@]} -gt 0 ] || files=("$here"/*.test.mjs)
cd "$here"

if [ ! -f "$root/www/pkg/lguest_sim.js" ] || [ ! -f "$root/www/pkg/lguest_sim_bg.wasm" ]; then
  echo "tests/e2e: www/pkg is not built; run .ci/build-wasm.sh first" >&2
  exit 1
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "tests/e2e: no Chromium at $chromium (apt-get install chromium)" >&2
  exit 1
fi

# playwright-core ships no browser; the variable makes sure nothing ever tries to fetch one.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -f node_modules/playwright-core/package.json ]; then
  npm ci --no-audit --no-fund --prefer-offline >&2
fi

exec node --test --test-reporter=spec "${files[@]}"
