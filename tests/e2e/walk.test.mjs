// End-to-end test of the walkthrough (www/index.html), the iframe page (embed.html) and the <lguest-sim>
// element (example.html) in the system's headless Chromium, every page served with the strict CSP.
//
// Every lesson of lessons/ is stepped to its end and back on the page, and at each step the page must show
// one ✓ line per scenario line of that step (counted here from the lesson file itself); questions are asked
// before their step and judged; keys alone drive it; the link reopens the same step; two embedded instances
// step independently; axe-core finds no serious or critical violation in light or dark, on a laptop or a
// phone held sideways. Screenshots of each lesson's key steps go to tests/e2e/artifacts/ (git-ignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { useBrowser, server, ctx, page, problems, watch, shot, live, openWalk, noProblems, AXE, ROOT as root, LONG_TASK_BOUND_MS } from './harness.mjs';
import { CSP } from './serve.mjs';

/** Each lesson file: id, and per step the number of scenario lines (non-blank, non-comment), what each must
 *  return, and whether it has a question. */
function readLessons() {
  const dir = path.join(root, 'lessons');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.lesson')).sort().map((f) => {
    const steps = [];
    let inScn = false;
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (line.startsWith('## Step:')) steps.push({ lines: 0, question: false, expects: [] });
      else if (/^```scenario/.test(line)) inScn = true;
      else if (line.startsWith('```')) inScn = false;
      else if (inScn && line.replace(/#.*$/, '').trim()) {
        steps.at(-1).lines++;
        // What the line must return (`=> fd 3`, `=> -EINVAL`, `=> 4 notify=0x8000`), or null.
        const m = line.match(/=>\s*(.*)$/);
        steps.at(-1).expects.push(m ? m[1].replace(/\s+#.*$/, '').trim() : null);
      }
      else if (!inScn && line.startsWith('question:') && steps.length) steps.at(-1).question = true;
    }
    return { id: f.replace(/\.lesson$/, ''), steps };
  });
}
const LESSONS = readLessons();

useBrowser('walk', 10_000);

/** Open the state's panel `id` (closed panels are filled when they open) and wait for its content. */
async function openPanel(id) {
  const d = page.locator(`#walk .lgs-panel[data-panel="${id}"]`);
  if (await d.getAttribute('open') === null) await d.locator('> summary').click();
  await page.waitForFunction((id) => document.querySelector(`#walk .lgs-panel[data-panel="${id}"]`)?.children.length > 1, id);
}

const position = () => page.locator('#walk').getAttribute('data-position').then(Number);

async function axeSerious(p, iframes = true) {
  await p.evaluate(AXE);
  return p.evaluate(async (iframes) => {
    const r = await window.axe.run(document, { iframes, runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
    return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
      .map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }, iframes);
}

test('the walkthrough loads under the strict CSP and lists the course', async () => {
  const res = await openWalk();
  assert.equal(res.headers()['content-security-policy'], CSP);
  assert.match(await page.title(), /lguest-sim/);
  assert.equal(await page.locator('#lessons li').count(), LESSONS.length);
  assert.equal(await position(), 0);
  assert.match(await page.locator('#walk .lgs-title').innerText(), /\S/);
  await noProblems(page);
});

test('every lesson, stepped to its end and back: each scenario line shows ✓ as the lesson expects', async () => {
  for (const L of LESSONS) {
    await page.goto(`${server.url}#lesson=${L.id}&step=0`);
    await page.waitForSelector('body[data-ready]');
    // Generous waits: the machine's two cores are shared, and this test steps every lesson.
    await page.waitForFunction((id) => document.querySelector('#walk')?.dataset.lesson === id, L.id, { timeout: 30_000 });
    assert.equal(await position(), 0, L.id);
    let asked = false;
    for (let n = 1; n <= L.steps.length; n++) {
      const s = L.steps[n - 1];
      await page.keyboard.press('ArrowRight');
      if (s.question) {
        // The question comes first, with the machine not yet stepped.
        assert.equal(await position(), n - 1, `${L.id} step ${n}: the question is asked before the step runs`);
        assert.ok(await page.locator('#walk .lgs-choice').count() > 0, `${L.id} step ${n}: choices shown`);
        if (!asked) { await shot(page, `${L.id}-step${n}-question`); asked = true; }
        await page.keyboard.press('ArrowRight'); // reveal without answering
      }
      assert.equal(await position(), n, `${L.id}: at step ${n}`);
      const marks = await page.locator('#walk .lgs-res').evaluateAll((els) => els.map((e) => e.dataset.ok));
      assert.equal(marks.length, s.lines, `${L.id} step ${n}: one result per scenario line`);
      assert.ok(marks.every((m) => m === 'true'), `${L.id} step ${n}: every line as the lesson says (${marks})`);
      // The value each system call returned, as the page shows it, is the one the lesson file expects.
      const shown = await page.locator('#walk .lgs-res').evaluateAll((els) => els.map((e) => e.querySelector('.lgs-result')?.textContent ?? null));
      s.expects.forEach((want, i) => {
        if (want === null) return;
        const first = (t) => { const w = t.replace(/^fd\s+/, '').split(/\s+/)[0]; return /^-?(0x[0-9a-f]+|\d+)$/i.test(w) ? String(Number(w)) : w; };
        assert.ok(shown[i] !== null, `${L.id} step ${n} line ${i + 1}: a result is shown`);
        assert.equal(first(shown[i]), first(want), `${L.id} step ${n} line ${i + 1}: shows ${shown[i]}, the lesson says ${want}`);
      });
      assert.equal(await page.locator('#walk .lgs-rcu.bad').count(), 0, `${L.id} step ${n}: explorer verdicts as the lesson says`);
      assert.match(await live(), new RegExp(`Step ${n} of ${L.steps.length}`));
      // The URL follows once the step is painted.
      const want = `#lesson=${L.id}&step=${n}`;
      await page.waitForFunction((h) => location.hash === h, want, { timeout: 30_000 }).catch(async () => {
        assert.fail(`${L.id} step ${n}: the URL is ${await page.evaluate(() => location.hash)}, not ${want}, 30 s after the step was shown`);
      });
    }
    await shot(page, `${L.id}-end`);
    for (let n = L.steps.length - 1; n >= 0; n--) {
      await page.keyboard.press('ArrowLeft');
      assert.equal(await position(), n, `${L.id}: back to ${n}`);
    }
  }
  await noProblems(page);
});

test('questions: a wrong and a right answer are judged in words, not colour alone', async () => {
  const L = LESSONS.find((l) => l.steps.some((s) => s.question));
  const n = L.steps.findIndex((s) => s.question) + 1;
  let right = false;
  let wrong = false;
  for (let i = 0; ; i++) {
    await openWalk(`#lesson=${L.id}&step=${n - 1}`);
    await page.locator('#walk .lgs-step').click();
    const choices = await page.locator('#walk .lgs-choice').count();
    if (i >= choices) break;
    await page.keyboard.press(String(i + 1));
    assert.equal(await position(), n, 'answering reveals the step');
    const verdict = await page.locator('#walk .lgs-verdict').innerText();
    if (verdict.startsWith('✓ Right')) { right = true; assert.match(await live(), /^Right\. Step \d+ of/); }
    else { assert.match(verdict, /^✗ Not quite: you chose .*the answer is/); wrong = true; }
  }
  assert.ok(right && wrong, 'one choice is right and another wrong');
});

test('keyboard alone: Tab to the controls, shortcuts, go to step N, and not while typing', async () => {
  await openWalk('#lesson=02-initialize&step=0');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the lesson');
  await page.keyboard.press('Enter');
  let focused = '';
  for (let i = 0; i < 6 && focused !== 'Step ▶'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
  }
  assert.equal(focused, 'Step ▶', 'the Step button is reachable by Tab');
  await page.keyboard.press('Enter');
  // Step 1 asks a question first; the focus moves to its first choice.
  assert.equal(await position(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-choice');
  await page.keyboard.press('n'); // reveal without answering
  assert.equal(await position(), 1);
  const stepKey = async () => {
    await page.keyboard.press('n');
    if (await page.locator('#walk .lgs-choice').count()) await page.keyboard.press('n');
  };
  await stepKey();
  assert.equal(await position(), 2);
  await page.keyboard.press('p');
  assert.equal(await position(), 1);
  await page.keyboard.press('End');
  const end = await position();
  assert.ok(end > 2);
  await page.keyboard.press('Home');
  assert.equal(await position(), 0);
  // Run to the next read() the Launcher sees: step 1's question (not answered yet) comes first.
  await page.keyboard.press('e');
  assert.equal(await position(), 0);
  assert.match(await live(), /^Stopped at step 0: step 1 asks a question first\./);
  assert.ok(await page.locator('#walk .lgs-choice').count() > 0, 'the question is asked, not skipped');
  await page.keyboard.press('n'); // reveal without answering
  assert.ok(await position() > 0);
  await page.keyboard.press('g');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-goto');
  const before = await position();
  await page.keyboard.press('ArrowRight'); // typing in the field: no shortcut fires
  assert.equal(await position(), before);
  await page.keyboard.press('Control+a');
  await page.keyboard.type('3');
  await page.keyboard.press('Enter');
  assert.equal(await position(), 3);
  assert.match(await live(), /^Step 3 of/);
  await shot(page, 'keyboard-step3');
});

test('the link reopens the lesson at the same step, and the timeline scrubs', async () => {
  await openWalk('#lesson=05-hypercalls-and-notify&step=0');
  await page.locator('#walk .lgs-timeline').fill('2');
  assert.equal(await position(), 2);
  // A jump over questions not answered says so (their answers are shown now), never silently.
  const asked = LESSONS.find((l) => l.id === '05-hypercalls-and-notify').steps.slice(0, 2).map((s, i) => (s.question ? i + 1 : 0)).filter(Boolean);
  if (asked.length) assert.match(await live(), new RegExp(`Skipped the question${asked.length > 1 ? 's of steps' : ' of step'} ${asked.join(', ')} without an answer`));
  const href = await page.locator('#walk .lgs-link').getAttribute('href');
  assert.match(href, /#lesson=05-hypercalls-and-notify&step=2$/);
  const other = await ctx.newPage();
  watch(other);
  await other.goto(new URL(href, server.url).href);
  await other.waitForSelector('body[data-ready]');
  assert.equal(await other.locator('#walk').getAttribute('data-position'), '2');
  assert.match(await other.locator('#walk .lgs-step-title').innerText(), /^Step 2:/);
  await other.close();
});

test('what changed is marked in words; the host code and kernel links are shown', async () => {
  await openWalk('#lesson=02-initialize&step=1');
  const changed = page.locator('#walk .lgs-fields tr.chg .lgs-badge');
  assert.ok(await changed.count() > 0, 'INITIALIZE changes fields');
  assert.match(await changed.first().textContent(), /new|changed/);
  assert.ok(await page.locator('#walk .lgs-book tr.new .lgs-badge').count() > 0, 'new allocations say "new"');
  const src = await page.locator('#walk .lgs-src').innerText();
  assert.match(src, /fn write\(|fn initialize\(/);
  const link = await page.locator('#walk .lgs-codehead a').getAttribute('href');
  assert.match(link, /^https:\/\/elixir\.bootlin\.com\/linux\/v2\.6\.39\/source\/drivers\/lguest\//);
  // The step's events are one click away: their panel opens, and each links its function.
  await openPanel('events');
  assert.ok(await page.locator('#walk .lgs-events a.lgs-func').count() > 0, 'events link their function');
  // Once the Guest has said where lguest_data is, its fields are read from Guest memory.
  await openWalk('#lesson=07-interrupts&step=3');
  await openPanel('ldata');
  assert.match(await page.locator('#walk .lgs-ldata').innerText(), /struct lguest_data \(in Guest memory at 0x5000\)[\s\S]*irq_enabled/);
});

test('accessibility: no serious or critical axe-core violation, light and dark, laptop and phone', async () => {
  await openWalk('#lesson=07-interrupts&step=3');
  assert.deepEqual(await axeSerious(page), []);
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axeSerious(page), []);
  await shot(page, 'walkthrough-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 844, height: 390 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  assert.deepEqual(await axeSerious(page), []);
  await shot(page, 'walkthrough-phone');
  await page.setViewportSize({ width: 1366, height: 768 });
  await shot(page, 'walkthrough');
  await noProblems(page);
});

test('example page: two <lguest-sim> elements step independently, and the iframe works', async () => {
  const res = await page.goto(server.url + 'example.html');
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.waitForSelector('#first[data-ready="true"]');
  await page.waitForSelector('#second[data-ready="true"]');
  const pos = (id) => page.locator(`#${id}`).evaluate((el) => el.position);
  assert.equal(await pos('first'), 0);
  assert.equal(await pos('second'), 2);
  assert.equal(await page.locator('#second .lgs-pick, #second .lgs-play').count(), 0, 'compact: no picker, no free play');
  assert.equal(await page.locator('#first .lgs-play').count(), 1);
  assert.equal(await page.locator('#second .lgs-run').count(), 1, 'compact: Play, without the breakpoint form');
  assert.equal(await page.locator('#second .lgs-bpbox').count(), 0);
  assert.ok(await page.locator('#first .lgs-bp-func').evaluate((i) => i.list?.options.length) > 10, 'the datalist works inside a shadow root');
  await page.locator('#first .lgs-step').click(); // Playwright's CSS pierces open shadow roots
  assert.equal(await pos('first'), 1);
  assert.equal(await pos('second'), 2, 'the second did not move');
  assert.match(await page.locator('#first-status').innerText(), /step 1 of/);
  // Keys go to the element that has focus.
  await page.locator('#second .lgs-back').focus();
  await page.keyboard.press('ArrowRight');
  if (await page.locator('#second .lgs-choice').count()) await page.keyboard.press('ArrowRight'); // past its question
  assert.equal(await pos('second'), 3);
  assert.equal(await pos('first'), 1);
  // The JS API.
  await page.locator('#first').evaluate((el) => el.goTo(3));
  assert.equal(await pos('first'), 3);
  assert.match(await page.locator('#first .lgs-res').first().innerText(), /✓/);
  // Styles stay inside: the page's own h2 is not styled by walk.css.
  assert.match(await page.locator('#first .lgs').evaluate((el) => getComputedStyle(el).fontFamily), /system-ui/);
  assert.match(await page.evaluate(() => getComputedStyle(document.body).fontFamily), /Georgia/);
  const frame = page.frameLocator('#frame');
  await frame.locator('body[data-ready="true"]').waitFor();
  assert.equal(await frame.locator('#walk').getAttribute('data-position'), '1');
  await frame.locator('.lgs-step').click();
  assert.equal(await frame.locator('#walk').getAttribute('data-position'), '2');
  assert.equal(await pos('first'), 3);
  await shot(page, 'example');
  await noProblems(page);
  // axe-core itself injects a <style> when it checks inside shadow roots, which the CSP rightly blocks: the
  // page was checked for violations above, so what axe causes is cleared. The iframe's page is checked on
  // its own below (embed.html).
  assert.deepEqual(await axeSerious(page, false), []);
  await page.evaluate(() => { window.__csp = []; });
  problems.length = 0;
});

test('embed.html: one lesson, its title names the lesson and step', async () => {
  const res = await page.goto(server.url + 'embed.html?lesson=04-read-runs-the-guest&step=2');
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.title(), /^read\(\) runs the Guest, step 2 of \d+ — lguest-sim$/);
  assert.equal(await page.locator('.lgs-pick').count(), 0, 'no lesson picker in an embed');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => /step 3 of/.test(document.title) || document.querySelector('.lgs-choice'));
  await noProblems(page);
  assert.deepEqual(await axeSerious(page), []);
});

test('free play: Launcher lines from the current step, undo, and a Guest program assembled and run', async () => {
  await openWalk('#lesson=05-hypercalls-and-notify&step=2');
  await page.locator('#walk .lgs-play-start').click();
  const line = page.locator('#walk .lgs-play-line');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-play-line');
  await line.fill('write IRQ 40');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), /-EINVAL/);
  assert.match(await live(), /write IRQ 40 returned -EINVAL/);
  await line.fill('write FOO');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), /does not parse/);
  // The program editor: errors name their line; a good program runs on the x86 core.
  await page.locator('#walk .lgs-asm').fill('movl $1, %eax\nfrobnicate %eax\n');
  await page.locator('#walk .lgs-asm-load').click();
  assert.match(await page.locator('#walk .lgs-asm-err').innerText(), /my-guest\.S:2/);
  await page.locator('#walk .lgs-asm-pick').selectOption('guests/hello.S');
  await page.locator('#walk .lgs-asm-load').click();
  assert.equal(await page.locator('#walk .lgs-asm-err').isHidden(), true);
  assert.deepEqual(await page.locator('#walk .lgs-play-log .lgs-result').allInnerTexts(), ['3', '12']);
  await line.fill('read');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), /read → 4/);
  assert.ok(await page.locator('#walk .lgs-play-state .lgs-disasm .cur').count() === 1, 'the Guest CPU shows EIP in its listing');
  assert.match(await page.locator('#walk .lgs-play-state .lgs-cpu').textContent(), /Source line \d+/);
  await line.fill('frob');
  await page.keyboard.press('Enter');
  await page.locator('#walk .lgs-play-undo').click();
  assert.deepEqual(await page.locator('#walk .lgs-play-log .lgs-result').allInnerTexts(), ['3', '12']);
  assert.equal(await page.locator('#walk .lgs-play-log li').count(), 2, 'undo removed the read and the line that did not parse');
  await page.locator('#walk .lgs-play-line').fill('read');
  await page.keyboard.press('Enter');
  await page.locator('#walk .lgs-play').scrollIntoViewIfNeeded();
  await shot(page, 'free-play-guest');
  await noProblems(page);
});

test('the RCU pane: explore a broken variant, count per check, step its counterexample in lanes', async () => {
  await openWalk('#lesson=11-rcu-break-it&step=0');
  await page.locator('#walk .lgs-play-start').click();
  await page.locator('#walk .lgs-rcu-variant').selectOption('no-synchronize-rcu');
  await page.locator('#walk .lgs-rcu-explore').click();
  // The explorer runs in slices: its report replaces the progress line when it is done.
  await page.locator('#walk .lgs-rcu-checks').waitFor();
  const report = await page.locator('#walk .lgs-rcu-report').innerText();
  assert.match(report, /\d+ schedules, \d+ distinct states: ✗ .*use-after-free/);
  const row = page.locator('#walk .lgs-rcu-checks tr', { hasText: 'use-after-free' });
  assert.match(await row.innerText(), /✗ \d+/);
  await row.locator('.lgs-rcu-open').click();
  assert.equal(await page.locator('#walk .lgs-lane').count(), 2, 'one lane per simulated CPU');
  const total = Number((await page.locator('#walk .lgs-rcu-controls .lgs-counter').innerText()).match(/of (\d+)/)[1]);
  for (let i = 0; i < total; i++) await page.locator('#walk .lgs-rcu-step').click();
  assert.match(await page.locator('#walk .lgs-violations').innerText(), /✗ use-after-free/);
  assert.match(await page.locator('#walk .lgs-rcu-versions').innerText(), /freed/);
  await page.locator('#walk .lgs-rcu-pane').scrollIntoViewIfNeeded();
  await shot(page, 'rcu-counterexample');
  await page.locator('#walk .lgs-rcu-back').click();
  assert.equal(await page.locator('#walk .lgs-violations').count(), 0, 'one step back, before the violation');
  // From a lesson's explorer run straight to its counterexample in the lanes.
  await openWalk('#lesson=11-rcu-break-it&step=1');
  const open = page.locator('#walk .lgs-rcu-lesson-open').first();
  assert.ok(await open.count() > 0, 'the lesson step offers its counterexample');
  await open.click();
  // It opens in place, in the lesson's own column: the lesson stays in view, free play is not started.
  assert.equal(await page.locator('#walk .lgs-story .lgs-rcu-run').count(), 1);
  assert.equal(await page.locator('#walk .lgs-play-line').count(), 0);
  assert.match(await page.locator('#walk .lgs-story .lgs-rcu-run').innerText(), /Read as: CPU \d, CPU \d/);
  const steps = Number((await page.locator('#walk .lgs-rcu-controls .lgs-counter').innerText()).match(/of (\d+)/)[1]);
  for (let i = 0; i < steps; i++) await page.locator('#walk .lgs-rcu-step').click();
  assert.ok(await page.locator('#walk .lgs-violations').count() === 1, 'the lesson\'s counterexample ends in its violation');
  // The correct code: nothing goes wrong.
  await page.locator('#walk .lgs-play-start').click();
  await page.locator('#walk .lgs-rcu-variant').selectOption('correct');
  await page.locator('#walk .lgs-rcu-explore').click();
  await page.locator('#walk .lgs-rcu-checks').waitFor();
  assert.match(await page.locator('#walk .lgs-rcu-report').innerText(), /✓ nothing goes wrong/);
  assert.deepEqual(await axeSerious(page), []);
  await noProblems(page);
});

test('the RCU pane at its largest settings: progress in slices, no task over 50 ms, a Stop that stops, the cap said in words', async () => {
  await openWalk('#lesson=11-rcu-break-it&step=0');
  await page.locator('#walk .lgs-play-start').click();
  const set = async (cls, v) => page.locator(`#walk .${cls}`).fill(String(v));
  await page.locator('#walk .lgs-rcu-variant').selectOption('plain-assign');
  await page.locator('#walk .lgs-rcu-memory').selectOption('weak');
  await set('lgs-rcu-readers', 2); await set('lgs-rcu-writers', 2); await set('lgs-rcu-cpus', 3); await set('lgs-rcu-initial', 2);
  await page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
      .observe({ type: 'longtask', buffered: false });
  });
  await page.locator('#walk .lgs-rcu-explore').click();
  await page.locator('#walk .lgs-rcu-progress').waitFor();
  await page.waitForFunction(() => /distinct states/.test(document.querySelector('#walk .lgs-rcu-progress')?.textContent ?? ''));
  // Stopped part-way: it says so, and the page keeps no exploration running.
  await page.locator('#walk .lgs-rcu-stop').click();
  assert.match(await page.locator('#walk .lgs-rcu-report').innerText(), /^Stopped/);
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-rcu-explore', 'focus goes back to the explorer button');
  // Run to the end: the state cap, in words that say how to go on.
  await page.locator('#walk .lgs-rcu-explore').click();
  const alert = page.locator('#walk .lgs-rcu-report [role=alert]');
  await alert.waitFor({ timeout: 120_000 });
  assert.match(await alert.innerText(), /more than 100000 distinct states: .*fewer tasks/);
  const longest = await page.evaluate(() => window.__longest);
  console.log(`# the explorer at its largest: longest task ${longest.toFixed(0)} ms`);
  // The target is 50 ms (tests/e2e/bench.mjs prints it against that); the test's bound leaves room for a
  // loaded machine and still fails an explorer that runs in one go (seconds here).
  assert.ok(longest <= LONG_TASK_BOUND_MS, `no long task while exploring (longest ${longest} ms)`);
  await noProblems(page);
});

// ---- Play / Pause and breakpoints ------------------------------------------------------------------------
// No sleeping: each test picks the fast speed and waits for the page's own "Paused at step N: …" line.
const playing = () => page.locator('#walk').getAttribute('data-playing');
async function untilPaused(action) {
  await action();
  await page.waitForFunction(() => document.querySelector('#walk')?.dataset.playing === 'false'
    && /^Paused at step \d+: /.test(document.querySelector('#walk .lgs-live')?.textContent ?? ''));
  return live();
}
const fast = () => page.locator('#walk .lgs-speed').selectOption('fast');

test('play runs a lesson to its first question and stops; answering and playing again goes on', async () => {
  // A lesson whose first question comes after a step without one, and whose step after that question's asks
  // nothing either: play really steps before it stops, and again after the answer.
  const L = LESSONS.find((l) => { const q = l.steps.findIndex((s) => s.question); return q >= 1 && l.steps[q + 1] && !l.steps[q + 1].question; });
  const q1 = L.steps.findIndex((s) => s.question); // steps before the question
  const q2 = L.steps.findIndex((s, i) => i > q1 && s.question); // the next question, or -1: the end
  await openWalk(`#lesson=${L.id}&step=0`);
  assert.equal(await page.locator('#walk .lgs-run').innerText(), '▶ Play');
  assert.equal(await page.locator('#walk .lgs-speed').evaluate((s) => s.labels[0]?.textContent.trim().startsWith('Speed')), true, 'the speed select is labelled');
  await page.evaluate(() => { window.__steps = []; document.querySelector('#walk').addEventListener('lguest-sim:step', (e) => window.__steps.push(e.detail)); });
  await fast();
  let said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), q1, 'play stepped up to the step with the question, not into it');
  assert.match(said, new RegExp(`^Paused at step ${q1}: answer the question of step ${q1 + 1} first\\. Question: `));
  assert.ok(await page.locator('#walk .lgs-choice').count() > 0, 'the question is shown');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-choice', 'the focus is on its first choice');
  assert.equal(await page.locator('#walk .lgs-run').innerText(), '▶ Play', 'the button says Play again, in words');
  // Play again without answering: it will not skip the question.
  await page.locator('#walk .lgs-run').click();
  assert.equal(await playing(), 'false');
  assert.match(await live(), new RegExp(`^Paused at step ${q1}: answer the question of step ${q1 + 1} first`));
  assert.equal(await position(), q1);
  await page.keyboard.press('1'); // answer
  assert.equal(await position(), q1 + 1, 'answering reveals the step');
  said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  if (q2 >= 0) {
    assert.equal(await position(), q2);
    assert.match(said, new RegExp(`^Paused at step ${q2}: answer the question of step ${q2 + 1} first`));
  } else {
    assert.equal(await position(), L.steps.length);
    assert.match(said, new RegExp(`^Paused at step ${L.steps.length}: end of the lesson\\.`));
  }
  // Play showed every step on the way, one at a time, each as the lesson says, and the URL followed it.
  const at = await position();
  assert.ok(at > q1 + 1, 'play revealed a step after the answered one');
  const seen = await page.evaluate(() => window.__steps);
  assert.deepEqual(seen.map((d) => d.position), [...Array.from({ length: q1 }, (_, i) => i + 1), q1 + 1, ...Array.from({ length: at - q1 - 1 }, (_, i) => q1 + 2 + i)]);
  assert.ok(seen.every((d) => d.ok), 'every step play showed is as the lesson says');
  await page.waitForFunction((h) => location.hash === h, `#lesson=${L.id}&step=${at}`); // the URL follows play
  // At the end, play says so and does not start.
  await page.keyboard.press('End');
  await page.locator('#walk .lgs-run').click();
  assert.equal(await playing(), 'false');
  assert.match(await live(), /^Paused at step \d+: end of the lesson\. Reset/);
  await noProblems(page);
});

test('a breakpoint on add_eventfd: play stops before the step that runs it, and says so', async () => {
  await openWalk('#lesson=09-eventfds&step=0');
  const field = page.locator('#walk .lgs-bp-func');
  assert.equal(await field.evaluate((i) => i.labels[0]?.textContent.trim()), 'Stop at a host function or a Guest address:');
  const offered = await field.evaluate((i) => [...i.list.options].map((o) => o.value));
  assert.ok(offered.includes('add_eventfd') && offered.includes('send_notify_to_eventfd'), 'the datalist offers the modelled host functions');
  assert.match(await page.locator('#walk .lgs-bps').innerText(), /No breakpoints set/);
  // A name the simulator does not model is refused, in words, next to the field.
  await field.fill('no_such_function');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-bp-err').innerText(), /not a host function the simulator models/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  await field.fill('add_eventfd()');
  await page.keyboard.press('Enter');
  assert.equal(await field.getAttribute('aria-invalid'), null);
  assert.equal(await field.inputValue(), '');
  assert.deepEqual(await page.locator('#walk .lgs-bp code').allInnerTexts(), ['add_eventfd()']);
  assert.match(await live(), /^Breakpoint set: play stops before a step that runs add_eventfd\(\)\./);
  await fast();
  // Step 1 runs add_eventfd and asks a question: one stop, the breakpoint named, the question shown.
  let said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), 0);
  assert.match(said, /^Paused at step 0: breakpoint: add_eventfd\(\) runs in step 1, and its question comes first\. Question: /);
  await page.locator('#walk .lgs-choice').first().click();
  assert.equal(await position(), 1);
  said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), 1);
  assert.match(said, /^Paused at step 1: breakpoint: add_eventfd\(\) runs in step 2, and its question comes first/);
  await page.keyboard.press('1');
  assert.equal(await position(), 2);
  // Step 3 does not run add_eventfd: play goes on to its question without naming the breakpoint.
  said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.match(said, /^Paused at step 2: answer the question of step 3 first/);
  await shot(page, 'play-breakpoint-question');
  await noProblems(page);
});

test('a breakpoint on a step without a question: stopped before it, not revealed; playing again runs it', async () => {
  // Lesson 10's step 3 runs add_eventfd() again and asks nothing. Breakpoints stay set across lessons.
  await openWalk('#lesson=10-rcu-copy-update&step=2');
  await page.locator('#walk .lgs-bp-func').fill('add_eventfd');
  await page.locator('#walk .lgs-bp-add').click();
  await fast();
  let said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), 2, 'not revealed');
  assert.match(await page.locator('#walk .lgs-step-title').innerText(), /^Step 2:/);
  assert.equal(said, 'Paused at step 2: breakpoint: add_eventfd() runs in step 3.');
  await shot(page, 'play-breakpoint');
  // Playing again runs the step it stopped before, then goes on (step 4 asks a question).
  said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), 3);
  assert.match(said, /^Paused at step 3: answer the question of step 4 first/);
  // "Run to next read()" stops before a breakpoint's step too, and runs it when pressed again.
  await openWalk('#lesson=10-rcu-copy-update&step=2');
  await page.locator('#walk .lgs-bp-func').fill('add_eventfd');
  await page.keyboard.press('Enter');
  await page.locator('#walk .lgs-next-event').click();
  assert.equal(await position(), 2);
  assert.match(await live(), /^Stopped at step 2: breakpoint: add_eventfd\(\) runs in step 3\. Press again to run it\./);
  await page.locator('#walk .lgs-next-event').click();
  assert.ok(await position() >= 3, 'pressed again, it runs the step');
  // Removing a breakpoint from the keyboard: the focus goes back to the field, the list says none.
  await page.locator('#walk .lgs-bp-remove').focus();
  assert.equal(await page.locator('#walk .lgs-bp-remove').textContent(), 'Remove the breakpoint on add_eventfd()', 'its name says which');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#walk .lgs-bps').innerText(), /No breakpoints set/);
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-bp-func');
  assert.match(await live(), /^Breakpoint on add_eventfd\(\) removed\./);
  // Without it, play from step 2 runs step 3 and stops only at step 4's question.
  await openWalk('#lesson=10-rcu-copy-update&step=2');
  await fast();
  said = await untilPaused(() => page.locator('#walk .lgs-run').click());
  assert.equal(await position(), 3);
  assert.match(said, /^Paused at step 3: answer the question of step 4 first/);
  await noProblems(page);
});

test('Space plays and pauses (not while typing, not on a focused button); stepping by hand pauses play', async () => {
  // A lesson whose steps 2 and 3 ask nothing: slow play from step 1 takes step 2 at once, then waits 1.5 s
  // before step 3, so the second Space lands while it is still playing.
  const L = LESSONS.find((l) => l.steps.length >= 3 && !l.steps[1].question && !l.steps[2].question);
  await openWalk(`#lesson=${L.id}&step=1`);
  await page.locator('#walk .lgs-speed').selectOption('slow');
  await page.locator('#walk').focus();
  await page.keyboard.press(' ');
  assert.equal(await playing(), 'true');
  assert.match(await live(), /^Playing from step 1, slow/);
  assert.equal(await page.locator('#walk .lgs-run').innerText(), '❚❚ Pause');
  await page.keyboard.press(' ');
  assert.equal(await playing(), 'false');
  assert.match(await live(), /^Paused at step 2: you paused\.$/);
  assert.equal(await position(), 2);
  // Typing a space in the breakpoint field types it; it does not play.
  await page.locator('#walk .lgs-bp-func').focus();
  await page.keyboard.press(' ');
  assert.equal(await playing(), 'false');
  assert.equal(await page.locator('#walk .lgs-bp-func').inputValue(), ' ');
  await page.locator('#walk .lgs-bp-func').fill('');
  // Space on a focused button presses that button: on Play it plays.
  await page.locator('#walk .lgs-run').focus();
  await page.keyboard.press(' ');
  assert.equal(await playing(), 'true');
  // A step by hand (Back) pauses play, and the page says where it is.
  await page.locator('#walk .lgs-back').click();
  assert.equal(await playing(), 'false');
  assert.match(await live(), /^Step \d+ of \d+: /);
  assert.match(await page.locator('#walk .lgs-keys').innerText(), /Space play or pause/);
  await noProblems(page);
});

test('play and breakpoints: no serious or critical axe-core violation, light and dark', async () => {
  await openWalk('#lesson=09-eventfds&step=2');
  await page.locator('#walk .lgs-bp-func').fill('add_eventfd');
  await page.keyboard.press('Enter');
  await page.locator('#walk .lgs-bp-func').fill('eventfd_signal');
  await page.keyboard.press('Enter');
  assert.deepEqual(await page.locator('#walk .lgs-bp code').allInnerTexts(), ['add_eventfd()', 'eventfd_signal()']);
  assert.deepEqual(await axeSerious(page), []);
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axeSerious(page), []);
  await shot(page, 'play-controls-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await shot(page, 'play-controls');
  await noProblems(page);
});

test('shadow page tables are shown beside the Guest\'s own once paging is on', async () => {
  let seen = false;
  for (let step = 1; step <= 5 && !seen; step++) {
    await openWalk(`#lesson=19-shadow-page-tables&step=${step}`);
    const table = page.locator('#walk .lgs-paging');
    if (await table.count()) {
      seen = true;
      assert.match(await table.locator('caption').innerText(), /the Guest's own beside the Host's shadow/);
      const heads = await table.locator('thead th').allInnerTexts();
      assert.deepEqual(heads, ['virtual address', "Guest's pte", 'shadow pte']);
      assert.ok(await table.locator('tbody tr').count() >= 1);
    }
  }
  assert.ok(seen, 'some step of lesson 19 runs with paging on and shows the tables');
  await noProblems(page);
});

// The map's versions were a table; they are boxes and arrows now (issue 12), with the same story in words.
test('the eventfd map drawn: lg->eventfds points at the current version, freed ones greyed, in words too', async () => {
  await openWalk('#lesson=09-eventfds&step=1');
  const fig = page.locator('#walk .lgs-panel[data-panel="map"] .lgs-fig-map');
  assert.equal(await page.locator('#walk .lgs-panel[data-panel="map"]').getAttribute('open'), '', 'the step is about add_eventfd(): its map is open');
  const cls = (scope, id) => scope.locator(`g.box[data-id="${id}"]`).getAttribute('class');
  // INITIALIZE made the empty map #2 and add_eventfd() replaced it with #6 in this same step.
  assert.match(await cls(fig, 'v:6'), /current new/);
  assert.match(await cls(fig, 'v:2'), /freed new/);
  assert.equal(await fig.locator('g.arrow.ptr').count(), 1, 'one pointer: lg->eventfds');
  const words = await fig.locator('.lgs-fig-text').textContent();
  assert.match(words, /lg->eventfds points at map #6\. A map's number is its allocation in the account book/);
  assert.match(words, /map #2 \(0 entries, made by initialize\(\)\): freed by kfree\(\) after the grace period; new in this step\./);
  // One more add_eventfd() in free play: the current version is retired and freed, a bigger one published.
  await page.locator('#walk .lgs-play-start').click();
  for (const l of ['eventfd', 'write EVENTFD addr=0x8000 fd=5']) {
    await page.locator('#walk .lgs-play-line').fill(l);
    await page.keyboard.press('Enter');
  }
  const after = page.locator('#walk .lgs-play-state .lgs-fig-map');
  assert.match(await cls(after, 'v:6'), /freed changed/);
  const now = await after.locator('g.box.current').getAttribute('data-id');
  assert.match(await after.locator('.lgs-fig-text').textContent(), new RegExp(`map #${now.slice(2)} \\(2 entries, made by add_eventfd\\(\\)\\): current: new readers find it; new in this step`));
  await noProblems(page);
});

test('themes follow the system, the page, or a choice: the switch, the element\'s page and attribute, the iframe', async () => {
  const dark = 'rgb(22, 24, 28)';
  const light = 'rgb(255, 255, 255)';
  const bg = (p, sel) => p.evaluate((s) => {
    const host = document.querySelector(s.split(' >> ')[0]);
    const el = s.includes(' >> ') ? host.shadowRoot.querySelector(s.split(' >> ')[1]) : host;
    return getComputedStyle(el).backgroundColor;
  }, sel);
  // The walkthrough page: the system's theme, then the switch, remembered across a reload.
  await page.emulateMedia({ colorScheme: 'dark' });
  await openWalk('#lesson=02-initialize&step=1');
  assert.equal(await bg(page, '#walk .lgs'), dark, 'dark system, no choice: dark');
  await page.locator('#theme').selectOption('light');
  assert.equal(await bg(page, '#walk .lgs'), light, 'chosen light');
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#theme').inputValue(), 'light');
  assert.equal(await bg(page, '#walk .lgs'), light, 'the choice is remembered');
  await page.locator('#theme').selectOption('');
  assert.equal(await bg(page, '#walk .lgs'), dark, 'back to the system');
  // The element follows its page (data-theme on <html>), unless its own theme attribute says otherwise.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(server.url + 'example.html');
  await page.waitForFunction(() => document.querySelector('#first')?.dataset.ready === 'true');
  assert.equal(await bg(page, '#first >> .lgs'), light);
  await page.evaluate(() => { document.documentElement.dataset.theme = 'dark'; });
  await page.waitForFunction(() => getComputedStyle(document.querySelector('#first').shadowRoot.querySelector('.lgs')).backgroundColor === 'rgb(22, 24, 28)');
  await page.evaluate(() => document.querySelector('#second').setAttribute('theme', 'light'));
  assert.equal(await bg(page, '#second >> .lgs'), light, 'theme="light" wins over the dark page');
  assert.equal(await bg(page, '#first >> .lgs'), dark);
  // The iframe page takes ?theme=.
  await page.goto(server.url + 'embed.html?lesson=02-initialize&step=1&theme=dark');
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await bg(page, '#walk .lgs'), dark);
  await page.evaluate(() => localStorage.removeItem('lguest-sim-theme'));
  await noProblems(page);
});

test('the host code pane marks the lines a step ran, numbered as its kernel events', async () => {
  await openWalk('#lesson=09-eventfds&step=1');
  await page.locator('#walk .lgs-tab', { hasText: 'add_eventfd()' }).click();
  const marked = await page.locator('#walk .lgs-src .lgs-ranline').allInnerTexts();
  assert.ok(marked.length >= 4, `add_eventfd() lines marked: ${marked.length}`);
  const assign = marked.find((l) => l.includes('rcu_assign_pointer'));
  assert.ok(assign, marked.join('\n'));
  const k = Number(assign.match(/▶(\d+)/)[1]);
  await openPanel('events');
  const events = await page.locator('#walk .lgs-events li').allTextContents();
  assert.match(events[k - 1], /add_eventfd\(\).*rcu_assign_pointer\(lg->eventfds, #\d+\)/, `event ${k}`);
  assert.match(await page.locator('#walk .lgs-code').innerText(), /▶n marks the \d+ statements of add_eventfd\(\) behind event n of this step/);
  // The lines that only record events are not what the student reads; the statement they report is marked.
  assert.ok(!(await page.locator('#walk .lgs-src').innerText()).includes('k.ev('), 'no instrumentation in the listing');
  assert.match(assign, /lg\.eventfds = new;/);
  await noProblems(page);
});
