import { chromium } from 'playwright-core';
import { CHROMIUM, ARGS } from './harness.mjs';
import { serve } from './serve.mjs';
const server = await serve(new URL('../../www', import.meta.url).pathname, { cache: true });
const b = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
const page = await b.newPage({ viewport: { width: 1440, height: 900 } });
const self = new Map(); let totalT = 0;
for (const l of ['02-initialize', '09-eventfds', '16-a-real-guest', '10-rcu-copy-update', '19-shadow-page-tables', '04-read-runs-the-guest']) {
  await page.goto(server.url + `index.html#lesson=${l}&step=0`); await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  await page.evaluate(async () => {
    const walk = document.querySelector('#walk');
    const total = Number(walk.querySelector('.lgs-timeline').max);
    const painted = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
    for (let g = 0; Number(walk.dataset.position) < total && g < 40; g++) {
      await painted(); await new Promise((r) => setTimeout(r, 30));
      document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    }
  });
  const { profile } = await cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas; 
  profile.samples.forEach((id, i) => { const n = byId.get(id); const f = n.callFrame; const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`; const t = dt[i] / 1000; self.set(k, (self.get(k) ?? 0) + t); totalT += t; });
}
const rows = [...self].filter(([k]) => !/idle|program|garbage/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 30);
for (const [k, v] of rows) console.log(v.toFixed(1).padStart(8), k);
await b.close(); await server.close();
