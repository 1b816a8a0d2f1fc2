// End-to-end test of www/lab.html (the free-play page) in the system's headless Chromium (never a downloaded browser).
//
// A student's first session, pressed through the real page: open -> INITIALIZE -> eventfd -> EVENTFD -> IRQ ->
// Guest LGUEST_INIT and NOTIFY -> read -> close, with a bad request (-EINVAL and its explanation), step back,
// the live region, the console used from the keyboard alone, a leak made visible, and the whole page served
// under a strict Content-Security-Policy with no violation and no console error.
//
// Needs www/pkg built first (.ci/build-wasm.sh). Screenshots go to tests/e2e/artifacts/ (git-ignored).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, ARGS } from './harness.mjs';
import { serve, CSP } from './serve.mjs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const here = path.dirname(fileURLToPath(import.meta.url));
const www = path.resolve(here, '../../www');
const artifacts = path.join(here, 'artifacts');

let server, ctx, page, profile, response;
let ready = false;
const problems = []; // console errors, page errors, CSP violations, failed requests

before(async () => {
  assert.ok(fs.existsSync(path.join(www, 'pkg/lguest_sim.js')), 'www/pkg is missing: build it with .ci/build-wasm.sh first');
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(www);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lguest-sim-e2e-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1366, height: 768 },
  });
  page = ctx.pages()[0] ?? await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.setDefaultTimeout(10_000); // everything here is local: a wait this long means something is wrong
  response = await page.goto(server.url + 'lab.html');
  await page.waitForSelector('body[data-ready]');
  ready = (await page.getAttribute('body', 'data-ready')) === 'true';
});

/** The tests after the first need a page whose simulator started; the first test says why it did not. */
function needsReady(t) {
  if (!ready) t.skip('the simulator did not start (see the first test)');
  return !ready;
}

after(async () => {
  await ctx?.close();
  await server?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

// ---- helpers ----------------------------------------------------------------------------------------------

const btn = (name) => page.getByRole('button', { name, exact: true });
const lastResult = () => page.locator('#last .result').innerText();
const lastText = () => page.locator('#last').innerText();
/** The results of the log's system calls (lines with a result), in order. */
const logResults = () => page.locator('#log li.sys .result').allInnerTexts();
const logCount = () => page.locator('#log li.entry').count();
const field = (key) => page.locator(`#panels tr[data-key="${key}"]`).first();
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: false });

async function press(name, expected) {
  await btn(name).click();
  if (expected !== undefined) assert.equal(await lastResult(), expected, `${name} should return ${expected}`);
}

// ---- the tests (they run in order, on one page) -------------------------------------------------------

test('the page loads the wasm under a strict CSP and tells a newcomer what to press', async () => {
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-security-policy'], CSP);
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', `the simulator did not start: ${await lastText()}`);
  assert.match(await page.locator('.intro').innerText(), /Press 1\. open \/dev\/lguest first/);
  assert.match(await lastText(), /Nothing has happened yet/);
  assert.equal(await btn('1. open /dev/lguest').isEnabled(), true);
  assert.match(await page.locator('#p-lguest').innerText(), /private_data stays NULL/);
  assert.match(await page.locator('#version').innerText(), /lguest-sim \d+\.\d+/);
  await shot('01-first-screen');
});

test('a read before INITIALIZE is -EINVAL, explained; step back undoes it', async (t) => {
  if (needsReady(t)) return;
  await press('1. open /dev/lguest', '3');
  await press('read() — run the Guest', '-EINVAL');
  const text = await lastText();
  assert.match(text, /EINVAL \(-22\): invalid argument/);
  assert.match(text, /before LHREQ_INITIALIZE/);
  const entry = page.locator('#log li.entry').last();
  assert.match(await entry.innerText(), /read → -EINVAL invalid argument — read\(\) before LHREQ_INITIALIZE/);
  await shot('02-read-before-initialize');

  await btn('step back b').click();
  assert.equal(await logCount(), 1);
  assert.match(await lastText(), /Stepped back: undid "read"/);
  assert.equal(await lastResult(), '3');
  assert.deepEqual(await logResults(), ['3']);
});

test('open, INITIALIZE, eventfd, EVENTFD, IRQ, Guest init and notify, read, close: the exact results', async (t) => {
  if (needsReady(t)) return;
  await press('2. write INITIALIZE', '12');
  // struct lguest appeared; lg_cpu 0 starts at the Guest's entry point.
  assert.match(await field('lg.nr_cpus').innerText(), /nr_cpus\s+1/);
  assert.match(await field('cpu0.regs.eip').innerText(), /0x100000/);
  assert.match(await page.locator('#p-alloc h3').innerText(), /Allocations \(5 live\)/);

  await press('eventfd()', '4');
  await page.getByLabel('EVENTFD notify addr').fill('0x7000');
  await page.getByLabel('eventfd fd').fill('4');
  await press('write EVENTFD', '0');
  assert.match(await field('map.0').innerText(), /0x7000 → eventfd ctx 0 \(fd lguest:4\)/);
  assert.match(await field('map.0').innerText(), /new/i);
  assert.match(await field('lg.eventfds').innerText(), /version #6, num = 1\s*changed/i);

  await page.getByLabel('irq', { exact: true }).fill('1');
  await press('write IRQ', '0');
  const irqs = await field('cpu0.irqs_pending').innerText();
  assert.match(irqs, /0x2/);
  assert.match(irqs, /pending: irq 1/);
  assert.match(irqs, /changed/i, 'a change is marked in words, not only by colour');
  await shot('03-after-irq');
  assert.deepEqual(await axe(), [], 'change markers keep their contrast');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axe(), []);
  await page.emulateMedia({ colorScheme: 'light' });

  // The scripted Guest: the read runs LGUEST_INIT, then the NOTIFY that no eventfd takes comes back to us.
  await page.getByLabel('lguest_data', { exact: true }).fill('0x5000');
  await press('Guest: LGUEST_INIT');
  assert.match(await lastText(), /Queued: the Guest does this the next time read\(\) runs it/);
  await page.getByLabel('Guest NOTIFY addr').fill('0x8000');
  await press('Guest: NOTIFY');
  await press('read() — run the Guest', '4 notify=0x8000');
  assert.match(await lastText(), /NOTIFY that no eventfd took/);
  assert.match(await field('lg.lguest_data').innerText(), /0x5000\s*changed/i);
  assert.match(await field('cpu0.pending_notify').innerText(), /0x8000/);
  // The events of the read, each function linked to the real kernel source.
  const link = page.locator('#events a').filter({ hasText: /^run_guest$/ }).first();
  assert.match(await link.getAttribute('href'), /^https:\/\/elixir\.bootlin\.com\/linux\/v2\.6\.39\/source\/drivers\/lguest\/core\.c/);
  await shot('04-read-notify');

  await press('close /dev/lguest', '0');
  assert.deepEqual(await logResults(), ['3', '12', '4', '0', '0', '4 notify=0x8000', '0']);
  assert.match(await page.locator('#p-lguest').innerText(), /Freed: the Guest is gone/);
  assert.match(await page.locator('#p-alloc h3').innerText(), /Allocations \(0 live\)/);
  assert.match(await page.locator('#p-alloc').innerText(), /freed/i);
  // The live region said it.
  const live = page.locator('[aria-live="polite"]');
  assert.equal(await live.count(), 1);
  assert.match(await live.innerText(), /close → 0/);
  await shot('05-after-close');
});

test('a bad IRQ is -EINVAL with the reason; b steps back from the keyboard', async (t) => {
  if (needsReady(t)) return;
  await btn('reset').click();
  await press('1. open /dev/lguest', '3');
  await press('2. write INITIALIZE', '12');
  await page.getByLabel('irq', { exact: true }).fill('40');
  await press('write IRQ', '-EINVAL');
  const text = await lastText();
  assert.match(text, /invalid argument/);
  assert.match(text, /irq 40 is not below LGUEST_IRQS = 32/);
  await shot('06-bad-irq');
  assert.deepEqual(await axe(), [], 'an error result keeps its contrast');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axe(), []);
  await page.emulateMedia({ colorScheme: 'light' });

  const before = await logCount();
  await page.locator('h1').click(); // focus out of the input, so the shortcut may fire
  await page.keyboard.press('b');
  assert.equal(await logCount(), before - 1);
  assert.equal(await lastResult(), '12');
});

test('the console works from the keyboard alone, and typing b in it does not step back', async (t) => {
  if (needsReady(t)) return;
  await page.locator('h1').click();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'console-line');
  const before = await logCount();
  await page.keyboard.type('write IRQ 1 buf=null');
  assert.equal(await logCount(), before, 'typing must not trigger shortcuts');
  await page.keyboard.press('Enter');
  assert.equal(await lastResult(), '-EFAULT');
  assert.match(await lastText(), /bad address/);
  assert.equal(await page.inputValue('#console-line'), '');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'console-line');

  await page.keyboard.type('expect guests = 0');
  await page.keyboard.press('Enter');
  assert.equal(await lastResult(), 'does not hold');
  assert.match(await lastText(), /expected guests = 0, but it is 1/);

  await page.keyboard.type('bogus line');
  await page.keyboard.press('Enter');
  assert.equal(await lastResult(), 'not run');
  assert.match(await lastText(), /unknown action "bogus"/);
  assert.equal(await logCount(), before + 2, 'a line that does not parse is not a step');
  assert.match(await page.locator('[aria-live="polite"]').innerText(), /does not parse/);
});

test('an injected kmalloc failure during INITIALIZE leaks, and the page says so after close', async (t) => {
  if (needsReady(t)) return;
  await btn('reset').click();
  assert.equal(await logCount(), 0);
  await press('1. open /dev/lguest', '3');
  await page.getByLabel('allocation no.').fill('4');
  await press('inject kmalloc failure');
  await press('2. write INITIALIZE', '-ENOMEM');
  assert.match(await lastText(), /out of memory/);
  await press('close /dev/lguest', '0');
  const alloc = await page.locator('#p-alloc').innerText();
  assert.match(alloc, /Allocations \(1 live\)/);
  assert.match(alloc, /Leaked:/);
  await shot('07-leak');
});

test('a read with nothing to do blocks; a NOTIFY wakes it; wait collects 4 and the address', async (t) => {
  if (needsReady(t)) return;
  await btn('reset').click();
  await press('1. open /dev/lguest', '3');
  await press('2. write INITIALIZE', '12');
  await press('read() — run the Guest', 'blocked');
  assert.match(await page.locator('#p-tasks').innerText(), /main \(lguest\)\s+blocked: the Guest is running/);
  assert.match(await page.locator('#p-tasks').innerText(), /changed/i);
  await press('read() — run the Guest', 'not carried out');
  assert.match(await lastText(), /still blocked in its last system call/);
  await press('Guest: LGUEST_INIT', 'ran');
  assert.match(await lastText(), /The Guest ran it at once/);
  assert.equal(await lastResult(), 'ran');
  assert.doesNotMatch(await lastText(), /has returned/, 'LGUEST_INIT alone does not end the read');
  await page.getByLabel('Guest NOTIFY addr').fill('0x9000');
  await press('Guest: NOTIFY', 'ran');
  assert.match(await lastText(), /main's blocked call has returned/);
  await press('wait for a blocked read', '4 notify=0x9000');
  await shot('08-blocked-read-woken');
});

/** axe-core's WCAG 2 A/AA rules on the page as it is now; returns the violations in words. */
async function axe() {
  // Evaluated through the DevTools protocol, so the page's CSP (rightly) does not apply to the checker.
  await page.evaluate(AXE);
  const v = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
    return r.violations.map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  return v;
}

test('accessibility: no WCAG 2 A/AA violation found by axe-core, in light and in dark', async (t) => {
  if (needsReady(t)) return;
  await page.locator('#p-cpu details summary').click(); // open the registers too
  assert.deepEqual(await axe(), []);
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axe(), []);
  await page.emulateMedia({ colorScheme: 'light' });
});

test('dark mode renders, and nothing went wrong: no CSP violation, no console error', async (t) => {
  if (needsReady(t)) return;
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('09-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  const csp = await page.evaluate(() => window.__csp);
  assert.deepEqual(csp, [], `CSP violations: ${csp.join('; ')}`);
  assert.deepEqual(problems, []);
});
