// A scripted hour of a student's session, on the page's own build (www/pkg) in Node: lessons opened,
// stepped forward and back, jumped about and switched, free play of many lines with undos, the Guest CPU
// pane sought, the RCU pane explored and stepped. wasm memory (which only ever grows) must level off:
// after the first quarter of the session, the rest may add at most a stated bound, however long it runs.
// Prints the figures. LGSIM_SESSION_ACTIONS=N for a longer session.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '../../www/pkg');
const wasm = await import(path.join(pkg, 'lguest_sim.js'));
const exports = wasm.initSync({ module: fs.readFileSync(path.join(pkg, 'lguest_sim_bg.wasm')) });
const { Simulator, Walkthrough, RcuRun } = wasm;

// About one action every two seconds for an hour.
const ACTIONS = Number(process.env.LGSIM_SESSION_ACTIONS ?? 1800);
// What the three last quarters of the session may add to wasm memory.
const BOUND_MB = 16;

let seed = 12345;
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return (seed >>> 8) % n;
};
const mb = () => exports.memory.buffer.byteLength / (1 << 20);

const LINES = ['open', 'write INITIALIZE', 'eventfd', 'write EVENTFD addr=0x7000 fd=4', 'guest init 0x5000', 'guest notify 0x7000',
  'guest notify 0x8000', 'read', 'write IRQ 3', 'signal', 'wait', 'close', 'expect lg.dead = NULL', 'advance 1000'];

test('an hour of stepping, undoing and free play leaves wasm memory level', () => {
  const ids = Walkthrough.lessons().map((l) => l.id);
  let walk = Walkthrough.open(ids[0]);
  let play = new Simulator(0);
  let rcu = null;
  let quarter = 0;
  const start = mb();
  const t0 = performance.now();
  for (let i = 0; i < ACTIONS; i++) {
    if (i === Math.floor(ACTIONS / 4)) quarter = mb();
    switch (rnd(10)) {
      case 0: // another lesson
        walk.free();
        walk = Walkthrough.open(ids[rnd(ids.length)]);
        break;
      case 1: case 2: walk.goTo(walk.position() + 1); break;
      case 3: walk.goTo(rnd(walk.total() + 1)); break;
      case 4: {
        const v = walk.view();
        if (v.guestUnits) walk.guestAt(rnd(v.guestUnits + 1));
        break;
      }
      case 5: case 6: play.exec(LINES[rnd(LINES.length)]); break;
      case 7: play.back(); break;
      case 8:
        if (rnd(20) === 0) { play.free(); play = walk.freePlay(); }
        else play.view();
        break;
      default:
        if (!rcu || rnd(10) === 0) {
          rcu?.free();
          rcu = RcuRun.open('no-synchronize-rcu', rnd(2) ? 'sc' : 'weak', 1, 1, 2, 1, '');
        }
        if (rcu) { rcu.stepCpu(rnd(2)); rcu.view(); }
    }
  }
  const end = mb();
  const secs = (performance.now() - t0) / 1000;
  console.log(`session of ${ACTIONS} actions in ${secs.toFixed(1)} s: wasm memory ${start.toFixed(1)} MB at the start, ${quarter.toFixed(1)} MB after a quarter, ${end.toFixed(1)} MB at the end`);
  assert.ok(end - quarter <= BOUND_MB, `the last three quarters added ${(end - quarter).toFixed(1)} MB (bound ${BOUND_MB} MB)`);
  walk.free();
  play.free();
  rcu?.free();
});
