#!/usr/bin/env bash
# Builds the wasm package the page loads into www/pkg: the `web` profile (release, optimised for size; see
# Cargo.toml). Used by .ci/serve and .ci/run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
wasm-pack build --target web --profile web --no-typescript --no-pack --out-dir www/pkg "$@" >&2
rm -f www/pkg/.gitignore
