#!/usr/bin/env bash
# Build the Guest CPU for wasm and measure it in Node and (if installed) headless Chromium, next to
# the native fingerprint. Usage: tests/cpu_wasm_bench/bench.sh [scale]   (from anywhere)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target/cpu-wasm-bench}"
scale="${1:-20}"
cd "$here"
cargo build --release --target wasm32-unknown-unknown --offline
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/cpu_wasm_bench.wasm"
cargo test --release --offline -- --nocapture 2>/dev/null | grep 'native fingerprint'
node run.mjs "$wasm" "$scale"
if command -v chromium >/dev/null; then
  page="$CARGO_TARGET_DIR/bench.html"
  { printf '<!doctype html><title>running</title><pre id=out></pre><script>const b64="'
    base64 -w0 "$wasm"
    cat <<JS
";
(async () => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const mod = await WebAssembly.compile(bytes);
  const imports = {};
  for (const imp of WebAssembly.Module.imports(mod)) { imports[imp.module] ??= {}; imports[imp.module][imp.name] = () => performance.now(); }
  const { exports } = await WebAssembly.instantiate(mod, imports);
  const out = ['chromium: wasm fingerprint 0x' + BigInt.asUintN(64, exports.fp()).toString(16)];
  for (let k = 0; k < 3; k++) out.push('mix (cache on) alone: ' + exports.mix_only(3000).toFixed(1) + ' M instr/s');
  ['mix cache on', 'tight loop cache on'].forEach((n, k) => out.push('run_bench($scale) ' + n + ': ' + exports.bench_figure($scale, k).toFixed(1) + ' M instr/s'));
  document.getElementById('out').textContent = out.join('\n');
})();
</script>
JS
  } > "$page"
  timeout 600 chromium --headless=new --no-sandbox --disable-gpu --virtual-time-budget=600000 --dump-dom "file://$page" 2>/dev/null \
    | sed -n 's/.*<pre id="out">//; /^chromium:/,/M instr\/s<\/pre>/p' | sed 's/<\/pre>.*//'
fi
