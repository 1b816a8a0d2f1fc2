// End-to-end test of the author's page (www/author.html) in the system's headless Chromium, under the strict
// CSP: a course author writes a lesson with mistakes, sees each problem at its line (listed, and marked
// beside the text), fixes them, steps the preview, saves the lesson, opens files, shares the lesson as a
// link and opens the link in a fresh page, where the same lesson comes back. The checker runs in a worker,
// so typing never waits for it: no task longer than 50 ms while the author types.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useBrowser, page, server, ctx, problems, watch, noProblems, shot, AXE } from './harness.mjs';
import { CSP } from './serve.mjs';

useBrowser('author', 15_000);

const summary = () => page.locator('#summary').innerText();
/** Wait until the check of the text as it is now is shown. */
const checked = (re) => page.waitForFunction((src) => new RegExp(src).test(document.getElementById('summary').textContent), re.source);
const pos = () => page.locator('#preview').evaluate((e) => e.position);

// A lesson with a wrong result on line 16 and, in step 2, a step that says nothing (line 19) with an about:
// that names no function (line 20): three problems, two of them that stop it from parsing.
const BAD = `# Reading too early

goals:
- why read() on a fresh /dev/lguest is -EINVAL

Before INITIALIZE there is no Guest.

## Step: Open and read
about: read
question: What does read() return?
choices: 4 | -EINVAL
answer: -EINVAL

\`\`\`scenario
open   => fd 3
read   => 4
\`\`\`

## Step: Close
about: closer
`;

test('the page loads under the strict CSP with a lesson to start from, checked and previewed', async () => {
  await page.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(Math.round(e.duration)); }).observe({ type: 'longtask', buffered: true });
  });
  const res = await page.goto(server.url + 'author.html');
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.waitForSelector('body[data-ready="true"]');
  await checked(/^No problems/);
  await page.waitForSelector('#preview[data-ready="true"]');
  assert.match(await page.locator('#preview .lgs-title').innerText(), /A read too early/);
  assert.ok(await page.locator('#start option').count() > 15, 'the course\'s lessons to start from');
  await noProblems(page);
});

test('type a lesson with mistakes: each problem at its line, listed and marked; a click goes there', async () => {
  await page.locator('#text').fill('');
  await page.locator('#text').click();
  await page.evaluate(() => { window.__long = []; });
  await page.keyboard.type(BAD, { delay: 2 });
  await checked(/problem/);
  await page.waitForTimeout(300); // the last keystrokes' check
  await checked(/^2 problems\. It does not parse/);
  const items = await page.locator('#problems li').allInnerTexts();
  assert.equal(items.length, 2, items.join('\n'));
  assert.match(items[0], /^line 19: this step is empty/);
  assert.match(items[1], /^line 20: about: "closer" names no function/);
  // Marked in the text's gutter (✗ and the number) and on the line itself.
  const gut = await page.locator('#gutter div.bad').allInnerTexts();
  assert.deepEqual(gut, ['✗ 19', '✗ 20']);
  assert.equal(await page.locator('#marks div').nth(19).getAttribute('class'), 'bad', 'line 20 is marked');
  // A click on a problem puts the caret on its line.
  await page.locator('#problems button').nth(1).click();
  const sel = await page.locator('#text').evaluate((t) => t.value.slice(t.selectionStart, t.selectionEnd));
  assert.equal(sel, 'about: closer');
  // Typing never waited for the checker.
  const long = await page.evaluate(() => window.__long);
  assert.ok(long.every((d) => d <= 50), `tasks over 50 ms while typing: ${long.join(', ')}`);
  // Fix the step: it parses, and the wrong result on line 16 is the one problem left, shown in the preview.
  await page.keyboard.type('about: close\n\n```scenario\nclose  => 0\n```\n');
  await checked(/^1 problem\. It parses/);
  assert.match(await page.locator('#problems li').innerText(), /^line 16: expected 4, but it returned -EINVAL/);
  assert.deepEqual(await page.locator('#gutter div.bad').allInnerTexts(), ['✗ 16']);
  await page.waitForFunction(() => document.querySelector('#preview')?.lessonId === 'my-lesson' && document.querySelector('#preview').total === 2);
  await shot(page, 'author-problem');
  await noProblems(page);
});

test('fix it, step the preview; the preview keeps its step as the lesson changes', async () => {
  await page.locator('#problems button').first().click();
  // The caret is on line 16 (`read   => 4`): replace the line.
  await page.keyboard.type('read   => -EINVAL');
  await checked(/^No problems: 2 steps and 3 lines/);
  await page.waitForFunction(() => document.querySelector('#preview')?.dataset.ready === 'true');
  await page.locator('#preview .lgs-step').click();
  assert.ok(await page.locator('#preview .lgs-choice').count() > 0, 'the question is asked');
  await page.locator('#preview .lgs-choice', { hasText: '-EINVAL' }).click();
  assert.equal(await pos(), 1);
  assert.match(await page.locator('#preview .lgs-story').innerText(), /Right/);
  assert.match(await page.locator('#preview .lgs-story').innerText(), /✓/);
  // An edit to the prose: the preview is rebuilt at the same step.
  await page.locator('#text').evaluate((t) => { t.setSelectionRange(t.value.indexOf('Before INITIALIZE'), t.value.indexOf('Before INITIALIZE')); t.focus(); });
  await page.keyboard.type('Early on: ');
  await checked(/^No problems/);
  await page.waitForFunction(() => /Early on: Before INITIALIZE/.test(document.querySelector('#preview').shadowRoot.textContent ?? '') || document.querySelector('#preview').position === 1);
  await page.waitForFunction(() => document.querySelector('#preview').position === 1);
  await noProblems(page);
});

test('save, open files, share as a link and open it in a fresh page', async () => {
  // Save: the text as a file named as the author said.
  await page.locator('#name').fill('week3-early.lesson');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#save').click()]);
  assert.equal(download.suggestedFilename(), 'week3-early.lesson');
  const saved = fs.readFileSync(await download.path(), 'utf8');
  assert.equal(saved, await page.locator('#text').inputValue());
  // Open: a lesson file and its Guest program.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lguest-sim-author-'));
  const lesson = fs.readFileSync(path.resolve('course/courses/os/week3/lessons/my.lesson'), 'utf8');
  fs.writeFileSync(path.join(dir, 'my.lesson'), lesson);
  fs.copyFileSync(path.resolve('course/courses/os/week3/lessons/guests/mine.S'), path.join(dir, 'mine.S'));
  await page.locator('#file').setInputFiles([path.join(dir, 'my.lesson'), path.join(dir, 'mine.S')]);
  await page.waitForFunction(() => document.getElementById('name').value === 'my.lesson');
  assert.equal(await page.locator('.au-guest input').inputValue(), 'guests/mine.S');
  await checked(/^No problems: 3 steps/);
  await page.waitForFunction(() => document.querySelector('#preview')?.lessonId === 'my' && document.querySelector('#preview').dataset.ready === 'true');
  // Its Guest missing: the problem is at the guest: line.
  await page.locator('.au-guest input').fill('guests/other.S');
  await checked(/^\d+ problems?\. It parses/);
  assert.match(await page.locator('#problems li').first().innerText(), /^line 3: no Guest program called "guests\/mine\.S".*given beside the lesson: guests\/other\.S/);
  // The preview says it too (and warns in the console, as an element on a course page would).
  await page.waitForSelector('#preview [role="alert"]');
  assert.match(await page.locator('#preview [role="alert"]').innerText(), /my\.lesson:3: no Guest program called "guests\/mine\.S"/);
  const warned = problems.findIndex((p) => p.startsWith('console warning: <lguest-sim>: my.lesson has a problem'));
  assert.ok(warned >= 0, problems.join('\n'));
  problems.splice(warned, 1);
  await page.locator('.au-guest input').fill('guests/mine.S');
  await checked(/^No problems/);
  // Share: a link that carries the lesson and its Guest.
  await page.locator('#share').click();
  await page.waitForFunction(() => document.getElementById('share-link').value);
  const link = await page.locator('#share-link').inputValue();
  assert.match(link, /\/author\.html#share=1\.[A-Za-z0-9_-]+$/);
  const raw = lesson.length + fs.readFileSync(path.join(dir, 'mine.S'), 'utf8').length;
  assert.ok(link.length < raw * 0.7, `compressed: ${link.length} characters for ${raw}`);
  // A fresh page (a new browser profile's worth: no draft) opens it.
  const p2 = await ctx.newPage();
  const seen = [];
  watch(p2, seen);
  await p2.evaluate(() => localStorage.clear()).catch(() => {});
  await p2.goto(link);
  await p2.waitForSelector('body[data-ready="true"]');
  await p2.waitForFunction(() => /^No problems: 3 steps/.test(document.getElementById('summary').textContent));
  assert.equal(await p2.locator('#text').inputValue(), lesson);
  assert.equal(await p2.locator('#name').inputValue(), 'my.lesson');
  assert.equal(await p2.locator('.au-guest textarea').inputValue(), fs.readFileSync(path.join(dir, 'mine.S'), 'utf8'));
  await p2.waitForFunction(() => document.querySelector('#preview')?.dataset.ready === 'true');
  await p2.locator('#preview .lgs-step').click();
  assert.equal(await p2.locator('#preview').evaluate((e) => e.position), 1);
  assert.equal(new URL(p2.url()).hash, '', 'the link is taken in; the draft holds it from now on');
  // A damaged link says so.
  await p2.goto(link.slice(0, -12) + 'AAAA');
  await p2.waitForSelector('body[data-ready]');
  assert.match(await p2.locator('#summary').innerText(), /could not be read|No problems/);
  assert.deepEqual(await p2.evaluate(() => window.__csp), []);
  assert.deepEqual(seen, []);
  await p2.close();
  fs.rmSync(dir, { recursive: true, force: true });
  await noProblems(page);
});

test('the author\'s page: no serious or critical axe-core violation, light and dark', async () => {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(AXE);
    const v = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
      return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
        .map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(v, [], scheme);
    await shot(page, `author-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.evaluate(() => { window.__csp = []; }); // axe's own <style> in the preview's shadow root
  problems.length = 0;
});
