// End-to-end test of <lguest-sim> on a course page of the test's own (tests/e2e/course/), as a teacher's
// site would be: served from a sub-path (/courses/os/week3/, lguest-sim copied to /lguest-sim/ and loaded by
// a relative path), under the strict CSP, with a theme that sets the root font to 62.5%, justifies and
// spaces its text and has a sticky header. The element must keep its own look and sizes, keep its keys
// after any click inside it, say clearly what it cannot show, take its attributes whenever they come, free
// its simulator when removed, and make styled elements even offline; lessons load from a file beside the
// page (`src`) and from script text, with their own Guest programs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, page, server, ctx, problems, noProblems, shot, AXE, courseSite } from './harness.mjs';
import { CSP } from './serve.mjs';

useBrowser('embed', 10_000, () => courseSite('site'));

const COURSE = 'courses/os/week3/';
const el = (id) => page.locator(`#${id}`);
const pos = (id) => el(id).evaluate((e) => e.position);
const focusIn = (id) => page.evaluate((id) => document.activeElement?.id === id && Boolean(document.getElementById(id).shadowRoot.activeElement), id);

async function openCourse() {
  await page.goto('about:blank');
  const res = await page.goto(server.url + COURSE);
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready));
  return res;
}

/** Take the warnings the elements meant to give out of the session's problems, and return them. */
function takeWarnings() {
  const w = problems.filter((p) => p.startsWith('console warning: <lguest-sim'));
  const rest = problems.filter((p) => !w.includes(p));
  problems.length = 0;
  problems.push(...rest);
  return w;
}

test('a course page of its own: ready before any step, fallback until then, each landmark named by its lesson', async () => {
  // Hold the wasm back a little, to see the fallback content while the element is not ready.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/lguest_sim_bg.wasm', async (route) => { await held; await route.continue(); });
  await page.goto(server.url + COURSE);
  await page.waitForSelector('#first .fallback');
  assert.equal(await page.locator('#first .fallback').isVisible(), true, 'the fallback shows until it is ready');
  assert.equal(await el('first').getAttribute('aria-busy'), 'true');
  release();
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready === 'true'));
  await page.unroute('**/lguest_sim_bg.wasm');
  assert.equal(await page.locator('#first .fallback').isVisible(), false, 'the fallback is gone once ready');
  assert.equal(await el('first').getAttribute('aria-busy'), null);
  const res = await page.reload();
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready === 'true'));
  // Ready comes first, then the steps.
  await page.locator('#first .lgs-step').click();
  const events = await page.evaluate(() => window.__events);
  for (const id of ['first', 'second', 'mine']) {
    const mine = events.filter((e) => e.startsWith(`${id} `));
    assert.match(mine[0] ?? '', / ready /, `${id}: ${mine.join(', ')}`);
  }
  assert.deepEqual(events.filter((e) => e.startsWith('first ')), ['first ready 0', 'first step 1']);
  // Each element is a landmark named by its lesson.
  const names = await page.evaluate(() => [...document.querySelectorAll('lguest-sim')].map((e) => `${e.getAttribute('role')}: ${e.getAttribute('aria-label')}`));
  assert.equal(names[2], 'region: lguest-sim: Week 3: a Guest of our own');
  assert.equal(new Set(names).size, 3, names.join(' | '));
  assert.ok(names.every((n) => /^region: lguest-sim: \S/.test(n)), names.join(' | '));
  await noProblems(page);
});

test('the site\'s 62.5% root font, justified and spaced text do not reach inside; the toolbar sticks under its header', async () => {
  await openCourse();
  await page.locator('#first').evaluate((e) => e.goTo(2));
  // The state's tables are filled when their panel is first opened.
  const panels = page.locator('#first .lgs-panel:not([open]) > summary');
  for (let i = await panels.count(); i > 0 && !(await page.locator('#first table').count()); i--) await panels.first().click();
  await page.waitForFunction(() => document.querySelector('#first').shadowRoot.querySelector('table'));
  const look = await page.evaluate(() => {
    const root = document.querySelector('#first').shadowRoot;
    const cs = (sel) => getComputedStyle(root.querySelector(sel));
    const p = cs('.lgs-prose p');
    return {
      lgs: cs('.lgs').fontSize, code: cs('.lgs-src').fontSize, table: cs('table').fontSize, keys: cs('.lgs-keys').fontSize,
      title: cs('.lgs-title').fontSize, align: p.textAlign, spacing: p.letterSpacing, words: p.wordSpacing, indent: p.textIndent,
      style: p.fontStyle, transform: p.textTransform, line: p.lineHeight, family: cs('.lgs').fontFamily,
      bodyFont: getComputedStyle(document.body).fontSize, bodyAlign: getComputedStyle(document.body).textAlign,
    };
  });
  assert.equal(look.bodyFont, '16px', 'the site: 1.6rem of a 62.5% root');
  assert.equal(look.bodyAlign, 'justify');
  assert.equal(look.lgs, '15px');
  assert.equal(look.code, '12.8px', 'code stays 0.8 of 16 px, not of the site\'s 10 px root');
  assert.equal(look.table, '14.4px');
  assert.equal(look.keys, '13.6px');
  assert.equal(look.title, '19.2px');
  assert.deepEqual([look.align, look.spacing, look.words, look.indent, look.style, look.transform], ['start', 'normal', '0px', '0px', 'normal', 'none']);
  assert.match(look.family, /system-ui/);
  // Scroll the first walkthrough under the site's header: its toolbar stops 56 px down, below it.
  await page.evaluate(() => {
    const e = document.querySelector('#first');
    window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY + 300);
  });
  const bar = await page.evaluate(() => document.querySelector('#first').shadowRoot.querySelector('.lgs-bar').getBoundingClientRect().top);
  assert.equal(Math.round(bar), 56, 'the toolbar sticks just below the sticky header');
  await shot(page, 'course-page');
  await noProblems(page);
});

test('keys after a click on text, after a question and after a disabled button', async () => {
  await openCourse();
  // A click on the lesson's text, then a key.
  await page.locator('#first .lgs-story .lgs-title').click();
  assert.ok(await focusIn('first'), 'a click on text focuses the walkthrough');
  await page.keyboard.press('ArrowRight');
  assert.equal(await pos('first'), 1);
  // Step 2 asks a question first: a click on the text, n, and the choices; a click on one of them.
  await page.locator('#first .lgs-prose').first().click();
  await page.keyboard.press('n');
  assert.ok(await page.locator('#first .lgs-choice').count() > 0, 'the question is asked');
  assert.equal(await pos('first'), 1);
  assert.equal(await pos('second'), 2, 'the other element did not move');
  await page.locator('#first .lgs-choice').first().click();
  assert.equal(await pos('first'), 2, 'the answer reveals step 2');
  assert.ok(await focusIn('first'), 'the focus stayed inside when the choices went away');
  assert.match(await page.evaluate(() => document.querySelector('#first').shadowRoot.activeElement?.textContent), /^Step 2:/, 'on the revealed step\'s heading');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await pos('first'), 1);
  await page.keyboard.press('ArrowRight'); // answered already: straight on
  assert.equal(await pos('first'), 2);
  // Step ▶ to the end: the button goes disabled under the focus; the keys go on.
  const total = await el('first').evaluate((e) => e.total);
  for (let i = 0; i < 20 && await pos('first') < total; i++) {
    await page.locator('#first .lgs-step').click();
    if (await page.locator('#first .lgs-choice').count()) await page.keyboard.press('1');
  }
  assert.equal(await pos('first'), total);
  assert.equal(await page.locator('#first .lgs-step').isDisabled(), true);
  assert.ok(await focusIn('first'), 'the disabled button did not take the focus away');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await pos('first'), total - 1);
  // A click on the disabled button itself (a step before, so it is disabled again), then a key.
  await page.keyboard.press('End');
  await page.locator('#first .lgs-step').click({ force: true });
  await page.keyboard.press('Home');
  assert.equal(await pos('first'), 0);
  await noProblems(page);
});

test('an unknown lesson, a bad step and a bad theme: said in the element and in the console', async () => {
  await openCourse();
  const got = await page.evaluate(async () => {
    const e = document.createElement('lguest-sim');
    e.id = 'bad';
    e.setAttribute('lesson', '99-no-such-lesson');
    const error = new Promise((r) => e.addEventListener('lguest-sim:error', (ev) => r(ev.detail.message)));
    document.querySelector('main').append(e);
    const rejected = await e.ready.then(() => 'resolved', (x) => x.message);
    return { rejected, error: await error, ready: e.dataset.ready };
  });
  assert.match(got.rejected, /There is no lesson "99-no-such-lesson" in the course/);
  assert.equal(got.error, got.rejected);
  assert.equal(got.ready, 'false');
  const text = await page.locator('#bad [role="alert"]').innerText();
  assert.match(text, /There is no lesson "99-no-such-lesson" in the course/);
  assert.match(text, /01-meet-dev-lguest\s+Meet \/dev\/lguest/, 'it lists what exists');
  assert.match(text, /19-shadow-page-tables/);
  assert.equal(await page.locator('#bad .lgs-bar').count(), 0, 'and does not show lesson 1 instead');
  let warned = takeWarnings();
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0], /<lguest-sim lesson="99-no-such-lesson">: There is no lesson "99-no-such-lesson"[\s\S]*01-meet-dev-lguest/);
  // Fixed later: it recovers.
  await page.locator('#bad').evaluate((e) => e.setAttribute('lesson', '02-initialize'));
  await page.waitForSelector('#bad[data-ready="true"]');
  assert.equal(await page.locator('#bad [role="alert"]').count(), 0);
  assert.equal(await el('bad').evaluate((e) => e.lessonId), '02-initialize');
  // A step that is not a number, one past the end, a theme that is not one: a note, and a sensible choice.
  await el('bad').evaluate((e) => e.setAttribute('step', 'three'));
  assert.match(await page.locator('#bad .lgs-el-note').innerText(), /step="three" is not a step number: this lesson has steps 0 \(its introduction\) to \d+/);
  assert.equal(await pos('bad'), 0);
  await el('bad').evaluate((e) => e.setAttribute('step', '999'));
  assert.match(await page.locator('#bad .lgs-el-note').innerText(), /step="999" is past the end: .* showing step (\d+)/);
  assert.equal(await pos('bad'), await el('bad').evaluate((e) => e.total));
  await el('bad').evaluate((e) => e.setAttribute('theme', 'purple'));
  assert.match(await page.locator('#bad .lgs-el-note').innerText(), /theme="purple" is not a theme: use light or dark/);
  warned = takeWarnings();
  assert.equal(warned.length, 3, warned.join('\n'));
  await noProblems(page);
});

test('attributes set at any time before ready are honoured, and after', async () => {
  // The wasm held back, so the page's elements are not ready while the attributes change.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/lguest_sim_bg.wasm', async (route) => { await held; await route.continue(); });
  await page.goto('about:blank');
  await page.goto(server.url + COURSE);
  await page.waitForSelector('#first .fallback');
  await page.evaluate(() => {
    window.__seen = [];
    const e = document.querySelector('#first');
    e.addEventListener('lguest-sim:ready', (ev) => window.__seen.push(`ready ${ev.detail.lesson} ${ev.detail.position}`));
    e.setAttribute('lesson', '05-hypercalls-and-notify');
  });
  await page.waitForTimeout(50);
  await page.evaluate(() => document.querySelector('#first').setAttribute('step', '2'));
  await page.waitForTimeout(50);
  await page.evaluate(() => document.querySelector('#first').setAttribute('compact', ''));
  // And an element made by script before ready, its attributes set just after insertion.
  await page.evaluate(() => {
    const e = document.createElement('lguest-sim');
    e.id = 'late';
    e.setAttribute('lesson', '01-meet-dev-lguest');
    document.querySelector('main').append(e);
    e.setAttribute('lesson', '08-time');
    e.setAttribute('step', '3');
  });
  release();
  await page.waitForFunction(() => [...document.querySelectorAll('lguest-sim')].every((e) => e.dataset.ready === 'true'));
  await page.unroute('**/lguest_sim_bg.wasm');
  const got = await page.evaluate(() => ['first', 'late'].map((id) => {
    const e = document.getElementById(id);
    return { lesson: e.lessonId, position: e.position, picker: e.shadowRoot.querySelectorAll('.lgs-pick').length };
  }));
  assert.deepEqual(got, [{ lesson: '05-hypercalls-and-notify', position: 2, picker: 0 }, { lesson: '08-time', position: 3, picker: 1 }]);
  assert.deepEqual(await page.evaluate(() => window.__seen), ['ready 05-hypercalls-and-notify 2'], 'ready once, where it was asked to be');
  // After ready, at once.
  const after = await page.evaluate(async () => {
    const e = document.querySelector('#first');
    e.setAttribute('step', '4');
    const step = e.position;
    e.setAttribute('lesson', '08-time');
    return { step, lesson: e.lessonId, position: e.position, label: e.getAttribute('aria-label') };
  });
  assert.deepEqual({ ...after, label: undefined }, { step: 4, lesson: '08-time', position: 4, label: undefined });
  // Named by its new lesson, which #late shows too: the two landmarks say which of the two each is.
  const late = await page.locator('#late').getAttribute('aria-label');
  const bare = (l) => l.replace(/ \(\d+ of \d+\)$/, '');
  assert.equal(bare(after.label), bare(late), 'named by its new lesson');
  assert.deepEqual([after.label, late].map((l) => l.match(/\((\d+ of \d+)\)$/)?.[1]).sort(), ['1 of 2', '2 of 2'], `${after.label} | ${late}`);
  assert.match(after.label, /^lguest-sim: \S/);
  // One of them gone, the other is the lesson's only one again.
  await page.evaluate(() => document.querySelector('#first').remove());
  await page.waitForFunction(() => !/\(\d+ of \d+\)$/.test(document.querySelector('#late').getAttribute('aria-label')));
  await noProblems(page);
});

test('max-height scrolls inside, collapsed hides it behind a button', async () => {
  await openCourse();
  await el('second').evaluate((e) => e.setAttribute('max-height', '300px'));
  const box = await page.evaluate(() => {
    const b = document.querySelector('#second').shadowRoot.querySelector('.lgs-el-body');
    return { h: b.getBoundingClientRect().height, scroll: b.scrollHeight };
  });
  assert.ok(box.h <= 300 && box.scroll > 300, JSON.stringify(box));
  await el('second').evaluate((e) => e.setAttribute('collapsed', ''));
  const toggle = page.locator('#second .lgs-el-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#second .lgs-el-body').isVisible(), false);
  assert.match(await toggle.innerText(), /lguest-sim: Interrupts/);
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.locator('#second .lgs-el-body').isVisible(), true);
  assert.equal(await el('second').getAttribute('collapsed'), null);
  await noProblems(page);
});

test('a removed element frees its simulator at once; put back, it comes back where it was', async () => {
  await openCourse();
  const got = await page.evaluate(async () => {
    const e = document.querySelector('#second');
    e.goTo(3);
    const w = e.controller.w;
    const before = w.__wbg_ptr !== 0;
    e.remove();
    await Promise.resolve();
    const freed = w.__wbg_ptr === 0 && e.controller === null;
    // Moved within the page (removed and added in one go): it keeps its walkthrough.
    document.querySelector('main').append(e);
    await e.ready;
    const back = e.position;
    const w2 = e.controller.w;
    document.querySelector('h1').after(e);
    await Promise.resolve();
    return { before, freed, back, kept: e.controller?.w === w2, position: e.position };
  });
  assert.deepEqual(got, { before: true, freed: true, back: 3, kept: true, position: 3 });
  await el('second').evaluate((e) => e.goTo(4));
  assert.equal(await pos('second'), 4);
  await noProblems(page);
});

test('offline: an element made after the network went away is styled and works', async () => {
  await openCourse();
  await ctx.setOffline(true);
  try {
    const got = await page.evaluate(async () => {
      const { create } = await import('/lguest-sim/lguest-sim.js');
      const e = create(document.querySelector('main'), { lesson: '04-read-runs-the-guest', step: 1 });
      await e.ready;
      e.step();
      const root = e.shadowRoot;
      return { position: e.position, font: getComputedStyle(root.querySelector('.lgs')).fontFamily, bar: getComputedStyle(root.querySelector('.lgs-bar')).display, sheets: root.adoptedStyleSheets.length };
    });
    assert.ok(got.position >= 1, JSON.stringify(got));
    assert.match(got.font, /system-ui/);
    assert.equal(got.bar, 'flex');
    assert.equal(got.sheets, 2, 'the two shared sheets, no fetch');
  } finally {
    await ctx.setOffline(false);
  }
  await noProblems(page);
});

test('lessons at run time: src beside the page with its own Guest, text from script, and their errors', async () => {
  await openCourse();
  // src="lessons/my.lesson", relative to the page, its guests/mine.S beside it.
  await page.locator('#mine .lgs-step').click();
  await page.locator('#mine .lgs-step').click();
  assert.ok(await page.locator('#mine .lgs-choice').count() > 0, 'its question');
  await page.keyboard.press('1');
  assert.equal(await pos('mine'), 2);
  assert.match(await page.locator('#mine .lgs-story').innerText(), /✓[\s\S]*Hello from week 3!/);
  assert.equal(await page.locator('#mine .lgs-link').isVisible(), false, 'no link into the course for a lesson of its own');
  // A file that does not parse: every problem, with its line.
  const broken = await page.evaluate(async () => {
    const e = document.createElement('lguest-sim');
    e.id = 'broken';
    e.setAttribute('src', 'lessons/broken.lesson');
    document.querySelector('main').append(e);
    return e.ready.then(() => 'shown', (x) => x.problems);
  });
  assert.deepEqual(broken.map((p) => p.replace(/: .*/, '')), ['lessons/broken.lesson:11', 'lessons/broken.lesson:15']);
  assert.match(await page.locator('#broken [role="alert"]').innerText(), /lessons\/broken\.lesson has 2 problems[\s\S]*lessons\/broken\.lesson:11: unknown request "NONSENSE"/);
  // One that is not there.
  const missing = await page.evaluate(async () => {
    const e = document.createElement('lguest-sim');
    e.id = 'missing';
    e.setAttribute('src', 'lessons/nowhere.lesson');
    document.querySelector('main').append(e);
    return e.ready.then(() => 'shown', (x) => x.message);
  });
  assert.match(missing, /could not load the lesson lessons\/nowhere\.lesson \(http:.*\/courses\/os\/week3\/lessons\/nowhere\.lesson\): 404/);
  // Text from script with its Guest beside it, one of whose lines is wrong: it plays as a course lesson
  // does, ✗ and all.
  const text = await page.evaluate(async () => {
    const base = new URL('lessons/', location.href);
    const lesson = (await (await fetch(new URL('my.lesson', base))).text()).replace('=> 12', '=> 13');
    const mine = await (await fetch(new URL('guests/mine.S', base))).text();
    const e = document.createElement('lguest-sim');
    e.id = 'text';
    e.setAttribute('compact', '');
    const shown = e.load({ text: lesson, file: 'week3-draft.lesson', guests: { 'guests/mine.S': mine }, step: 1 });
    document.querySelector('main').append(e);
    await shown;
    return { id: e.lessonId, position: e.position, label: e.getAttribute('aria-label') };
  });
  // #mine shows the same lesson: each landmark says which of the two it is.
  assert.deepEqual(text, { id: 'week3-draft', position: 1, label: 'lguest-sim: Week 3: a Guest of our own (2 of 2)' });
  assert.equal(await el('mine').getAttribute('aria-label'), 'lguest-sim: Week 3: a Guest of our own (1 of 2)');
  const res = await page.locator('#text .lgs-res').allInnerTexts();
  assert.ok(res.some((r) => /✗/.test(r) && /13/.test(r)), res.join('\n'));
  // Without its Guest: the problem at the guest: line.
  const noGuest = await page.locator('#text').evaluate(async (e, t) => e.load({ text: t, file: 'x.lesson' }).then(() => [], (x) => x.problems), await page.evaluate(() => fetch('lessons/my.lesson').then((r) => r.text())));
  assert.match(noGuest[0], /^x\.lesson:3: no Guest program called "guests\/mine\.S"/);
  // A lesson attribute takes over from the text: the course's lesson.
  await el('text').evaluate((e) => e.setAttribute('lesson', '02-initialize'));
  await page.waitForSelector('#text[data-ready="true"]');
  assert.equal(await el('text').evaluate((e) => e.lessonId), '02-initialize');
  const warned = takeWarnings();
  assert.equal(warned.length, 3, warned.join('\n'));
  const i404 = problems.findIndex((p) => /status of 404/.test(p));
  assert.ok(i404 >= 0, 'the missing file was asked for');
  problems.splice(i404, 1);
  await noProblems(page);
});

test('embed.html?src=: a lesson file of the course site in an iframe page, and one that does not parse', async () => {
  await page.goto(server.url + 'lguest-sim/embed.html?src=../courses/os/week3/lessons/my.lesson&step=1');
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.title(), /^Week 3: a Guest of our own, step 1 of \d+ — lguest-sim$/);
  assert.equal(await page.locator('lguest-sim').getAttribute('aria-label'), 'lguest-sim: Week 3: a Guest of our own');
  await page.locator('lguest-sim .lgs-step').click();
  await page.waitForFunction(() => /step 2 of/.test(document.title) || document.querySelector('lguest-sim').shadowRoot.querySelector('.lgs-choice'));
  await noProblems(page);
  await page.goto(server.url + 'lguest-sim/embed.html?src=../courses/os/week3/lessons/broken.lesson');
  await page.waitForSelector('body[data-ready="false"]');
  assert.match(await page.locator('lguest-sim [role="alert"]').innerText(), /broken\.lesson has 2 problems[\s\S]*:11: unknown request "NONSENSE"/);
  assert.match(await page.title(), /broken\.lesson: cannot be shown/);
  assert.equal(takeWarnings().length, 1, 'the element warns in the console too');
  await noProblems(page);
});

test('the course page: no serious or critical axe-core violation, light and dark', async () => {
  await openCourse();
  await page.locator('#first').evaluate((e) => e.goTo(2));
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(AXE);
    const v = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'], resultTypes: ['violations'] });
      return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical' || x.id === 'landmark-unique')
        .map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(v, [], scheme);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  // axe injects a <style> of its own inside shadow roots, which the CSP rightly blocks (see walk.test.mjs).
  await page.evaluate(() => { window.__csp = []; });
  problems.length = 0;
});
