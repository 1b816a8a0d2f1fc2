#!/usr/bin/env bash
# Pack the release: one npm package, lguest-sim-<version>.tgz, that a course site installs without building
# anything: the pages (index, embed, example, author, lab), the <lguest-sim> element and every module it
# loads, the wasm (also precompressed, .gz and .br, for servers that serve those as they are), the course
# (lessons/ with its Guest programs and README), and bin/lguest-sim-check (lesson checking with Node only).
#   bash .ci/pack.sh [OUT_DIR]       prints the tarball's path (OUT_DIR: target/package by default)
# Needs www/pkg built first (bash .ci/build-wasm.sh); uses nothing from the network.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-$root/target/package}" && cd "${1:-$root/target/package}" && pwd)
cd "$root"
if [ ! -f www/pkg/lguest_sim.js ] || [ ! -f www/pkg/lguest_sim_bg.wasm ]; then
  echo "pack: www/pkg is not built; run bash .ci/build-wasm.sh first" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/lguest-sim"
mkdir -p "$stage/pkg" "$stage/lessons/guests" "$stage/bin"
# The page's files, as git knows them (nothing a test or a benchmark left behind), and the built wasm.
git ls-files -z www | grep -zv '^www/pkg/' | while IFS= read -r -d '' f; do
  mkdir -p "$stage/$(dirname "${f#www/}")"
  cp "$f" "$stage/${f#www/}"
done
cp www/pkg/lguest_sim.js www/pkg/lguest_sim_bg.wasm "$stage/pkg/"
node -e '
  const fs = require("fs"), zlib = require("zlib"), f = process.argv[1], b = fs.readFileSync(f);
  fs.writeFileSync(f + ".gz", zlib.gzipSync(b, { level: 9 }));
  fs.writeFileSync(f + ".br", zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length } }));
' "$stage/pkg/lguest_sim_bg.wasm"
cp lessons/*.lesson lessons/README.md "$stage/lessons/"
cp lessons/guests/*.S "$stage/lessons/guests/"
cp .ci/package/lguest-sim-check.mjs "$stage/bin/"
cp .ci/package/README.md "$stage/README.md"
sed "s/@VERSION@/$version/" .ci/package/package.json > "$stage/package.json"
cd "$stage"
name=$(npm pack --silent --pack-destination "$out" 2>/dev/null | tail -n1)
echo "$out/$name"
