// The same keys on every page (issue #12, point 8; sharedKey in www/dom.js): `?` the page's keys, `/` the field to
// type in, Escape out of a field, → or n on, ← or b back, wherever the page has them: the lessons' page,
// embed.html, a <lguest-sim> element on a course page of its own (the focus inside its shadow root), the
// lab and the author page. Each page lists its keys in its help. Served as embed.test.mjs serves its course
// site (tests/e2e/course/, with lguest-sim copied to /lguest-sim/), under the strict CSP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, page, server, noProblems, courseSite } from './harness.mjs';

useBrowser('keys', 10_000, () => courseSite('keys'));

/** The element that has the focus, inside a shadow root too: its tag, id and class. */
const focused = () => page.evaluate(() => {
  let a = document.activeElement;
  while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
  return a ? `${a.tagName.toLowerCase()}#${a.id}.${a.className}` : '';
});

async function open(rel) {
  await page.goto('about:blank');
  await page.goto(server.url + rel);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || [...document.querySelectorAll('lguest-sim')].some((e) => e.dataset.ready === 'true'));
}

/** The walkthrough's shared keys, `scope` its container (`pos()` its position, `text(sel)` text in it). */
async function walkKeys(name, pos, text, q) {
  const start = await pos();
  // n and → go on (a question asked first is revealed by the same key), b and ← come back.
  for (const key of ['n', 'ArrowRight']) {
    const before = await pos();
    for (let i = 0; i < 3 && await pos() === before; i++) await page.keyboard.press(key);
    assert.equal(await pos(), before + 1, `${name}: ${key} steps on`);
  }
  await page.keyboard.press('b');
  assert.equal(await pos(), start + 1, `${name}: b steps back`);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await pos(), start, `${name}: ← steps back`);
  // ? says the keys and puts the focus on their list, which names the shared ones.
  await page.keyboard.press('?');
  assert.match(await focused(), /\.lgs-keys$/, `${name}: ? focuses the keys`);
  const keys = await text(`${q}.lgs-keys`);
  for (const k of ['→ or n step', '← or b', '/ type', 'Escape out of a field', '? these keys']) assert.ok(keys.includes(k), `${name}: the help lists "${k}": ${keys}`);
  assert.match(await text(`${q}.lgs-live`), /^Keys: /, `${name}: ? is said in the live region`);
  // / goes to the field to type in (Go to step, before free play starts); typed keys are the field's;
  // Escape leaves it, and the keys work again.
  await page.keyboard.press('/');
  assert.match(await focused(), /^input#\.lgs-goto$/, `${name}: / focuses Go to step`);
  await page.keyboard.press('n');
  assert.equal(await pos(), start, `${name}: n typed in the field is not a shortcut`);
  await page.keyboard.press('Escape');
  assert.doesNotMatch(await focused(), /^input/, `${name}: Escape leaves the field`);
  const before = await pos();
  for (let i = 0; i < 3 && await pos() === before; i++) await page.keyboard.press('n');
  assert.equal(await pos(), before + 1, `${name}: after Escape, n steps on`);
  // B (Shift+b): the breakpoint field, where the walkthrough has one.
  if (await page.locator(`${q}.lgs-bp-func`).count()) {
    await page.keyboard.press('Shift+B');
    assert.match(await focused(), /\.lgs-bp-func$/, `${name}: B focuses the breakpoint field`);
    await page.keyboard.press('Escape');
  }
}

test('the lessons\' page: ? / Escape n → b ←', async () => {
  await open('lguest-sim/index.html#lesson=02-initialize&step=0');
  await page.locator('#walk .lgs-title').click();
  await walkKeys('index.html', () => page.evaluate(() => Number(document.querySelector('#walk').dataset.position)),
    (sel) => page.locator(sel).first().innerText(), '#walk ');
  await noProblems(page);
});

test('embed.html in a frame of its own: the same keys', async () => {
  await open('lguest-sim/embed.html?lesson=02-initialize&step=0');
  await page.locator('.lgs-title').click();
  await walkKeys('embed.html', () => page.evaluate(() => Number(document.querySelector('[data-position]').dataset.position)),
    (sel) => page.locator(sel).first().innerText(), '');
  await noProblems(page);
});

test('a <lguest-sim> element on a course page of its own: the same keys, inside its shadow root', async () => {
  await open('courses/os/week3/');
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready));
  await page.locator('#first .lgs-story .lgs-title').click();
  const second = await page.locator('#second').evaluate((e) => e.position);
  await walkKeys('<lguest-sim>', () => page.locator('#first').evaluate((e) => e.position),
    (sel) => page.locator(sel).first().innerText(), '#first ');
  assert.equal(await page.locator('#second').evaluate((e) => e.position), second, 'the other element did not move');
  await noProblems(page);
});

test('the lab: ? / Escape b ←, listed in its help', async () => {
  await open('lguest-sim/lab.html');
  const lines = () => page.locator('#log li').count();
  const help = await page.locator('#keys').innerText();
  for (const k of ['← or b', '/ the console', 'Escape out of a field', '? these keys']) assert.ok(help.includes(k), `the lab's help lists "${k}": ${help}`);
  await page.keyboard.press('?');
  assert.equal(await focused(), 'p#keys.', '? focuses the keys');
  assert.match(await page.locator('#last').innerText(), /Keys \(not while typing/);
  await page.keyboard.press('/');
  assert.equal(await focused(), 'input#console-line.', '/ focuses the console');
  for (const line of ['open', 'eventfd']) {
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
  }
  assert.equal(await lines(), 2);
  await page.keyboard.press('b');
  assert.equal(await lines(), 2, 'b typed in the console is not a shortcut');
  await page.locator('#console-line').fill('');
  await page.keyboard.press('Escape');
  assert.notEqual(await focused(), 'input#console-line.', 'Escape leaves the console');
  await page.keyboard.press('b');
  assert.equal(await lines(), 1, 'b takes back the last line');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await lines(), 0, '← takes back the line before');
  await noProblems(page);
});

test('the author page: ? / Escape, and n → b ← step its preview', async () => {
  await open('lguest-sim/author.html');
  await page.waitForFunction(() => document.querySelector('#preview').dataset.ready === 'true');
  const pos = () => page.locator('#preview').evaluate((e) => e.position);
  const help = await page.locator('#keys').innerText();
  for (const k of ['/ the lesson\'s text', 'Escape out of a field', '→ or n step', '← or b', '? these keys']) assert.ok(help.includes(k), `the author page's help lists "${k}": ${help}`);
  await page.locator('h1').click();
  await page.keyboard.press('?');
  assert.equal(await focused(), 'p#keys.lgs-hint', '? focuses the keys');
  await page.keyboard.press('/');
  assert.equal(await focused(), 'textarea#text.', '/ focuses the lesson\'s text');
  await page.keyboard.press('Escape');
  assert.notEqual(await focused(), 'textarea#text.', 'Escape leaves the text');
  for (const key of ['n', 'ArrowRight']) {
    const before = await pos();
    for (let i = 0; i < 3 && await pos() === before; i++) await page.keyboard.press(key);
    assert.equal(await pos(), before + 1, `${key} steps the preview on`);
  }
  await page.keyboard.press('b');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await pos(), 0, 'b and ← step the preview back');
  await noProblems(page);
});
