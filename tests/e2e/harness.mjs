// What the end-to-end tests share: the system's Chromium and the flags it needs on this machine (never a
// downloaded browser; no background networking, which the closed network refuses), and a watch on a page
// that records every console error or warning, page error and failed request, for a test to assert none.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Record `p`'s console errors and warnings, page errors and failed requests into `problems`. */
export function watch(p, problems) {
  p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
}
