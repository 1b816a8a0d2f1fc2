// What the end-to-end tests share: the system's Chromium and the flags it needs on this machine (never a
// downloaded browser; no background networking, which the closed network refuses), and a watch on a page
// that records every console error or warning, page error and failed request, for a test to assert none.
// The walkthrough's test files (walk.test.mjs, guest.test.mjs) also share one browser session per file:
// `useBrowser()` starts it before the file's tests and closes it after, and `server`, `ctx` and `page` are
// live bindings to it, with the helpers that open a page, take a screenshot and assert nothing went wrong.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository, the page's files, and where screenshots go (git-ignored). */
export const ROOT = path.resolve(here, '../..');
export const WWW = path.join(ROOT, 'www');
export const ARTIFACTS = path.join(here, 'artifacts');
/** axe-core, to inject into a page (from the lockfile's node_modules). */
export const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The longest task a test lets one action of the page have. The target is 50 ms, and the benchmarks
 *  (tests/bench/hostile.mjs, tests/e2e/bench.mjs) print each longest task against it; a test on a shared
 *  2-core machine cannot hold a figure that tight (CI here once saw 217 ms for a slice that takes under 50 ms
 *  on a quiet machine), so its bound only fails work done in one go, which takes seconds. */
export const LONG_TASK_BOUND_MS = 1000;

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What went wrong on the session's pages (see `useBrowser`); a test may clear it after checking it. */
export const problems = [];

/** Record `p`'s console errors and warnings, page errors and failed requests into `into` (by default the
 *  session's `problems`: a second page a test opens is watched too). */
export function watch(p, into = problems) {
  p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') into.push(`console ${m.type()}: ${m.text()}`); });
  p.on('pageerror', (e) => into.push(`page error: ${e.message}`));
  p.on('requestfailed', (r) => into.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
}

/**
 * Serve `www` with the strict CSP and start Chromium on a fresh profile (1366×768), recording CSP violations
 * in `window.__csp` and the page's problems in `problems`. Resolves to { server, ctx, page, close() }.
 */
export async function startBrowser({ www, name, problems, timeout = 10_000 }) {
  if (!fs.existsSync(path.join(WWW, 'pkg/lguest_sim.js'))) throw new Error('www/pkg is missing: build it with .ci/build-wasm.sh first');
  const server = await serve(www);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `lguest-sim-${name}-`));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1366, height: 768 } });
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
  });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  watch(page, problems);
  page.setDefaultTimeout(timeout);
  const close = async () => {
    await ctx.close();
    await server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { server, ctx, page, close };
}

// ---- one browser session per test file ------------------------------------------------------------------

/** The session's server, browser context and page, set by `useBrowser()`'s before hook. */
export let server, ctx, page;

/**
 * Register the file's before and after hooks: serve www/ (or the directory `www`, or `www()` returns) and
 * start Chromium (`name` names its profile; a page waits at most `timeout` ms for anything) before the
 * first test, and close both after the last.
 */
export function useBrowser(name, timeout, www = WWW) {
  let browser;
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    browser = await startBrowser({ www: typeof www === 'function' ? www() : www, name, problems, timeout });
    ({ server, ctx, page } = browser);
  });
  after(async () => { await browser?.close(); });
}

// caret: 'initial' keeps Playwright from injecting a <style> (which the strict CSP would rightly block).
export const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), caret: 'initial' });
/** The walkthrough's live region: what a screen reader heard last. */
export const live = () => page.locator('#walk .lgs-live').innerText();

/** Open the walkthrough (index.html) at `hash` afresh and wait until it is interactive; the response. */
export async function openWalk(hash = '') {
  await page.goto('about:blank');
  const res = await page.goto(server.url + hash);
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', 'the simulator started');
  return res;
}

/** Assert that page `p` saw no CSP violation and the session no console error, page error or failed request. */
export async function noProblems(p) {
  assert.deepEqual(await p.evaluate(() => window.__csp), [], 'no CSP violation');
  assert.deepEqual(problems, [], 'no console error, page error or failed request');
}

/** A course site of its own for `name`'s tests: the course's pages (tests/e2e/course/courses), and lguest-sim
 *  where a teacher copied it (a symlink to www/). */
export function courseSite(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lguest-sim-${name}-`));
  fs.symlinkSync(path.join(here, 'course/courses'), path.join(dir, 'courses'));
  fs.symlinkSync(WWW, path.join(dir, 'lguest-sim'));
  return dir;
}

/** Stop a CDP session's trace and read its events (the benchmarks' traces of the main thread). */
export async function stopTracing(cdp) {
  const done = new Promise((res) => cdp.once('Tracing.tracingComplete', res));
  await cdp.send('Tracing.end');
  const { stream } = await done;
  let text = '';
  for (;;) {
    const r = await cdp.send('IO.read', { handle: stream });
    text += r.base64Encoded ? Buffer.from(r.data, 'base64').toString() : r.data;
    if (r.eof) break;
  }
  await cdp.send('IO.close', { handle: stream });
  const t = JSON.parse(text);
  return Array.isArray(t) ? t : t.traceEvents;
}
