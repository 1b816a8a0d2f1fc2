// The worst inputs on the page (issue 16): for each, the longest single task in headless Chromium and the
// wasm memory before and after it; then a scripted session (thousands of steps, backs, free-play lines and
// lesson switches) with wasm memory before and after. A benchmark, run by hand, not a test:
//   bash .ci/build-wasm.sh && node tests/bench/hostile.mjs        (tests/e2e/node_modules installed: npm ci there)
// ONLY=guests,lines,rcu,asm,session runs some of the inputs. SLICE_MS=2000 sets how long each worst Guest slices before Stop; SESSION=3000 the session's actions.
// A long task is one over 50 ms (the Long Tasks API reports no shorter one), so "under 50 ms" means none.
// The inputs: the worst Guests of tests/guests/hostile/ run through free play's editor and `read` (in the
// page's slices, then Stop); a free-play script of 10,000 lines through the page's Simulator in tasks of
// 16 ms; the RCU explorer at its largest settings (as walk.test.mjs runs it); the Guest editor given the
// assembler's worst sources (tests/asm_hostile.rs's), pasted and then assembled.

import { startBrowser, WWW } from '../e2e/harness.mjs';
import { hostileSource, setText } from '../e2e/hostile-source.mjs';

const SLICE_MS = Number(process.env.SLICE_MS ?? 2000);
const SESSION = Number(process.env.SESSION ?? 3000);
const ASM_MAX_ITEMS = 20_000; // params::ASM_MAX_ITEMS
const want = (part) => !process.env.ONLY || process.env.ONLY.split(',').includes(part);

const problems = [];
const { server, page, close } = await startBrowser({ www: WWW, name: 'bench-hostile', problems, timeout: 300_000 });
const open = async (hash) => {
  await page.goto('about:blank');
  await page.goto(server.url + hash);
  await page.waitForSelector('body[data-ready]');
};
const memory = () => page.evaluate(async () => (await (await import('./pkg/lguest_sim.js')).default()).memory.buffer.byteLength);
const observe = () => page.evaluate(() => {
  window.__longest = 0;
  window.__observer?.disconnect();
  window.__observer = new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); });
  window.__observer.observe({ type: 'longtask', buffered: false });
});
const mb = (b) => `${(b / (1 << 20)).toFixed(1)} MB`;
const rows = [];

/** Run `act` on a page opened at `hash` with free play started (and `setup` done, not measured); record
 *  its longest task and memory. */
async function measure(label, hash, act, setup = async () => {}) {
  await open(hash);
  await page.locator('#walk .lgs-play-start').click();
  await setup();
  await page.waitForTimeout(200);
  const before = await memory();
  await observe();
  const t0 = Date.now();
  await act();
  await page.waitForTimeout(100); // let the observer deliver the last entries
  const longest = await page.evaluate(() => window.__longest);
  const after = await memory();
  rows.push([label, longest, before, after, Date.now() - t0]);
  console.log(`${label.padEnd(44)} longest task ${longest ? `${longest.toFixed(0).padStart(4)} ms` : 'under 50 ms'}   wasm memory ${mb(before)} -> ${mb(after)}   (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

for (const name of want('guests') ? ['near_slice', 'irq_storm', 'pf_storm', 'selfmod', 'print_then_spin'] : []) {
  // The program goes in as a script sets it, before the measure: Playwright's fill goes through CDP's
  // insertText, which Chromium runs as one task of 65-90 ms for a 110-line source on this page (an input
  // event a line), where the same text inserted with execCommand, as a paste is, makes no long task.
  await measure(`${name} (read in slices, Stop after ${SLICE_MS / 1000} s)`, '#lesson=01-meet-dev-lguest&step=0', async () => {
    await page.locator('#walk .lgs-play-line').fill('read');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(SLICE_MS);
    if (await page.locator('#walk .lgs-play-stop').count()) await page.locator('#walk .lgs-play-stop').click();
  }, async () => {
    await setText(page.locator('#walk .lgs-asm'), hostileSource(name));
    await page.locator('#walk .lgs-asm-load').click();
  });
}

if (want('lines')) await measure('10,000 free-play lines (a view after each)', '#lesson=01-meet-dev-lguest&step=0', () => page.evaluate(async () => {
  const { Simulator } = await import('./pkg/lguest_sim.js');
  const lines = ['open', 'write INITIALIZE', 'guest init 0x5000', 'eventfd', 'write EVENTFD addr=0x7000 fd=4', 'guest notify 0x7000',
    'read', 'wait', 'write IRQ 3', 'signal', 'wait', 'close 4', '# a comment', 'bogus line'];
  const sim = new Simulator(0);
  const budget = Simulator.sliceBudget();
  let i = 0;
  while (i < 10_000) {
    await new Promise((res) => setTimeout(res, 0));
    const t0 = performance.now();
    while (i < 10_000 && performance.now() - t0 < 16) {
      const s = sim.execWithBudget(lines[i % lines.length], budget);
      if (s && s.source !== undefined) sim.view();
      i++;
    }
  }
  sim.free();
}));

if (want('rcu')) await measure('RCU explorer at its largest settings', '#lesson=11-rcu-break-it&step=0', async () => {
  const set = async (cls, v) => page.locator(`#walk .${cls}`).fill(String(v));
  await page.locator('#walk .lgs-rcu-variant').selectOption('plain-assign');
  await page.locator('#walk .lgs-rcu-memory').selectOption('weak');
  await set('lgs-rcu-readers', 2); await set('lgs-rcu-writers', 2); await set('lgs-rcu-cpus', 3); await set('lgs-rcu-initial', 2);
  await page.locator('#walk .lgs-rcu-explore').click();
  await page.locator('#walk .lgs-rcu-report [role=alert], #walk .lgs-rcu-report table').first().waitFor({ timeout: 300_000 });
});

// The assembler's worst sources (tests/asm_hostile.rs's worst_sources_cost, the same ones, written with
// `.rept` where they are long: the editor holds 32 KB), each assembled by the Load button (its handler timed
// in the page as well); and a paste of 200 KB into the editor, which it refuses in words.
const N = ASM_MAX_ITEMS;
const WORST_SOURCES = [
  [`${N.toLocaleString('en')} statements switching sections`, `.rept ${N / 4}\n.text\nnop\n.data\n.byte 1\n.endr`],
  [`${(N / 2).toLocaleString('en')} local labels and jumps back`, `.rept ${N / 2}\n1: jmp 1b\n.endr`],
  [`${(N / 2).toLocaleString('en')} jumps to labels all over`, Array.from({ length: 1000 }, (_, i) => `l${i}: jmp l${(i * 7919) % 1000}`).join('\n') + `\n.rept ${N / 2 - 1000}\njmp l1\n.endr`],
  ['a long sum of symbols per line', `a = 1\n.rept 20000\n.long ${Array(500).fill('a').join('+')}\n.endr`],
  ['a long list of numbers per line', `.rept 20000\n.long ${Array(500).fill('1').join(',')}\n.endr`],
  ['an empty .rept of 4e9', '.rept 4000000000\n.endr'],
];
for (const [what, src] of want('asm') ? WORST_SOURCES : []) {
  await measure(`assemble: ${what}`, '#lesson=01-meet-dev-lguest&step=0', async () => {
    await page.locator('#walk .lgs-asm').fill(src);
    await page.waitForTimeout(200);
    await observe();
    const ms = await page.evaluate(() => { const t = performance.now(); document.querySelector('#walk .lgs-asm-load').click(); return performance.now() - t; });
    await page.waitForFunction(() => document.querySelector('#walk .lgs-play-log li') || !document.querySelector('#walk .lgs-asm-err')?.hidden);
    const said = await page.evaluate(() => document.querySelector('#walk .lgs-asm-err')?.hidden ? 'assembled' : document.querySelector('#walk .lgs-asm-err li')?.textContent ?? '');
    console.log(`  the Load button's handler took ${ms.toFixed(1)} ms: ${said.slice(0, 100)}`);
  });
}
if (want('asm')) {
  const src = Array.from({ length: N }, (_, i) => ['movl $1, %eax', 'nop', 'addl %ebx, %eax', '.byte 1'][i % 4]).join('\n');
  await measure(`paste: ${N.toLocaleString('en')} lines (${Math.round(src.length / 1024)} KB) into the editor`, '#lesson=01-meet-dev-lguest&step=0', async () => {
    await setText(page.locator('#walk .lgs-asm'), src);
    console.log(`  ${(await page.locator('#walk .lgs-asm-err li').first().textContent()).slice(0, 100)}`);
  });
}

// A scripted session: lessons opened and stepped forward and back, free play lines with undos, switches.
if (want('session')) {
  await open('#lesson=01-meet-dev-lguest&step=0');
  const r = await page.evaluate(async (actions) => {
    const m = await import('./pkg/lguest_sim.js');
    const mem = () => m.default().then((w) => w.memory.buffer.byteLength);
    const before = await mem();
    const ids = m.Walkthrough.lessonIds();
    let seed = 12345;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const LINES = ['open', 'write INITIALIZE', 'eventfd', 'write EVENTFD addr=0x7000 fd=4', 'guest init 0x5000', 'guest notify 0x7000',
      'read', 'write IRQ 3', 'signal', 'wait', 'close', 'advance 1000'];
    let walk = m.Walkthrough.open(ids[0]);
    let play = walk.freePlay();
    let steps = 0;
    let longest = 0;
    for (let a = 0; a < actions; a++) {
      if (a % 50 === 0) await new Promise((res) => setTimeout(res, 0));
      const t = performance.now();
      const k = rnd(10);
      if (k < 4) { walk.goTo(Math.min(walk.position() + 1, walk.total())); steps++; }
      else if (k < 5) walk.goTo(Math.max(walk.position() - 1, 0));
      else if (k < 8) { play.execWithBudget(LINES[rnd(LINES.length)], m.Simulator.sliceBudget()); play.view(); }
      else if (k < 9) play.back();
      else { walk.free(); play.free(); walk = m.Walkthrough.open(ids[rnd(ids.length)]); play = walk.freePlay(); }
      longest = Math.max(longest, performance.now() - t);
    }
    walk.free(); play.free();
    return { before, after: await mem(), steps, longest };
  }, SESSION);
  console.log(`scripted session: ${SESSION} actions (${r.steps} steps forward), the slowest action ${r.longest.toFixed(0)} ms, wasm memory ${mb(r.before)} -> ${mb(r.after)}`);
}

if (problems.length) console.log(`the page reported: ${problems.join('; ')}`);
await close();
process.exit(0);
