// What the end-to-end tests share: the system's Chromium and the flags it needs on this machine (never a
// downloaded browser; no background networking, which the closed network refuses), and a watch on a page
// that records every console error or warning, page error and failed request, for a test to assert none.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Record `p`'s console errors and warnings, page errors and failed requests into `problems`. */
export function watch(p, problems) {
  p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
}

/**
 * Serve `www` with the strict CSP and start Chromium on a fresh profile (1366×768), recording CSP violations
 * in `window.__csp` and the page's problems in `problems`. Resolves to { server, ctx, page, close() }.
 */
export async function startBrowser({ www, name, problems, timeout = 10_000 }) {
  if (!fs.existsSync(path.join(www, 'pkg/lguest_sim.js'))) throw new Error('www/pkg is missing: build it with .ci/build-wasm.sh first');
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
