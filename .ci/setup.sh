#!/usr/bin/env bash
# Installs what lguest-sim's build and tests need, skipping whatever is already present.
# Sourced by .ci/run (tests) and .ci/serve (the browser walkthrough). Safe to run again.
# Follows ../shared/TOOLCHAIN.md: nothing downloads a browser or a prebuilt toolchain of its own. (No
# binaryen: Debian's wasm-opt breaks wasm-bindgen's output, so Cargo.toml turns wasm-opt off.)
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
log() { printf '[setup] %s\n' "$*" >&2; }

# The wasm-bindgen version pinned in Cargo.toml; the CLI must match it exactly.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wb_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    log "adding the $component component"
    rustup component add "$component"
  fi
done

if ! have wasm-pack; then
  log "building wasm-pack (about 2 minutes, once)"
  cargo install wasm-pack
fi

if [ -n "$wb_version" ] && ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$"; then
  log "building wasm-bindgen-cli $wb_version (about 3 minutes, once)"
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

if [ "${LGSIM_NEED_BROWSER:-1}" = 1 ]; then
  have chromium || need_apt+=(chromium)
  have chromedriver || need_apt+=(chromium-driver)
fi
have as || need_apt+=(binutils)

if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
