// End-to-end test of www/lab.html (the free-play page) in the system's headless Chromium (never a downloaded browser).
//
// A student's first session, pressed through the real page: open -> INITIALIZE -> eventfd -> EVENTFD -> IRQ ->
// Guest LGUEST_INIT and NOTIFY -> read -> close, with a bad request (-EINVAL and its explanation), step back,
// the live region, the console used from the keyboard alone, a leak made visible, and the whole page served
// under a strict Content-Security-Policy with no violation and no console error. The state is read as the
// page renders the Simulator's view (StatePane): Rust's panel ids and row keys, and each change's words.
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
/** The result the live region shows for the last line (its `→ result`), or '' for a line without one. */
const lastResult = async () => ((await page.locator('#last .lgs-result').count()) ? page.locator('#last .lgs-result').first().innerText() : '');
const lastText = () => page.locator('#last').innerText();
/** The results of the log's lines that have one (system calls), in order. */
const logResults = () => page.locator('#log li.lgs-res .lgs-result').allInnerTexts();
/** Lines the log holds as steps (a line that does not parse is logged, but is no step). */
const logCount = () => page.locator('#log li.lgs-res:not(.lgs-parse-err)').count();
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: false });
/** Wait until no line goes on in slices (a read the Guest keeps asleep). */
const settled = () => page.waitForSelector('#app:not([data-going])', { state: 'attached' });

/** The state pane's panel `id` (Rust's panel ids: lguest, lg-cpu, eventfd-map, tasks, kernel, book, ...),
 *  opened as a student would if it is closed. */
async function panel(id) {
  const d = page.locator(`#panels details.lgs-panel[data-panel="${id}"]`);
  if (!(await d.evaluate((e) => e.open))) await d.locator(':scope > summary').click();
  return d;
}

/** A row of the state as StatePane renders Rust's view: its value and its badge in words ('' unchanged,
 *  'new', 'changed (was …)'). Text content, not innerText: a row scrolled out of view is not laid out. */
async function row(id, key) {
  const tr = (await panel(id)).locator(`tr[data-key="${key}"]`);
  await tr.first().waitFor({ state: 'attached' }); // a panel opened now is filled on its toggle event
  assert.equal(await tr.count(), 1, `panel ${id} has one row ${key}`);
  return { value: (await tr.locator('td').first().textContent()).trim(), badge: (await tr.locator('td.lgs-badge').textContent()).trim() };
}

async function press(name, expected) {
  await btn(name).click();
  await settled();
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
  assert.match(await page.locator('.act:has(button[data-line="open"])').innerText(), /start here/);
  // The fresh Launcher, as Rust's view has it: the system drawn, no Guest yet.
  assert.equal(await page.locator('#panels svg.lgs-svg').count() > 0, true, 'the system is drawn');
  assert.equal(await page.locator('#panels details[data-panel="lguest"]').count(), 0, 'no struct lguest before INITIALIZE');
  assert.match(await page.locator('#version').innerText(), /lguest-sim \d+\.\d+/);
  await shot('01-first-screen'); // as a newcomer first sees it, before a panel is opened
  assert.deepEqual(await row('kernel', 'guests'), { value: '0', badge: '' });
});

test('a read before INITIALIZE is -EINVAL, explained; step back undoes it', async (t) => {
  if (needsReady(t)) return;
  await press('1. open /dev/lguest', '3');
  assert.equal(await page.locator('.next').count(), 0, 'the start mark goes once a line has run');
  assert.match(await page.locator('#events').innerText(), /a new file with no Guest yet \(private_data is NULL\)/);
  await press('read() — run the Guest', '-EINVAL');
  const text = await lastText();
  assert.match(text, /EINVAL \(invalid argument\)/);
  assert.match(text, /before LHREQ_INITIALIZE/);
  const entry = page.locator('#log li.lgs-res').last();
  assert.match(await entry.innerText(), /read → -EINVAL\s+EINVAL \(invalid argument\): read\(\) before LHREQ_INITIALIZE/);
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
  // struct lguest appeared; lg_cpu 0 starts at the Guest's entry point; five allocations made.
  assert.deepEqual(await row('lguest', 'lg.nr_cpus'), { value: '1', badge: 'new' });
  assert.equal((await row('lg-cpu', 'cpu0.eip')).value, '0x100000');
  assert.deepEqual(await row('kernel', 'alloc.live'), { value: '5', badge: 'changed (was 0)' });
  assert.match(await (await panel('book')).locator('caption').textContent(), /5 allocation\(s\) held/);

  await press('eventfd()', '4');
  await page.getByLabel('EVENTFD notify addr').fill('0x7000');
  await page.getByLabel('eventfd fd').fill('4');
  await press('write EVENTFD', '0');
  assert.deepEqual(await row('eventfd-map', 'lg.eventfds.map0'), { value: '0x7000->ctx0', badge: 'new' });
  assert.deepEqual(await row('eventfd-map', 'lg.eventfds.version'), { value: '#6', badge: 'changed (was #2)' });
  assert.deepEqual(await row('eventfd-map', 'lg.eventfds.num'), { value: '1', badge: 'changed (was 0)' });

  await page.getByLabel('irq', { exact: true }).fill('1');
  await press('write IRQ', '0');
  assert.deepEqual(await row('lg-cpu', 'cpu0.irqs_pending'), { value: '0x2', badge: 'changed (was 0x0)' }, 'a change is marked in words, not only by colour');
  await shot('03-after-irq');
  assert.deepEqual(await axe(), [], 'change markers keep their contrast');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axe(), []);
  await page.emulateMedia({ colorScheme: 'light' });

  // The scripted Guest: told what to do, it does it when a read runs it (nothing runs in the kernel yet).
  await page.getByLabel('lguest_data', { exact: true }).fill('0x5000');
  await press('Guest: LGUEST_INIT', '');
  assert.match(await lastText(), /guest init 0x5000/);
  assert.match(await page.locator('#events').innerText(), /No kernel events in the last line/);
  await page.getByLabel('Guest NOTIFY addr').fill('0x8000');
  await press('Guest: NOTIFY', '');
  await press('read() — run the Guest', '4 notify=0x8000');
  assert.match(await lastText(), /NOTIFY that no eventfd took/);
  assert.deepEqual(await row('lguest', 'lg.lguest_data'), { value: '0x5000', badge: 'changed (was NULL)' });
  assert.deepEqual(await row('lg-cpu', 'cpu0.pending_notify'), { value: '0x8000', badge: 'changed (was 0x0)' });
  // The events of the read, each function linked to the real kernel source.
  const link = page.locator('#events a').filter({ hasText: /^run_guest\(\)$/ }).first();
  assert.match(await link.getAttribute('href'), /^https:\/\/elixir\.bootlin\.com\/linux\/v2\.6\.39\/source\/drivers\/lguest\/core\.c/);
  await shot('04-read-notify');

  await press('close /dev/lguest', '0');
  assert.deepEqual(await logResults(), ['3', '12', '4', '0', '0', '4 notify=0x8000', '0']);
  // struct lguest is gone; everything it held is freed, each row saying so.
  assert.equal(await page.locator('#panels details[data-panel="lguest"]').count(), 0);
  assert.deepEqual(await row('kernel', 'guests'), { value: '0', badge: 'changed (was 1)' });
  assert.deepEqual(await row('kernel', 'alloc.live'), { value: '0', badge: 'changed (was 6)' }); // INITIALIZE's 5; EVENTFD swapped the map and took an eventfd reference
  const book = await panel('book');
  assert.match(await book.locator('caption').textContent(), /0 allocation\(s\) held/);
  assert.match(await book.textContent(), /struct lguest.*freed this step/);
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
  assert.equal(await page.locator('#last li.lgs-res').getAttribute('data-ok'), 'false', 'the check does not hold');
  assert.match(await lastText(), /✗\s*not as the line says:\s*expect guests = 0/);
  assert.match(await lastText(), /expected guests = 0, but it is 1/);

  await page.keyboard.type('bogus line');
  await page.keyboard.press('Enter');
  assert.match(await lastText(), /does not parse/);
  assert.match(await lastText(), /unknown action "bogus"/);
  assert.equal(await logCount(), before + 2, 'a line that does not parse is not a step');
  assert.match(await page.locator('[aria-live="polite"]').innerText(), /does not parse/);
  // Step back takes the line that did not parse with the line before it.
  await page.locator('h1').click();
  await page.keyboard.press('b');
  assert.equal(await logCount(), before + 1);
  assert.equal(await page.locator('#log .lgs-parse-err').count(), 0);
  assert.equal(await lastResult(), '-EFAULT');
});

test('an injected kmalloc failure during INITIALIZE leaks, and the page shows it after close', async (t) => {
  if (needsReady(t)) return;
  await btn('reset').click();
  assert.equal(await logCount(), 0);
  await press('1. open /dev/lguest', '3');
  await page.getByLabel('allocation no.').fill('4');
  await press('inject kmalloc failure');
  await press('2. write INITIALIZE', '-ENOMEM');
  assert.match(await lastText(), /out of memory/);
  await press('close /dev/lguest', '0');
  // No Guest is left, yet the kernel still holds an allocation: the kernel's own leak, shown.
  assert.equal((await row('kernel', 'guests')).value, '0');
  assert.equal((await row('kernel', 'alloc.live')).value, '1');
  const book = await panel('book');
  assert.match(await book.locator('caption').textContent(), /1 allocation\(s\) held/);
  assert.match(await book.locator('tbody').textContent(), /reference on main's mm/);
  await shot('07-leak');
});

test('a read with nothing to do blocks; a NOTIFY wakes it; wait collects 4 and the address', async (t) => {
  if (needsReady(t)) return;
  await btn('reset').click();
  await press('1. open /dev/lguest', '3');
  await press('2. write INITIALIZE', '12');
  await press('read() — run the Guest', 'blocked');
  assert.match(await lastText(), /nothing more happens on its own/);
  assert.equal((await row('tasks', 'task.main')).value, 'blocked');
  await press('read() — run the Guest', '');
  assert.equal(await page.locator('#last li.lgs-res').getAttribute('data-ok'), 'false');
  assert.match(await lastText(), /still blocked in its last system call/);
  await press('Guest: LGUEST_INIT', '');
  // The Guest ran it at once: the read was waiting for it.
  assert.match(await page.locator('#events').innerText(), /lguest_init_hcall\(\)/);
  assert.deepEqual(await row('lguest', 'lg.lguest_data'), { value: '0x5000', badge: 'changed (was NULL)' });
  assert.equal((await row('tasks', 'task.main')).value, 'blocked', 'LGUEST_INIT alone does not end the read');
  await page.getByLabel('Guest NOTIFY addr').fill('0x9000');
  await press('Guest: NOTIFY', '');
  assert.deepEqual(await row('tasks', 'task.main'), { value: 'returned', badge: 'changed (was blocked)' });
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
  // Every panel open, the Guest CPU's among them.
  const closed = page.locator('#panels details.lgs-panel:not([open]) > summary');
  while (await closed.count()) await closed.first().click();
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
