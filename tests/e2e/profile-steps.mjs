// Where a step's time goes, run by hand (not a test): every step of the course (or LESSON=prefix) pressed
// as bench.mjs presses it, with a Chromium trace of the main thread: time by trace event per step (JS, style,
// layout in the key's task ("forced") or in the frame, paint), the stacks of forced layouts, the layout
// passes' sizes, a no-op key's time (the frame clock's floor) and the worst steps.
//   node tests/e2e/profile-steps.mjs          LESSON=09 DUMP=5 (one press's events in order)
//   CSS='.lgs-state{display:none}' ...        a rule added to the page, to see what a part costs
//   DEEP=1 ...                                 with invalidation tracking (which nodes were laid out; slow)
//   WWW=dir ...                                another build, to compare
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, ARGS, stopTracing } from './harness.mjs';
import { serve } from './serve.mjs';
const here = path.dirname(fileURLToPath(import.meta.url));
const www = process.env.WWW ?? path.resolve(here, '../../www');
const server = await serve(www, { cache: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lgs-probe-'));
const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, bypassCSP: true });
const page = ctx.pages()[0] ?? await ctx.newPage();
await page.setViewportSize({ width: 1440, height: 900 });
await page.goto(server.url + 'index.html');
await page.waitForSelector('body[data-ready="true"]');
const ids = await page.evaluate(() => [...document.querySelectorAll('#lessons a')].map((a) => a.dataset.id));
const only = process.env.LESSON ? ids.filter((i) => i.startsWith(process.env.LESSON)) : ids;
const inval = new Map(); const stacks = new Map(); const objs = []; const styleEls = []; const byName = new Map(); const perLesson = []; const times = []; const noop = [];
for (const id of only) {
  await page.goto(server.url + `index.html#lesson=${id}&step=0`);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  if (process.env.CSS) await page.addStyleTag({ content: process.env.CSS });
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Tracing.start', { categories: process.env.DEEP ? 'toplevel,blink.user_timing,devtools.timeline,disabled-by-default-devtools.timeline,disabled-by-default-devtools.timeline.stack,disabled-by-default-devtools.timeline.invalidationTracking' : 'toplevel,blink.user_timing,devtools.timeline,disabled-by-default-devtools.timeline', transferMode: 'ReturnAsStream' });
  const presses = await page.evaluate(async () => {
    const walk = document.querySelector('#walk');
    const total = Number(walk.querySelector('.lgs-timeline').max);
    const painted = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
    const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
    const idle = () => new Promise((res) => requestIdleCallback(() => res(), { timeout: 500 }));
    const out = []; const nop = [];
    await painted();
    for (let g = 0; Number(walk.dataset.position) < total && g < 4 * total; g++) {
      const before = Number(walk.dataset.position);
      await idle();
      // the floor: a key that does nothing, with a trivial DOM write
      let t = performance.now(); key('F9'); document.body.dataset.x = String(g); await painted(); nop.push(performance.now() - t);
      await idle();
      performance.mark(`lgs-a-${g}`);
      const t0 = performance.now();
      key('ArrowRight');
      const t1 = performance.now();
      await painted();
      performance.mark(`lgs-b-${g}`);
      out.push([g, Number(walk.dataset.position) > before, performance.now() - t0, t1 - t0]);
    }
    return { out, nop };
  });
  noop.push(...presses.nop);
  const trace = await stopTracing(cdp);
  await cdp.detach();
  const main = trace.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && trace.some((x) => x.pid === e.pid && x.name === 'lgs-a-0'));
  const marks = new Map(trace.filter((e) => main && e.pid === main.pid && e.name?.startsWith('lgs-')).map((e) => [e.name, e.ts]));
  const evs = trace.filter((e) => main && e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur);
  for (const [g, stepped, ms, js] of presses.out) {
    if (!stepped) continue;
    if (process.env.DUMP && Number(process.env.DUMP) === g) { const [a, z] = [marks.get(`lgs-a-${g}`), marks.get(`lgs-b-${g}`)]; for (const e of evs.filter((e) => e.ts >= a && e.ts <= z && !/GC|V8|ThreadController|Microtask/.test(e.name) && (e.tdur ?? e.dur) > 30)) console.log(((e.ts - a) / 1000).toFixed(2).padStart(7), ((e.tdur ?? e.dur) / 1000).toFixed(2).padStart(6), e.name, JSON.stringify(e.args?.beginData ? { d: e.args.beginData.dirtyObjects, t: e.args.beginData.totalObjects, p: e.args.beginData.partialLayout } : e.args?.elementCount ?? '')); }
    times.push([ms, js, id, g]);
    const [a, z] = [marks.get(`lgs-a-${g}`), marks.get(`lgs-b-${g}`)];
    for (const e of trace.filter((e) => main && e.pid === main.pid && /InvalidationTracking/.test(e.name) && e.ts >= a && e.ts <= z)) { const d = e.args?.data ?? {}; const k = `${e.name} ${d.reason ?? ''} ${String(d.nodeName ?? '').slice(0, 50)}`; inval.set(k, (inval.get(k) ?? 0) + 1); }
    for (const e of evs) {
      if (e.ts < a || e.ts > z) continue;
      let k = e.name;
      if (/^(Layout|UpdateLayoutTree|Paint|PrePaint)$/.test(k)) {
        const inJs = evs.some((f) => (f.name === 'FunctionCall' || f.name === 'EventDispatch') && f.ts <= e.ts && f.ts + f.dur >= e.ts + e.dur);
        k += inJs ? ' (forced, in JS)' : ' (frame)';
        if (e.name === 'Layout' && e.args?.beginData) { objs.push([e.args.beginData.dirtyObjects, e.args.beginData.totalObjects, id, g]); }
        if (inJs) { const st = (e.args?.beginData?.stackTrace ?? []).slice(0, 3).map((f) => `${f.functionName}@${f.url.split('/').pop()}:${f.lineNumber}`).join(' < '); stacks.set(e.name + ' ' + st, (stacks.get(e.name + ' ' + st) ?? 0) + (e.tdur ?? e.dur) / 1000); }
        if (e.name === 'UpdateLayoutTree' && e.args?.elementCount !== undefined) styleEls.push(e.args.elementCount);
      }
      byName.set(k, (byName.get(k) ?? 0) + (e.tdur ?? e.dur) / 1000);
    }
  }
}
const n = times.length;
const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
console.log(`steps ${n}; press-to-paint median ${pct(times.map((t) => t[0]), 0.5).toFixed(1)} p90 ${pct(times.map((t) => t[0]), 0.9).toFixed(1)}; sync JS in the key handler median ${pct(times.map((t) => t[1]), 0.5).toFixed(1)} p90 ${pct(times.map((t) => t[1]), 0.9).toFixed(1)}`);
console.log(`no-op key floor: median ${pct(noop, 0.5).toFixed(1)} p90 ${pct(noop, 0.9).toFixed(1)}`);
{ const f = (k) => byName.get(k) ?? 0; console.log(`FRAME work (style+layout+prepaint+paint+layerize+commit) mean ${((f('Layout (frame)') + f('UpdateLayoutTree (frame)') + f('PrePaint (frame)') + f('Paint (frame)') + f('Layerize') + f('Commit') + f('UpdateLayer')) / n).toFixed(2)}; JS mean ${(f('FunctionCall') / n).toFixed(2)}`); }
console.log('per step, mean ms by event (nested events counted in their parents too):');
for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${k.padEnd(36)} ${(v / n).toFixed(2)}`);
console.log('layout dirty/total objects, median:', pct(objs.map((o) => o[0]), 0.5), pct(objs.map((o) => o[1]), 0.5), 'p90', pct(objs.map((o) => o[0]), 0.9), pct(objs.map((o) => o[1]), 0.9), 'layouts', objs.length);
console.log('style recalc elements median', pct(styleEls, 0.5), 'p90', pct(styleEls, 0.9), 'n', styleEls.length);
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  forced: ${(v / n).toFixed(2)} ${k}`);
for (const [k, v] of [...inval].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  inval ${(v / n).toFixed(1)} ${k}`);
console.log('worst steps:', times.sort((a, b) => b[0] - a[0]).slice(0, 10).map((t) => `${t[2]}#${t[3]} ${t[0].toFixed(1)} (js ${t[1].toFixed(1)})`).join('; '));
await ctx.close(); await server.close(); fs.rmSync(profile, { recursive: true, force: true });
