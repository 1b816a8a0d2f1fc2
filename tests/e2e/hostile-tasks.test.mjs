// The worst inputs on the real page (issue 16), in headless Chromium: each worst Guest of tests/guests/hostile/
// loaded into free play through its Guest editor and run (`read`) through the page's own UI, slicing for a
// while, then stopped; and a free-play script of 10,000 lines. A long-task observer records every task: none
// may pass the bound, and the longest is printed for each input (the target is 50 ms; the bound,
// harness.mjs's LONG_TASK_BOUND_MS, fails only work done in one go: see there).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, page, openWalk, noProblems, LONG_TASK_BOUND_MS } from './harness.mjs';
import { hostileSource, setText } from './hostile-source.mjs';

useBrowser('hostile-tasks', 20_000);

const BOUND_MS = LONG_TASK_BOUND_MS;
const WORST = ['near_slice', 'irq_storm', 'pf_storm', 'selfmod'];

/** Start recording the page's long tasks afresh. */
const observe = () => page.evaluate(() => {
  window.__longest = 0;
  window.__observer?.disconnect();
  window.__observer = new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); });
  window.__observer.observe({ type: 'longtask', buffered: false });
});
const longest = () => page.evaluate(() => window.__longest);

for (const name of WORST) {
  test(`${name}: read in slices through the page, progress in words, Stop at a clean point, Undo; no task over ${BOUND_MS} ms`, async () => {
    await openWalk('#lesson=01-meet-dev-lguest&step=0');
    await page.locator('#walk .lgs-play-start').click();
    await page.locator('#walk .lgs-asm').fill(hostileSource(name));
    await page.locator('#walk .lgs-asm-load').click();
    assert.equal(await page.locator('#walk .lgs-asm-err').isHidden(), true, `${name} assembles`);
    assert.deepEqual(await page.locator('#walk .lgs-play-log .lgs-result').allInnerTexts(), ['3', '12']);
    await observe();
    const line = page.locator('#walk .lgs-play-line');
    await line.fill('read');
    await page.keyboard.press('Enter');
    const progress = page.locator('#walk .lgs-play-progress');
    await page.locator('#walk .lgs-play-stop').waitFor();
    // Let it slice for a while: the words move on as it goes.
    await page.waitForTimeout(800);
    const first = await progress.innerText();
    assert.match(first, /^running the Guest: [\d.]+ M instructions so far in \d+ slices, main still asleep in its call \(`read`\)/);
    await page.waitForTimeout(800);
    assert.notEqual(await progress.innerText(), first, 'the progress moves on');
    await page.locator('#walk .lgs-play-stop').click();
    const said = await progress.innerText();
    assert.match(said, /^stopped: `read` ran [\d.]+ M instructions in \d+ slices and main is still asleep in its call\. Type wait to go on, or Undo/);
    assert.equal(await page.locator('#walk .lgs-play-stop').count(), 0, 'no Stop once stopped');
    assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-play-line', 'the focus is back on the line');
    assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), /^✓\n.*\nread → blocked\n/);
    const ms = await longest();
    console.log(`# ${name}: longest task ${ms ? `${ms.toFixed(0)} ms` : "under 50 ms (no long task)"} while it ran in slices`);
    assert.ok(ms <= BOUND_MS, `${name}: no long task (longest ${ms} ms)`);
    // Undo takes the read back with all its slices.
    await page.locator('#walk .lgs-play-undo').click();
    assert.deepEqual(await page.locator('#walk .lgs-play-log .lgs-result').allInnerTexts(), ['3', '12']);
    assert.equal(await progress.innerText(), '');
    await noProblems(page);
  });
}

test(`a free-play script of 10,000 lines, run through the page's Simulator in tasks of about 16 ms: no task over ${BOUND_MS} ms`, async () => {
  await openWalk('#lesson=01-meet-dev-lguest&step=0');
  await observe();
  const r = await page.evaluate(async () => {
    const { Simulator } = await import('./pkg/lguest_sim.js');
    const lines = ['open', 'write INITIALIZE', 'guest init 0x5000', 'eventfd', 'write EVENTFD addr=0x7000 fd=4', 'guest notify 0x7000',
      'read', 'wait', 'write IRQ 3', 'signal', 'wait', 'close 4', '# a comment', 'bogus line'];
    const sim = new Simulator(0);
    const budget = Simulator.sliceBudget();
    let i = 0;
    let ran = 0;
    let slowest = 0;
    while (i < 10_000) {
      await new Promise((res) => setTimeout(res, 0));
      const t0 = performance.now();
      while (i < 10_000 && performance.now() - t0 < 16) {
        const t = performance.now();
        const s = sim.execWithBudget(lines[i % lines.length], budget);
        // The page builds a view after each line; every tenth here keeps the test to a minute or so.
        if (s && s.source !== undefined && ran++ % 10 === 0) sim.view();
        slowest = Math.max(slowest, performance.now() - t);
        i++;
      }
    }
    sim.free();
    return { ran, slowest };
  });
  const ms = await longest();
  console.log(`# 10,000 free-play lines: ${r.ran} ran, the slowest line ${r.slowest.toFixed(1)} ms, longest task ${ms ? `${ms.toFixed(0)} ms` : "under 50 ms"}`);
  assert.ok(r.ran > 7_000, `${r.ran} lines ran`);
  assert.ok(ms <= BOUND_MS, `no long task (longest ${ms} ms)`);
  await noProblems(page);
});

test(`the Guest editor: a 300 KB paste is refused in words and the text before it kept; a long source is numbered only where it is in view; the assembler's item limit reached with .rept assembles; no task over ${BOUND_MS} ms`, async () => {
  await openWalk('#lesson=01-meet-dev-lguest&step=0');
  await page.locator('#walk .lgs-play-start').click();
  const editor = page.locator('#walk .lgs-asm');
  const gutter = page.locator('#walk .lgs-asm-lines');
  const before = await editor.inputValue();
  await observe();
  // What a paste does to a textarea: its value changes, then `input`.
  const huge = Array.from({ length: 30_000 }, (_, i) => ['movl $1, %eax', 'nop', 'addl %ebx, %eax', '.byte 1'][i % 4]).join('\n');
  await setText(editor, huge);
  assert.equal(await editor.inputValue(), before, 'the text before the paste is kept');
  assert.match(await page.locator('#walk .lgs-asm-err').innerText(), /^The editor holds at most 32 KB of source, and that would have made it 3\d\d KB, so it was not taken: .*\.rept N … \.endr\.$/);
  // 2,500 lines (about 24 KB) are taken; the gutter numbers the lines in view, and follows the scrolling.
  const long = Array.from({ length: 2500 }, (_, i) => (i % 2 ? 'nop' : `movl $${i}, %eax`)).join('\n');
  await setText(editor, long);
  assert.equal(await editor.inputValue(), long);
  const shown = (await gutter.textContent()).split('\n');
  assert.ok(shown.length >= 12 && shown.length < 60, `${shown.length} numbers shown, not 2,500`);
  assert.equal(shown[0], '1');
  await editor.evaluate((el) => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); });
  await page.waitForFunction(() => document.querySelector('#walk .lgs-asm-lines').textContent.split('\n').at(-1) === '2500');
  const end = (await gutter.textContent()).split('\n');
  assert.equal(Number(end[0]) + end.length - 1, 2500, 'the numbers in view run to the last line');
  // The number beside a line is that line's: the gutter's first number sits level with the editor's top line.
  const lineOf = await editor.evaluate((el) => Math.floor(el.scrollTop / parseFloat(getComputedStyle(el).lineHeight)) + 1);
  assert.equal(Number(end[0]), lineOf);
  // The item limit, reached with .rept (tests/asm_hostile.rs's alternating source), assembles and runs.
  await editor.fill('.rept 5000\n.text\nnop\n.data\n.byte 1\n.endr\nstart:\nmovl $0, %eax\n');
  await page.locator('#walk .lgs-asm-load').click();
  await page.waitForFunction(() => document.querySelector('#walk .lgs-play-log li') || !document.querySelector('#walk .lgs-asm-err')?.hidden);
  assert.equal(await page.locator('#walk .lgs-asm-err').isHidden(), false, 'one statement over the limit');
  assert.match(await page.locator('#walk .lgs-asm-err').innerText(), /the program expands to more than 20000 statements and labels/);
  await editor.fill('.rept 4999\n.text\nnop\n.data\n.byte 1\n.endr\n');
  await page.locator('#walk .lgs-asm-load').click();
  assert.equal(await page.locator('#walk .lgs-asm-err').isHidden(), true, 'at the limit it assembles');
  assert.deepEqual(await page.locator('#walk .lgs-play-log .lgs-result').allInnerTexts(), ['3', '12']);
  const ms = await longest();
  console.log(`# the Guest editor: longest task ${ms ? `${ms.toFixed(0)} ms` : 'under 50 ms (no long task)'}`);
  assert.ok(ms <= BOUND_MS, `no long task (longest ${ms} ms)`);
  await noProblems(page);
});
