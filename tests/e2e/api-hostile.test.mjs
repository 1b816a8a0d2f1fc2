// The wasm API called as a hostile page might call it: every exported method of Simulator, Walkthrough and
// RcuRun in random orders with random arguments (garbage text, NaN, negative and huge numbers, empty and
// enormous strings), on live objects and on freed ones. Nothing may panic (a panic would trap the wasm
// instance and break every element on the page) and nothing may hang: every call returns a value, an error
// value, or, on a freed object, throws a JS error, and the module goes on working afterwards.
// Runs in Node on the page's own build (www/pkg), seeded: LGSIM_FUZZ_CASES=N for a longer run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '../../www/pkg');
const wasm = await import(path.join(pkg, 'lguest_sim.js'));
wasm.initSync({ module: fs.readFileSync(path.join(pkg, 'lguest_sim_bg.wasm')) });
const { Simulator, Walkthrough, RcuRun, RcuExplore } = wasm;

const CASES = Number(process.env.LGSIM_FUZZ_CASES ?? 600);
// The longest one call may take here (a generous bound: the page's budget is its own test's business).
const SLOW_MS = 2000;

let seed = 0x9e3779b9;
function rnd(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return n === undefined ? seed : seed % n;
}
const pick = (a) => a[rnd(a.length)];

const NUMBERS = [0, 1, 2, 3, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 1e300, 255, 256, 4096, 0x7fffffff];
const LINES = [
  'open', 'write INITIALIZE', 'read', 'eventfd', 'write EVENTFD addr=0x7000 fd=4', 'write IRQ 40', 'close', 'wait',
  'guest init 0x5000', 'guest notify 0x8000', 'guest halt', 'guest shutdown "bye"', 'signal', 'advance 1000000',
  'load guests/hello.S', 'load guests/nothing.S', 'thread t', 'as t: read', 'process p', 'exit', 'inject kmalloc 1',
  'expect lg.dead = NULL', 'expect nothing = 1', 'launcher devices', 'launcher handle-output', 'launcher stdin "hi"',
  'write INITIALIZE base=0 pfnlimit=0xffffffff start=0', 'read len=0xffffffff buf=edge', 'write 99 1 2 3 4 5 6',
  '', '# comment', '=>', 'as :', '"', 'read => 4 notify=', 'write', 'guest hypercall 99 1 2 3 4',
];
function text() {
  switch (rnd(6)) {
    case 0: return pick(LINES);
    case 1: return pick(LINES) + ' => ' + pick(['0', '-EINVAL', 'blocked', '4 notify=0x8000', 'fd 3', 'x']);
    case 2: return Array.from({ length: rnd(40) }, () => String.fromCharCode(rnd(0x3000))).join('');
    case 3: return 'x'.repeat(rnd(3) === 0 ? 100000 : rnd(300));
    case 4: return Array.from({ length: 1 + rnd(30) }, () => pick(LINES)).join('\n');
    default: return pick(['', '\u0000', '\uffff', '0x', 'top', 'start', 'guests/hello.S', '../../etc/passwd', 'EINVAL', '-EFAULT']);
  }
}
const num = () => (rnd(4) === 0 ? rnd() : pick(NUMBERS));
const stops = () => Array.from({ length: rnd(5) }, () => rnd());
const lessonIds = Walkthrough.lessons().map((l) => l.id);

// Each method with a way to make its arguments.
const SIM = [
  ['exec', () => [text()]], ['check', () => [text()]], ['back', () => []], ['reset', () => []], ['stepCount', () => []],
  ['steps', () => []], ['snapshot', () => []], ['events', () => [num(), num()]], ['loadProgram', () => [text(), text()]],
  ['cpu', () => []], ['view', () => []], ['guestAt', () => [num()]], ['guestFind', () => [num(), stops()]],
  ['guestMemory', () => [num(), rnd(), num()]], ['guestSymbol', () => [text()]],
];
const WALK = [
  ['lesson', () => []], ['total', () => []], ['position', () => []], ['goTo', () => [num()]], ['nextEvent', () => []],
  ['view', () => []], ['guestAt', () => [num()]], ['guestFind', () => [num(), stops()]], ['guestFindInStep', () => [num(), stops()]],
  ['guestMemory', () => [num(), rnd(), num()]], ['guestSymbol', () => [text()]],
];
const RCU = [['step', () => []], ['stepCpu', () => [rnd(300)]], ['back', () => []], ['view', () => []]];
const EXPLORING = [['run', () => []]];
const STATICS = [
  () => Simulator.functions(), () => Simulator.guestSource(text()), () => Simulator.guests(), () => Simulator.errnoMeaning(text()),
  () => Walkthrough.hostSource(text()), () => Walkthrough.lessons(), () => RcuRun.variants(),
  () => RcuRun.explore(pick(['correct', 'no-synchronize-rcu', 'nonsense', '']), pick(['sc', 'weak', 'x']), rnd(4), rnd(3), rnd(4), rnd(4)),
];

function timed(what, f) {
  const t0 = performance.now();
  const r = f();
  const ms = performance.now() - t0;
  assert.ok(ms < SLOW_MS, `${what} took ${ms.toFixed(0)} ms`);
  return r;
}

test('every method, in random orders, on live and freed objects: no panic, no hang', () => {
  const live = [];
  const make = () => {
    switch (rnd(4)) {
      case 0: return { kind: 'sim', o: new Simulator(pick([0, 1, 8, 32, 600, -1, NaN])), methods: SIM };
      case 3: {
        const args = [pick(['correct', 'plain-assign', 'nonsense', '']), pick(['sc', 'weak', 'x']), rnd(5), rnd(5), rnd(6), rnd(5)];
        return { kind: 'explore', o: new RcuExplore(...args), methods: EXPLORING };
      }
      case 1: {
        const o = Walkthrough.open(rnd(5) === 0 ? text() : pick(lessonIds));
        return o ? { kind: 'walk', o, methods: WALK } : null;
      }
      default: {
        const o = RcuRun.open(pick(['correct', 'no-synchronize-rcu', 'x']), pick(['sc', 'weak']), rnd(3), rnd(3), 1 + rnd(3), rnd(3), pick(['', '0 0 1', '1:1 0', 'zz', '9 9 9']));
        return o ? { kind: 'rcu', o, methods: RCU } : null;
      }
    }
  };
  let freedCalls = 0;
  for (let i = 0; i < CASES; i++) {
    if (live.length < 3 || rnd(20) === 0) {
      const m = make();
      if (m) live.push(m);
      continue;
    }
    if (rnd(30) === 0) {
      timed('a static', pick(STATICS));
      continue;
    }
    const at = rnd(live.length);
    const obj = live[at];
    if (rnd(40) === 0) {
      obj.o.free();
      live.splice(at, 1);
      // A freed object throws a JS error on every use, and only it is affected.
      const [name, args] = pick(obj.methods);
      assert.throws(() => obj.o[name](...args()), Error, `${obj.kind}.${name} after free`);
      freedCalls++;
      continue;
    }
    if (obj.kind === 'walk' && rnd(15) === 0) {
      live.push({ kind: 'sim', o: timed('freePlay', () => obj.o.freePlay()), methods: SIM });
      continue;
    }
    const [name, args] = pick(obj.methods);
    const a = args();
    try {
      timed(`${obj.kind}.${name}`, () => obj.o[name](...a));
    } catch (e) {
      assert.fail(`${obj.kind}.${name}(${a.map((x) => JSON.stringify(x)?.slice(0, 60)).join(', ')}) threw: ${e}`);
    }
  }
  // The module still works after all that.
  const s = new Simulator(0);
  assert.equal(s.exec('open').result, '3');
  assert.ok(freedCalls >= 0);
  for (const { o } of live) o.free();
});
