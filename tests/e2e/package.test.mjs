// The release, as a course site gets it: `.ci/pack.sh` packs the npm package (from www/ as git has it, the
// built www/pkg, the course), a scratch site installs the tarball with npm (offline: the package has no
// dependencies) and copies it beside its pages, as the README says, under a sub-path (/os/); a page of the
// site holds the README's embedding snippet exactly as it is written there; it is served with the strict
// CSP and driven in headless Chromium. The package's `lguest-sim-check` checks lesson files with Node only.
// Needs www/pkg built (.ci/build-wasm.sh) and nothing from the network.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useBrowser, page, server, noProblems, ROOT } from './harness.mjs';
import { CSP } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lguest-sim-package-'));
const site = path.join(scratch, 'site');
let tarball;

/** Pack, install into the scratch site, copy beside the course's pages, and write the course's pages. */
function build() {
  tarball = execFileSync('bash', [path.join(ROOT, '.ci/pack.sh'), path.join(scratch, 'dist')], { encoding: 'utf8' }).trim().split('\n').pop();
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, 'package.json'), JSON.stringify({ name: 'a-course-site', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: site, stdio: 'pipe' });
  const os_ = path.join(site, 'public/os');
  fs.mkdirSync(path.join(os_, 'week3/guests'), { recursive: true });
  fs.cpSync(path.join(site, 'node_modules/lguest-sim'), path.join(os_, 'lguest-sim'), { recursive: true, dereference: true });
  const lessons = path.join(here, 'course/courses/os/week3/lessons');
  fs.copyFileSync(path.join(lessons, 'my.lesson'), path.join(os_, 'week3/my.lesson'));
  fs.copyFileSync(path.join(lessons, 'guests/mine.S'), path.join(os_, 'week3/guests/mine.S'));
  // The README's snippet, pasted as it is.
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const snippet = /<!-- embed-snippet -->\s*```html\n([\s\S]*?)```\s*<!-- \/embed-snippet -->/.exec(readme)?.[1];
  assert.ok(snippet, 'the README has the embedding snippet between its markers');
  fs.writeFileSync(path.join(os_, 'week3.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Week 3</title><link rel="icon" href="lguest-sim/favicon.svg" type="image/svg+xml"></head>
<body><main><h1>Week 3</h1>
${snippet}
</main></body></html>
`);
  return path.join(site, 'public');
}

useBrowser('package', 15_000, build);
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

test('the package: package.json with files and exports, the pages, element, wasm, course and the check command', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(site, 'node_modules/lguest-sim/package.json'), 'utf8'));
  assert.equal(pkg.name, 'lguest-sim');
  assert.equal(pkg.exports['.'], './lguest-sim.js');
  assert.equal(pkg.bin['lguest-sim-check'], 'bin/lguest-sim-check.mjs');
  assert.ok(pkg.files.includes('pkg/') && pkg.files.includes('lessons/'));
  const has = (f) => fs.existsSync(path.join(site, 'node_modules/lguest-sim', f));
  for (const f of ['lguest-sim.js', 'lguest-sim.css', 'walk.js', 'walk.css', 'index.html', 'embed.html', 'author.html', 'author-worker.js',
    'pkg/lguest_sim.js', 'pkg/lguest_sim_bg.wasm', 'pkg/lguest_sim_bg.wasm.gz', 'pkg/lguest_sim_bg.wasm.br', 'lessons/01-meet-dev-lguest.lesson',
    'lessons/guests/hello.S', 'lessons/README.md', 'bin/lguest-sim-check.mjs', 'README.md']) assert.ok(has(f), f);
  // Only what git has: nothing a test or a benchmark left behind in www/.
  const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(listed.every((f) => !/(^|\/)_|artifacts|node_modules/.test(f)), listed.join('\n'));
});

test('lguest-sim-check: file:line: message for each problem, exit status 1; 0 for a clean lesson; 2 for a usage error', () => {
  const run = (...args) => spawnSync('npx', ['--no-install', 'lguest-sim-check', ...args], { cwd: site, encoding: 'utf8' });
  const good = run(path.join(here, 'course/courses/os/week3/lessons/my.lesson'));
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /my\.lesson: 3 steps, 6 lines: ok\n1 lesson\(s\) checked/);
  const broken = path.join(here, 'course/courses/os/week3/lessons/broken.lesson');
  const bad = run(broken);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.split('\n').filter((l) => l.startsWith(broken)).map((l) => l.slice(broken.length)).join('\n'),
    ':11: unknown request "NONSENSE": use INITIALIZE, IRQ, EVENTFD, GETDMA, BREAK or a number\n:15: about: "reed" names no function or tag in host::tags::FUNCS (e.g. read, run_guest, L:055)');
  // A wrong result: the replay's message, at its line.
  const wrong = path.join(scratch, 'wrong.lesson');
  fs.writeFileSync(wrong, fs.readFileSync(path.join(here, 'course/courses/os/week3/lessons/my.lesson'), 'utf8').replace('=> 12', '=> 13'));
  fs.mkdirSync(path.join(scratch, 'guests'), { recursive: true });
  fs.copyFileSync(path.join(here, 'course/courses/os/week3/lessons/guests/mine.S'), path.join(scratch, 'guests/mine.S'));
  const w = run(wrong);
  assert.equal(w.status, 1);
  assert.match(w.stderr, new RegExp(`^${wrong.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:16: expected 13, but it returned 12$`, 'm'));
  // The whole course, as the package carries it: clean (warnings allowed).
  const course = run('node_modules/lguest-sim/lessons/');
  assert.equal(course.status, 0, course.stderr);
  const shipped = fs.readdirSync(path.join(here, '../../lessons')).filter((f) => f.endsWith('.lesson')).length;
  assert.match(course.stdout, new RegExp(`^${shipped} lesson\\(s\\) checked`, 'm'));
  assert.equal(run().status, 2);
  assert.equal(run('--frobnicate', wrong).status, 2);
});

test('the README\'s snippet, pasted into a page of a site under a sub-path: every way works under the strict CSP', async () => {
  const res = await page.goto(server.url + 'os/week3.html');
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready === 'true'));
  const els = page.locator('lguest-sim');
  assert.equal(await els.count(), 2);
  assert.equal(await els.nth(0).evaluate((e) => `${e.lessonId} ${e.position}`), '04-read-runs-the-guest 3');
  assert.equal(await els.nth(1).evaluate((e) => e.lessonId), 'my');
  // Keys, after a click on the text.
  await page.locator('lguest-sim >> nth=1 >> .lgs-title').click();
  await page.keyboard.press('ArrowRight');
  assert.equal(await els.nth(1).evaluate((e) => e.position), 1);
  // The iframe and the link.
  const frame = page.frameLocator('iframe');
  await frame.locator('body[data-ready="true"]').waitFor();
  assert.equal(await frame.locator('#walk').getAttribute('data-position'), '3');
  const href = await page.locator('main > a[href*="index.html"]').evaluate((a) => a.href);
  assert.match(href, /\/os\/lguest-sim\/index\.html#lesson=04-read-runs-the-guest&step=3$/);
  await page.goto(href);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#walk').getAttribute('data-position'), '3');
  // The author's page from the package: the checker in the page, no Rust.
  await page.goto(server.url + 'os/lguest-sim/author.html');
  await page.waitForFunction(() => /^No problems/.test(document.getElementById('summary')?.textContent ?? ''));
  await noProblems(page);
});
