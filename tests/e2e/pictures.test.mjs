// End-to-end test of the pictures (issue 12) in headless Chromium under the strict CSP: the system drawn
// beside every step with the step's path (the right hops numbered and highlighted), the eventfd map pointing
// at the right version, the RCU run as a sequence diagram with the right lane marked, memory and ptes drawn,
// the panels a step is about open first, lesson prose with tables and pictures; each picture reachable by
// keyboard with its text equivalent, and axe-core finding nothing serious in light and dark at 1440, 1024 and
// 375 px. Screenshots (tests/e2e/artifacts/pictures-*.png) are for a person to look at.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, page, shot, live, openWalk, noProblems, AXE } from './harness.mjs';

useBrowser('pictures', 15_000);

const sys = '#walk .lgs-state > .lgs-fig-system';
/** The ids of the system's boxes on the step's path, and its text equivalent's lines. */
const path = () => page.evaluate((sel) => ({
  on: [...document.querySelectorAll(`${sel} g.box.on`)].map((g) => g.dataset.id),
  text: [...document.querySelectorAll(`${sel} .lgs-fig-text li`)].map((li) => li.textContent),
  hops: [...document.querySelectorAll(`${sel} g.arrow.hop`)].map((g) => ({ n: g.dataset.n, cls: g.getAttribute('class') })),
}), sys);

async function axeSerious() {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
    return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
      .map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

test('lesson 1: the system drawn at every step, the step\'s own hops numbered', async () => {
  // Screenshots show each picture whole, not halfway through its hops appearing.
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await openWalk('#lesson=01-meet-dev-lguest&step=0');
  let p = await path();
  assert.deepEqual(p.on, [], 'nothing has run at the introduction');
  assert.match(p.text.join('\n'), /Nothing has run yet/);
  // The lesson's introduction draws the same picture in its prose.
  assert.equal(await page.locator('#walk .lgs-story .lgs-fig-system').count(), 1);
  await openWalk('#lesson=01-meet-dev-lguest&step=2');
  p = await path();
  assert.deepEqual(p.on, ['task:main', 'dev'], 'read() goes from main to /dev/lguest and back');
  assert.match(p.text[0], /^1\. thread main → \/dev\/lguest: read$/);
  assert.match(p.text[1], /^2\. \/dev\/lguest → thread main: -EINVAL — /);
  assert.deepEqual(p.hops.map((h) => h.n), ['1', '2']);
  assert.match(p.hops[1].cls, /return/);
  assert.match(await page.locator(`${sys} g.box[data-id="lg"]`).getAttribute('class'), /absent/, 'no struct lguest before INITIALIZE');
  await shot(page, 'pictures-lesson1-step2');
  // The path's hops appear in order, unless the reader asks for less motion.
  const anim = () => page.locator(`${sys} g.arrow.hop`).first().evaluate((e) => getComputedStyle(e).animationName);
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  assert.equal(await anim(), 'lgs-draw');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  assert.equal(await anim(), 'none');
  // Step 4 (a bad pointer) draws its own two calls, not step 2's.
  await page.keyboard.press('ArrowRight');
  if (await page.locator('#walk .lgs-choice').count()) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  if (await page.locator('#walk .lgs-choice').count()) await page.keyboard.press('ArrowRight');
  p = await path();
  assert.ok(p.text.some((t) => /thread main → \/dev\/lguest: write IRQ 1 buf=null/.test(t)), p.text.join('\n'));
  assert.ok(p.text.some((t) => /→ thread main: -EFAULT/.test(t)));
  await noProblems(page);
});

test('a read that runs the Guest: through run_guest() and the Switcher, the trap, the result back', async () => {
  await openWalk('#lesson=04-read-runs-the-guest&step=4');
  const p = await path();
  for (const id of ['task:main', 'dev', 'cpu', 'switcher', 'guest']) assert.ok(p.on.includes(id), `${id} on the path: ${p.on}`);
  assert.ok(p.hops.some((h) => /trap/.test(h.cls)), 'the trap back is drawn as a trap');
  assert.ok(p.text.some((t) => /the Guest → the Switcher: trap 0x1f/.test(t)));
  // Lesson 9's eventfd: signalled, and the thread it wakes.
  await openWalk('#lesson=09-eventfds&step=5');
  const q = await path();
  assert.ok(q.text.some((t) => /the eventfd map → eventfd ctx 0: eventfd_signal\(\)/.test(t)), q.text.join('\n'));
  assert.ok(q.text.some((t) => /eventfd ctx 0 → thread dev: wakes dev/.test(t)));
  assert.ok(q.hops.some((h) => /wake/.test(h.cls)));
  await shot(page, 'pictures-lesson9-step5');
  await noProblems(page);
});

test('the eventfd map: lg->eventfds points at the version each step made', async () => {
  await openWalk('#lesson=10-rcu-copy-update&step=0');
  for (const [n, want] of [[1, 'v:2'], [2, 'v:6'], [3, 'v:8']]) {
    await page.locator('#walk .lgs-timeline').fill(String(n));
    const fig = page.locator('#walk .lgs-state .lgs-fig-map');
    const got = await fig.evaluate((f) => {
      const [, end] = f.querySelector('g.arrow.ptr polyline').getAttribute('points').split(' ').map((p) => p.split(',').map(Number));
      const hit = [...f.querySelectorAll('g.box')].find((g) => {
        const r = g.querySelector('rect');
        const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((a) => Number(r.getAttribute(a)));
        return g.dataset.id.startsWith('v:') && end[0] >= x - 1 && end[0] <= x + w + 1 && end[1] >= y - 1 && end[1] <= y + h + 1;
      });
      return { at: hit?.dataset.id, current: f.querySelector('g.box.current')?.dataset.id };
    });
    assert.deepEqual(got, { at: want, current: want }, `step ${n}`);
  }
  assert.match(await page.locator('#walk .lgs-state .lgs-fig-map g.box[data-id="v:6"]').getAttribute('class'), /freed/, '#6 freed by the second update, greyed');
  // The step is about add_eventfd(): its map panel is open and says why; what it is not about stays closed.
  const map = page.locator('#walk .lgs-panel[data-panel="map"]');
  assert.equal(await map.getAttribute('open'), '');
  assert.match(await map.locator('> summary').innerText(), /this step is about add_eventfd\(\)/);
  assert.equal(await page.locator('#walk .lgs-panel[data-panel="kernel"]').getAttribute('open'), null);
  // Only the rows that changed are highlighted, each with its old value.
  const rows = await page.locator('#walk .lgs-panel[data-panel="eventfd-map"] tr.chg').allInnerTexts();
  assert.ok(rows.length > 0 && rows.every((r) => /new|changed \(was /.test(r)), rows.join('\n'));
  await shot(page, 'pictures-lesson10-step3');
  await noProblems(page);
});

test('the RCU run as a sequence diagram: a lane per CPU, the violating step marked, leaving the schedule said', async () => {
  await openWalk('#lesson=11-rcu-break-it&step=1');
  await page.locator('#walk .lgs-rcu-lesson-open').first().click();
  const run = page.locator('#walk .lgs-story .lgs-rcu-run');
  const total = Number((await run.locator('.lgs-counter').innerText()).match(/of (\d+)/)[1]);
  for (let i = 0; i < total; i++) await run.locator('.lgs-rcu-step').click();
  const seq = run.locator('.lgs-fig-rcu');
  const steps = await seq.evaluate((f) => [...f.querySelectorAll('g.box.step')].map((g) => ({ id: g.dataset.id, cls: g.getAttribute('class'), x: Number(g.querySelector('rect').getAttribute('x')) })));
  assert.equal(steps.length, total, 'every step so far has its row');
  const last = steps.at(-1);
  assert.match(last.cls, /bad/, 'the violating step is marked');
  // It sits in the lane of the CPU that took it, as the words say.
  const words = await seq.locator('.lgs-fig-text li').allTextContents();
  const cpu = Number(words.find((w) => w.startsWith(`${total}. CPU`)).match(/CPU (\d)/)[1]);
  const lanes = await seq.evaluate((f) => [...f.querySelectorAll('text.label.title')].map((t) => [t.textContent, Number(t.getAttribute('x'))]));
  const lane = lanes.find(([t]) => t === `CPU ${cpu}`)[1];
  const nearest = lanes.reduce((a, b) => (Math.abs(b[1] - last.x) < Math.abs(a[1] - last.x) ? b : a));
  assert.equal(nearest[1], lane, `step ${total} is in CPU ${cpu}'s lane`);
  assert.match(await run.innerText(), /Read as: CPU \d, CPU \d/);
  // The map now: the reader's arrow ends on the freed version it still holds.
  const held = await run.locator('.lgs-fig-map').evaluate((f) => {
    const end = f.querySelector('g.arrow.reader polyline').getAttribute('points').split(' ')[1].split(',').map(Number);
    const r = f.querySelector('g.box.freed.bad rect');
    return end[0] === Number(r.getAttribute('x'));
  });
  assert.ok(held, 'the reader points at the freed map');
  // Back one step, then take the other CPU: the page says the schedule is the student's now.
  await run.locator('.lgs-rcu-back').click();
  const other = run.locator('.lgs-rcu-cpu', { hasNotText: `Run CPU ${cpu}` });
  if (await other.count()) {
    await other.first().click();
    assert.match(await run.locator('.lgs-rcu-left').innerText(), new RegExp(`^You left the counterexample at step ${total}`));
  }
  await shot(page, 'pictures-rcu-sequence');
  await noProblems(page);
});

test('memory and page tables drawn; lesson tables and pictures; the code pane wraps and marks the step\'s own function', async () => {
  await openWalk('#lesson=19-shadow-page-tables&step=3');
  const ptes = page.locator('#walk .lgs-panel[data-panel="paging"] .lgs-fig-pte');
  assert.ok(await ptes.locator('g.box.bit.on').count() > 0, 'set bits drawn');
  assert.match(await ptes.locator('.lgs-fig-text').textContent(), /Guest's pte 0x[0-9a-f]+: frame 0x[0-9a-f]+, .*P/);
  assert.equal(await page.locator('#walk .lgs-story .lgs-fig-pte').count(), 1, 'the lesson draws the ptes in its prose');
  await shot(page, 'pictures-lesson19-step3');
  await openWalk('#lesson=04-read-runs-the-guest&step=2');
  const mem = page.locator('#walk .lgs-story .lgs-fig-memory');
  assert.match(await mem.locator('.lgs-fig-text').textContent(), /pfn_limit 0x2001[\s\S]*0xffc00000 – 0xffffffff: the Switcher/);
  // read() ran though it logs no event of its own: its tab says so (the code pane fills in when the page
  // is idle after the paint, so on a loaded machine the tab may still be empty for a moment).
  const tab = page.locator('#walk .lgs-tab', { hasText: 'read()' });
  await page.waitForFunction(() => /✓ ran/.test([...document.querySelectorAll('#walk .lgs-tab')].find((t) => t.textContent.includes('read()'))?.innerText ?? ''), null, { timeout: 10_000 })
    .catch(() => {});
  assert.match(await tab.innerText(), /✓ ran/);
  assert.equal(await page.locator('#walk .lgs-srcline').first().evaluate((e) => getComputedStyle(e).whiteSpace), 'pre-wrap', 'long lines wrap');
  // Lesson 11's table of variants: a real table, in a box that scrolls when narrow.
  await openWalk('#lesson=11-rcu-break-it&step=0');
  const t = page.locator('#walk .lgs-story .lgs-wide .lgs-md-table');
  assert.deepEqual(await t.locator('thead th').allInnerTexts(), ['variant=', 'what it changes in the correct code', 'what can go wrong']);
  assert.equal(await t.locator('tbody tr').count(), 4);
  // An image relative to the lesson, and an unsafe one dropped.
  const img = await page.evaluate(async () => {
    const { renderMarkdown } = await import('./md.js');
    // In a document of its own, which loads no image.
    const doc = document.implementation.createHTMLDocument('');
    const d = doc.createElement('div');
    d.append(renderMarkdown('![The Switcher](images/switcher.png)\n\n![x](javascript:alert(1))', doc, { base: new URL('lessons/', location.href).href }));
    return { src: d.querySelector('img')?.getAttribute('src'), imgs: d.querySelectorAll('img').length, alt: d.querySelector('figcaption')?.textContent };
  });
  assert.deepEqual(img, { src: new URL('lessons/images/switcher.png', page.url()).href, imgs: 1, alt: 'The Switcher' });
  await noProblems(page);
});

test('every picture is reached by keyboard, with its text equivalent; the next lesson is offered', async () => {
  await openWalk('#lesson=09-eventfds&step=5');
  const figs = await page.evaluate(() => [...document.querySelectorAll('#walk figure.lgs-fig')].filter((f) => f.checkVisibility()).map((f) => {
    const scroll = f.querySelector('.lgs-fig-scroll');
    const svg = f.querySelector('svg');
    const desc = document.getElementById(svg.getAttribute('aria-describedby'));
    return { focusable: scroll.tabIndex === 0, label: scroll.getAttribute('aria-label'), role: svg.getAttribute('role'), named: Boolean(document.getElementById(svg.getAttribute('aria-labelledby'))?.textContent), words: desc?.children.length ?? 0 };
  }));
  assert.ok(figs.length >= 2, 'the system and the map');
  for (const f of figs) {
    assert.ok(f.focusable && /\(picture; the same in words follows\)/.test(f.label), JSON.stringify(f));
    assert.equal(f.role, 'img');
    assert.ok(f.named && f.words > 0, JSON.stringify(f));
  }
  // Tab lands on the system picture.
  await page.locator('#walk .lgs-link').focus();
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.classList.contains('lgs-fig-scroll'));
  }
  assert.ok(reached, 'a picture is reachable by Tab');
  // The end of a lesson offers the next one.
  await page.keyboard.press('End');
  await page.locator('#walk .lgs-next-lesson').click();
  assert.equal(await page.locator('#walk').getAttribute('data-lesson'), '10-rcu-copy-update');
  await noProblems(page);
});

test('free play: a hint when read() is left asleep; every assembler error names its line', async () => {
  await openWalk('#lesson=02-initialize&step=1');
  await page.locator('#walk .lgs-play-start').click();
  for (const l of ['guest init 0x5000', 'read']) {
    await page.locator('#walk .lgs-play-line').fill(l);
    await page.keyboard.press('Enter');
  }
  // The read goes on in the page's slices (each its own task) until nothing more happens: then the hint.
  const hint = /Hint: main is asleep in its call \(`read`\) and nothing more happens on its own.*type signal main/;
  await page.waitForFunction((re) => new RegExp(re).test([...document.querySelectorAll('#walk .lgs-play-log li')].at(-1)?.innerText ?? ''), hint.source, { timeout: 30_000 })
    .catch(() => {});
  assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), hint);
  await page.locator('#walk .lgs-asm').fill('movl $1, %eax\nfrobnicate %eax\nmovl %eax\n');
  assert.match(await page.locator('#walk .lgs-asm-lines').textContent(), /^1\n2\n3\n4$/);
  await page.locator('#walk .lgs-asm-load').click();
  const errs = page.locator('#walk .lgs-asm-err .lgs-asm-goto');
  assert.ok(await errs.count() >= 1);
  await errs.first().click();
  assert.equal(await page.evaluate(() => { const t = document.querySelector('#walk .lgs-asm'); return t.value.slice(t.selectionStart, t.selectionEnd); }), 'frobnicate %eax');
  await noProblems(page);
});

test('the Guest\'s memory dump shows its bytes as text too', async () => {
  await openWalk('#lesson=16-a-real-guest&step=2');
  await page.locator('#walk .lgs-state .lgs-mem-addr').fill('hello');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-state .lgs-mem-out .lgs-ascii').first().textContent(), /Hello/);
  assert.match(await page.locator('#walk .lgs-state .lgs-guest abbr.flag').first().getAttribute('title'), /^carry: (set|clear)$/);
  await noProblems(page);
});

test('the pictures: no serious or critical axe-core violation, light and dark, at 1440, 1024 and 375 px', async () => {
  for (const [w, h] of [[1440, 900], [1024, 768], [375, 812]]) {
    await page.setViewportSize({ width: w, height: h });
    for (const hash of ['#lesson=01-meet-dev-lguest&step=2', '#lesson=10-rcu-copy-update&step=2', '#lesson=19-shadow-page-tables&step=3']) {
      await openWalk(hash);
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        assert.deepEqual(await axeSerious(), [], `${hash} ${scheme} ${w}px`);
      }
      await page.emulateMedia({ colorScheme: 'light' });
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling of the page at ${w}px (overflow ${overflow}px): wide pictures scroll in their box`);
    await openWalk('#lesson=01-meet-dev-lguest&step=2');
    await shot(page, `pictures-lesson1-${w}`);
  }
  await page.setViewportSize({ width: 1366, height: 768 });
  await noProblems(page);
});
