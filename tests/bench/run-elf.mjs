#!/usr/bin/env node
// Run any ELF Guest to its end on the page's own wasm build (www/pkg, built by .ci/build-wasm.sh) in Node,
// and print what it printed, the Guest instructions it ran and the seconds it took, start-up excluded
// (see measure.mjs for what that means exactly).
//
//   node tests/bench/run-elf.mjs GUEST.elf [--mem MB] [--pkg DIR] [--json]
//
// --pkg points at another wasm-bindgen `--target web` build (the suite's opt-level 3 one, say).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measureElf } from './measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Load the wasm-bindgen module in `dir` (lguest_sim.js + lguest_sim_bg.wasm) and initialise it. */
export async function loadPkg(dir = path.join(root, 'www/pkg')) {
  const js = path.join(dir, 'lguest_sim.js');
  const wasm = path.join(dir, 'lguest_sim_bg.wasm');
  if (!fs.existsSync(js) || !fs.existsSync(wasm)) throw new Error(`${dir} holds no wasm build: run bash .ci/build-wasm.sh first`);
  const lib = await import(pathToFileURL(js).href);
  lib.initSync({ module: fs.readFileSync(wasm) });
  return lib;
}

async function main(argv) {
  let file, mem = 32, pkg, json = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--mem') mem = Number(argv[++k]);
    else if (a === '--pkg') pkg = argv[++k];
    else if (a === '--json') json = true;
    else if (!file && !a.startsWith('--')) file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!file || !(mem >= 1 && mem <= 512)) {
    console.error('usage: node tests/bench/run-elf.mjs GUEST.elf [--mem MB (1-512)] [--pkg DIR] [--json]');
    process.exit(2);
  }
  const lib = await loadPkg(pkg);
  const r = measureElf(lib, new Uint8Array(fs.readFileSync(file)), mem);
  if (json) {
    console.log(JSON.stringify(r));
  } else {
    process.stdout.write(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    console.log(`${path.basename(file)}: ${r.instructions} instructions in ${r.seconds.toFixed(3)} s = ${r.mips.toFixed(1)} M instructions/s `
      + `(start-up ${(r.bootSeconds * 1e3).toFixed(1)} ms excluded; exit code ${r.exitCode})`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => { console.error(e.message ?? e); process.exit(1); });
}
