#!/usr/bin/env node
// The yardstick: our Guest core against v86 on the benchmark kernels (tests/bench/kernels), side by side.
//
//   node tests/bench/suite.mjs [--rounds N] [--kernels alu,calls,...] [--no-build] [--no-node] [--no-browser]
//                              [--no-native] [--scratch DIR]
//
// Each kernel is built three ways (kernels.mjs): an lguest Guest for our core, a multiboot kernel for v86, and
// a Linux program whose checksum, from the real processor, every engine must print too. Then, in one Node
// process and then in one headless Chromium page, round after round and kernel after kernel, interleaved: our
// page build (www/pkg, opt-level z, built by .ci/build-wasm.sh), our opt-level 3 build, v86 with its JIT and
// v86's interpreter. And natively (tests/cpu_suite.rs). It prints, per kernel, the medians over the rounds:
// M instructions/s of each (ours: Guest instructions retired, a rep iteration counting one, as run-elf.mjs
// counts them; v86: its own counter, which counts a rep instruction far fewer times), and the speed ratios,
// which are ratios of times for the same work (v86 seconds / our seconds: above 1 we are faster).
//
// Our time is a whole runElf() less the Launcher's boot (measure.mjs), v86's is between the kernel's '{' and
// '.' on the serial port, so neither counts start-up. v86 0.5.462 and playwright-core are installed on demand
// into a scratch folder (never into the project); the BIOS is Debian's seabios (apt-get install -y seabios).

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KERNELS, buildKernel } from './kernels.mjs';
import { measureElf } from './measure.mjs';
import { loadPkg } from './run-elf.mjs';
import { runV86 } from './v86.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const V86_VERSION = '0.5.462';
const PLAYWRIGHT_VERSION = '1.65.1';
const BIOS = '/usr/share/seabios/bios.bin';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ENGINES = ['ours-z', 'ours-o3', 'v86-jit', 'v86-nojit'];

function parseArgs(argv) {
  const o = { rounds: 3, kernels: KERNELS, build: true, node: true, browser: true, native: true,
    scratch: process.env.V86_SCRATCH ?? path.join(os.tmpdir(), 'lguest-sim-v86') };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--rounds') o.rounds = Math.max(1, Number(argv[++k]) | 0);
    else if (a === '--kernels') o.kernels = argv[++k].split(',');
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-node') o.node = false;
    else if (a === '--no-browser') o.browser = false;
    else if (a === '--no-native') o.native = false;
    else if (a === '--scratch') o.scratch = path.resolve(argv[++k]);
    else throw new Error(`unexpected argument ${a}`);
  }
  for (const n of o.kernels) if (!KERNELS.includes(n)) throw new Error(`no kernel ${n} (there are: ${KERNELS.join(', ')})`);
  return o;
}

const log = (...a) => console.error('suite:', ...a);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

/** v86 (and playwright-core, for the browser half) in `dir`, installed with npm if missing. */
function ensureScratch(dir) {
  const have = (p, v) => { try { return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', p, 'package.json'))).version.startsWith(v); } catch { return false; } };
  if (!have('v86', V86_VERSION) || !have('playwright-core', PLAYWRIGHT_VERSION)) {
    log(`installing v86@${V86_VERSION} and playwright-core@${PLAYWRIGHT_VERSION} into ${dir}`);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{"private": true, "type": "module"}\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, `v86@${V86_VERSION}`, `playwright-core@${PLAYWRIGHT_VERSION}`],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } });
  }
  if (!fs.existsSync(BIOS)) throw new Error(`no BIOS at ${BIOS}: apt-get install -y seabios`);
  return path.join(dir, 'node_modules');
}

function buildWasm(outDir) {
  log('building the page wasm (www/pkg, profile web = opt-level z)');
  execFileSync('bash', [path.join(root, '.ci/build-wasm.sh')], { cwd: root, stdio: 'inherit' });
  log('building the opt-level 3 wasm (profile release)');
  execFileSync('wasm-pack', ['build', '--target', 'web', '--release', '--no-typescript', '--no-pack', '--out-dir', path.join(outDir, 'pkg-o3')],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** The checksum line a kernel prints ("alu 1234abcd"), or the whole output if there is none. */
const checksum = (text) => (text.match(/^\S+ [0-9a-f]{8}$/m) ?? [text.trim()])[0];

function plan(o) {
  const steps = [];
  for (let r = 0; r < o.rounds; r++) for (const kernel of o.kernels) for (const engine of ENGINES) steps.push({ round: r, kernel, engine });
  return steps;
}

async function runNode(o, files, modules) {
  const libs = { 'ours-z': await loadPkg(path.join(root, 'www/pkg')), 'ours-o3': await loadPkg(path.join(o.out, 'pkg-o3')) };
  const { V86 } = await import(pathToFileURL(path.join(modules, 'v86/build/libv86.mjs')).href);
  const bios = fs.readFileSync(BIOS);
  const ab = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const results = [];
  for (const step of plan(o)) {
    let r;
    if (step.engine.startsWith('ours')) {
      const m = measureElf(libs[step.engine], new Uint8Array(fs.readFileSync(files[step.kernel].guest)), 32);
      r = { ...step, output: m.stdout, instructions: m.instructions, seconds: m.seconds };
    } else {
      const m = await runV86(V86, { wasmPath: path.join(modules, 'v86/build/v86.wasm'), bios: ab(bios), kernel: ab(fs.readFileSync(files[step.kernel].multiboot)),
        jit: step.engine === 'v86-jit' });
      r = { ...step, ...m };
    }
    log(`node round ${step.round + 1} ${step.kernel} ${step.engine}: ${r.seconds.toFixed(3)} s`);
    results.push(r);
  }
  return results;
}

/** Serve what page.mjs fetches: the bench folder, both our builds, v86's build, the BIOS and the kernels. */
function serve(o, modules) {
  const mounts = [['/pkg-z/', path.join(root, 'www/pkg')], ['/pkg-o3/', path.join(o.out, 'pkg-o3')], ['/v86/', path.join(modules, 'v86/build')],
    ['/kernels/', o.kernelDir], ['/', here]];
  const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = url === '/bios.bin' ? BIOS : (() => {
      const [prefix, dir] = mounts.find(([p]) => url.startsWith(p));
      const f = path.resolve(dir, url.slice(prefix.length));
      return f.startsWith(dir) ? f : null;
    })();
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function runBrowser(o, modules) {
  const { chromium } = await import(pathToFileURL(path.join(modules, 'playwright-core/index.mjs')).href);
  const server = await serve(o, modules);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lguest-sim-bench-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-background-timer-throttling', '--disable-renderer-backgrounding'];
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') log(`page: ${m.text()}`); });
    await page.goto(`http://127.0.0.1:${server.address().port}/page.html`);
    await page.waitForFunction(() => window.benchReady === true);
    const results = [];
    // One round per call, so the log shows progress and no call runs for too long.
    for (let r = 0; r < o.rounds; r++) {
      const steps = plan({ ...o, rounds: 1 }).map((s) => ({ ...s, round: r }));
      const got = await page.evaluate((p) => window.runPlan(p), steps);
      for (const g of got) log(`chromium round ${r + 1} ${g.kernel} ${g.engine}: ${g.seconds.toFixed(3)} s`);
      results.push(...got);
    }
    return results;
  } finally {
    await ctx.close();
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function runNative(o) {
  log('native: cargo test --release --test cpu_suite -- --ignored --nocapture native_figures');
  const r = spawnSync('cargo', ['test', '--release', '--test', 'cpu_suite', '--', '--ignored', '--nocapture', '--exact', 'native_figures'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, SUITE_ROUNDS: String(o.rounds), SUITE_KERNELS: o.kernels.join(',') }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`cargo test failed:\n${r.stderr}`);
  return (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('SUITE ')).map((l) => JSON.parse(l.slice(6)));
}

/** Per kernel and engine: median seconds, median instructions, outputs (to check). */
function summarise(results) {
  const by = {};
  for (const r of results) {
    const k = (by[r.kernel] ??= {});
    const e = (k[r.engine] ??= { seconds: [], instructions: [], outputs: new Set() });
    e.seconds.push(r.seconds);
    e.instructions.push(r.instructions);
    e.outputs.add(checksum(r.output));
  }
  return by;
}

function table(title, by, o, expected) {
  const lines = [`\n${title}`, 'kernel        M instr/s:  ours z   ours O3   v86 JIT   v86 int    ratio (v86 time / ours): z/JIT  z/int  O3/JIT  O3/int'];
  const geo = { zj: [], zi: [], oj: [], oi: [] };
  const bad = [];
  for (const kname of o.kernels) {
    const k = by[kname];
    if (!k) continue;
    const m = (e) => k[e] ? median(k[e].instructions) / median(k[e].seconds) / 1e6 : NaN;
    const s = (e) => k[e] ? median(k[e].seconds) : NaN;
    const ratio = (a, b) => s(b) / s(a);
    const zj = ratio('ours-z', 'v86-jit'), zi = ratio('ours-z', 'v86-nojit'), oj = ratio('ours-o3', 'v86-jit'), oi = ratio('ours-o3', 'v86-nojit');
    [['zj', zj], ['zi', zi], ['oj', oj], ['oi', oi]].forEach(([n, v]) => { if (v > 0) geo[n].push(v); });
    const f = (v, w = 9) => (Number.isFinite(v) ? v.toFixed(1) : '-').padStart(w);
    const g = (v, w = 7) => (Number.isFinite(v) ? v.toFixed(2) : '-').padStart(w);
    lines.push(`${kname.padEnd(24)}${f(m('ours-z'))} ${f(m('ours-o3'))} ${f(m('v86-jit'))} ${f(m('v86-nojit'))}   ${' '.repeat(24)}${g(zj)}${g(zi)}${g(oj, 8)}${g(oi, 8)}`);
    for (const [e, v] of Object.entries(k)) {
      for (const out of v.outputs) if (expected[kname] && out !== expected[kname]) bad.push(`${kname} on ${e} printed "${out}", the processor "${expected[kname]}"`);
    }
  }
  const gm = (xs) => xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : NaN;
  const mins = (xs) => xs.length ? Math.min(...xs) : NaN;
  lines.push(`${'geometric mean'.padEnd(64)}${[gm(geo.zj), gm(geo.zi), gm(geo.oj), gm(geo.oi)].map((v, i) => v.toFixed(2).padStart(i < 2 ? 7 : 8)).join('')}`);
  lines.push(`${'lowest'.padEnd(64)}${[mins(geo.zj), mins(geo.zi), mins(geo.oj), mins(geo.oi)].map((v, i) => v.toFixed(2).padStart(i < 2 ? 7 : 8)).join('')}`);
  for (const b of bad) lines.push(`WRONG: ${b}`);
  return { text: lines.join('\n'), bad };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  o.out = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'bench');
  o.kernelDir = path.join(o.out, 'kernels');
  const load0 = os.loadavg();
  const modules = (o.node || o.browser) ? ensureScratch(o.scratch) : null;
  log(`building ${o.kernels.length} kernels into ${o.kernelDir}`);
  const files = {};
  const expected = {};
  for (const k of o.kernels) {
    files[k] = { guest: buildKernel(k, 'guest', o.kernelDir), multiboot: buildKernel(k, 'multiboot', o.kernelDir), linux: buildKernel(k, 'linux', o.kernelDir) };
    expected[k] = checksum(execFileSync(files[k].linux, { encoding: 'utf8' }));
  }
  if (o.build && (o.node || o.browser)) buildWasm(o.out);
  const report = [];
  const all = {};
  if (o.node) {
    all.node = await runNode(o, files, modules);
    report.push(table(`Node ${process.version} (V8), one process, ${o.rounds} rounds interleaved: medians`, summarise(all.node), o, expected));
  }
  if (o.browser) {
    all.chromium = await runBrowser(o, modules);
    report.push(table(`headless Chromium (${CHROMIUM}), one page, ${o.rounds} rounds interleaved: medians`, summarise(all.chromium), o, expected));
  }
  if (o.native) {
    all.native = runNative(o);
    const by = summarise(all.native);
    const lines = ['\nnative (cargo test --release, opt-level 3), medians: M instructions/s'];
    for (const k of o.kernels) if (by[k]) lines.push(`${k.padEnd(14)}${(median(by[k].native.instructions) / median(by[k].native.seconds) / 1e6).toFixed(1).padStart(9)}`);
    const bad = [];
    for (const k of o.kernels) for (const out of by[k]?.native.outputs ?? []) if (out !== expected[k]) bad.push(`${k} natively printed "${out}", the processor "${expected[k]}"`);
    bad.forEach((b) => lines.push(`WRONG: ${b}`));
    report.push({ text: lines.join('\n'), bad });
  }
  const load1 = os.loadavg();
  console.log(report.map((r) => r.text).join('\n'));
  console.log(`\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end`);
  fs.writeFileSync(path.join(o.out, 'suite-results.json'), JSON.stringify({ load: [load0, load1], expected, ...all }, null, 1));
  if (report.some((r) => r.bad.length)) process.exit(1);
}

main().catch((e) => { console.error(e.stack ?? e); process.exit(1); });
