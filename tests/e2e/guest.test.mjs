// End-to-end test of the Guest CPU pane in headless Chromium: a step's Guest work shown one instruction at a
// time (buttons, keys, slider, number), a run to a Guest address or label, Guest-address breakpoints that stop
// Play inside a step, the link that reopens an instruction, the <lguest-sim> element's instruction API, and a
// free-play Guest of ten million instructions stepped back and jumped about in. Served with the strict CSP;
// axe-core finds no serious or critical violation on the pane. Screenshots go to tests/e2e/artifacts/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, server, ctx, page, watch, shot, live, openWalk, noProblems, AXE } from './harness.mjs';

useBrowser('guest', 15_000);

const pane = (scope = '#walk .lgs-state') => page.locator(`${scope} .lgs-guest`);
const insn = (scope) => pane(scope).locator('.lgs-insn-num').inputValue().then(Number);
const reg = async (name, scope) => {
  const rows = await pane(scope).locator('.lgs-regs tr').evaluateAll((trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent]));
  return Number(rows.find(([n]) => n === name)?.[1]);
};
// textContent, not innerText: Chromium's innerText is empty for content off screen that content-visibility
// leaves unrendered (free play's state after Undo, say, below the fold).
const current = (scope) => pane(scope).locator('.lgs-disasm .cur').textContent();

test('a step that ran Guest code: its instructions one at a time, back and forth, by button, key and number', async () => {
  await openWalk('#lesson=16-a-real-guest&step=2');
  const head = await pane().locator('h3').innerText();
  const m = head.match(/instruction (\d+) of (\d+) in this step/);
  assert.ok(m, head);
  const total = Number(m[2]);
  assert.equal(Number(m[1]), total, 'the pane opens at the end of the step, as the rest of the page shows it');
  assert.match(await pane().innerText(), /Just ran: int \$0x1f/);
  // Back one: the instruction before the hypercall, and eax still holds the call number being loaded.
  await pane().locator('.lgs-insn-back').click();
  assert.equal(await insn(), total - 1);
  assert.match(await current(), /int \$0x1f/, 'EIP is at the int $0x1f not yet run');
  assert.match(await live(), new RegExp(`^Guest instruction ${total - 1} of ${total}\\. Just ran `));
  // The first: nothing run yet in this step; Last returns.
  await pane().locator('.lgs-insn-first').click();
  assert.equal(await insn(), 0);
  assert.match(await pane().innerText(), /Nothing has run yet in this step/);
  assert.equal(await pane().locator('.lgs-insn-back').isDisabled(), true);
  // Keys: ] forward, [ back (the focus in the walkthrough, not in a field).
  await page.locator('#walk .lgs-step-title').click();
  await page.keyboard.press(']');
  await page.keyboard.press(']');
  assert.equal(await insn(), 2);
  await page.keyboard.press('[');
  assert.equal(await insn(), 1);
  // Two before the end: mov $LHCALL_NOTIFY, %eax has run, mov $hello, %ebx not yet.
  await pane().locator('.lgs-insn-num').fill(String(total - 2));
  await pane().locator('.lgs-insn-num').press('Enter');
  assert.equal(await reg('eax'), 17, 'eax holds LHCALL_NOTIFY');
  assert.match(await current(), /mov \$0x[0-9a-f]+,%ebx/);
  // A number typed in the field, and the slider.
  await pane().locator('.lgs-insn-num').fill(String(total));
  await pane().locator('.lgs-insn-num').press('Enter');
  assert.equal(await insn(), total);
  await pane().locator('.lgs-insn-range').fill('0');
  assert.equal(await insn(), 0);
  // Typing in the address field: ] is a character there, not a step.
  await pane().locator('.lgs-insn-addr').focus();
  await page.keyboard.press(']');
  assert.equal(await insn(), 0);
  await shot(page, 'guest-pane-lesson16');
  await noProblems(page);
});

test('run to a Guest label or address; an unknown one is explained', async () => {
  await openWalk('#lesson=17-a-console-device&step=5');
  const total = Number((await pane().locator('h3').innerText()).match(/of (\d+)/)[1]);
  await pane().locator('.lgs-insn-first').click();
  await pane().locator('.lgs-insn-addr').fill('sent');
  await pane().locator('.lgs-insn-find button').click();
  const at = await insn();
  assert.ok(at > 0 && at < total, `stopped inside the step (at ${at})`);
  assert.match(await pane().locator('.lgs-disasm').innerText(), /sent:\n→/, 'EIP is at the label, about to run it');
  assert.match(await live(), /Stopped at Guest instruction \d+ of \d+: the Guest is about to run 0x/);
  // Again from there: the Guest does not come back to `sent` in this step.
  await pane().locator('.lgs-insn-find button').click();
  assert.equal(await insn(), at);
  assert.match(await pane().locator('.lgs-bp-err').innerText(), /does not reach 0x[0-9a-f]+ again in this step/);
  await pane().locator('.lgs-insn-addr').fill('nowhere');
  await pane().locator('.lgs-insn-find button').click();
  assert.match(await pane().locator('.lgs-bp-err').innerText(), /nowhere is not an address or a label of this Guest program/);
  // The link names the instruction, and reopens it.
  const href = await page.locator('#walk .lgs-link').getAttribute('href');
  assert.match(href, new RegExp(`&step=5&insn=${at}$`));
  const other = await ctx.newPage();
  watch(other);
  await other.goto(new URL(href, server.url).href);
  await other.waitForSelector('body[data-ready]');
  assert.equal(await other.locator('#walk .lgs-state .lgs-insn-num').inputValue(), String(at));
  await other.close();
  // Memory as the Guest sees it, by label.
  await pane().locator('.lgs-mem-addr').fill('msg');
  await pane().locator('.lgs-mem-form button').click();
  const hexText = await pane().locator('.lgs-mem-out').innerText();
  assert.match(hexText, /48 65 6c 6c/, '"Hell" of "Hello" in memory at msg');
  await noProblems(page);
});

test('a breakpoint on a Guest label: Play stops inside the step that reaches it, at that instruction', async () => {
  await openWalk('#lesson=17-a-console-device&step=0');
  const field = page.locator('#walk .lgs-bp-func');
  await field.fill('frobnicate');
  await page.locator('#walk .lgs-bp-add').click();
  assert.match(await page.locator('#walk .lgs-bp-err').innerText(), /nor a Guest address/);
  await field.fill('sent');
  await page.locator('#walk .lgs-bp-add').click();
  assert.match(await page.locator('#walk .lgs-bps').innerText(), /Guest sent \(0x[0-9a-f]+\)/);
  await page.locator('#walk .lgs-speed').selectOption('fast');
  // Play; answer questions as they come (they stop play first), until the breakpoint stops it.
  for (let i = 0; i < 12; i++) {
    await page.locator('#walk .lgs-run').click();
    await page.waitForFunction(() => document.querySelector('#walk')?.dataset.playing === 'false', null, { timeout: 20_000 });
    const said = await live();
    const choice = page.locator('#walk .lgs-choice').first();
    if (await choice.count()) {
      if (/Guest reaches a breakpoint in step 5, and its question comes first/.test(said)) { await choice.click(); break; }
      await choice.click();
    }
    if (/about to run/.test(await live())) break;
  }
  // Step 5 has a question: Play stops at it first, saying a breakpoint waits behind it; the answer reveals
  // the step with the Guest CPU pane stopped at the breakpoint.
  assert.match(await live(), /Paused at step \d+: breakpoint: in step 5 the Guest is about to run sent \(0x[0-9a-f]+\) \(Guest instruction \d+ of \d+\)/);
  assert.equal(await page.locator('#walk').getAttribute('data-position'), '5');
  assert.match(await pane().locator('.lgs-disasm').innerText(), /sent:\n→/);
  await shot(page, 'guest-breakpoint-play');
  // The questions answered, Play from the start stops inside step 5 by itself, and so does run-to-next-read().
  await page.keyboard.press('Home');
  await page.locator('#walk .lgs-run').click();
  await page.waitForFunction(() => document.querySelector('#walk')?.dataset.playing === 'false', null, { timeout: 20_000 });
  assert.match(await live(), /^Paused at step 5: breakpoint: in step 5 the Guest is about to run sent/);
  assert.match(await pane().locator('.lgs-disasm').innerText(), /sent:\n→/);
  await page.keyboard.press('Home');
  for (let i = 0; i < 6 && !/^Stopped: breakpoint/.test(await live()); i++) await page.keyboard.press('e');
  assert.match(await live(), /^Stopped: breakpoint: in step 5 the Guest is about to run sent .*Press again to go on\.$/);
  assert.equal(await page.locator('#walk').getAttribute('data-position'), '5');
  // Removing it by its button puts the focus on the field.
  await page.locator('#walk .lgs-bp-remove').click();
  assert.match(await page.locator('#walk .lgs-bps').innerText(), /No breakpoints set/);
  await noProblems(page);
});

test('the <lguest-sim> element steps Guest instructions from script', async () => {
  await page.goto(server.url + 'example.html');
  await page.waitForFunction(() => document.querySelector('#guest')?.dataset.ready === 'true');
  const got = await page.evaluate(async () => {
    const el = document.querySelector('#guest');
    await el.ready;
    const end = el.instructionPosition;
    el.backInstruction();
    const back = el.instructionPosition;
    el.instruction(0);
    const zero = el.instructionPosition;
    el.runToAddress('start');
    return { end, total: el.instructions, back, zero, after: el.instructionPosition };
  });
  assert.ok(got.total > 3 && got.end === got.total, JSON.stringify(got));
  assert.equal(got.back, got.total - 1);
  assert.equal(got.zero, 0);
  assert.equal(got.after, 0, 'the Guest does not come back to start');
  await noProblems(page);
});

test('free play: a Guest that runs ten million instructions, stepped back and jumped about in', async () => {
  await openWalk('#lesson=16-a-real-guest&step=0');
  await page.locator('#walk .lgs-play-start').click();
  const hello = await page.locator('#walk .lgs-asm').inputValue();
  const n = 3_400_000;
  const spin = hello.replace('\t# NOTIFY with the address', `\tmov $${n}, %ecx\ntop:\tmov %ecx, counter\n\tdec %ecx\n\tjnz top\n\n\t# NOTIFY with the address`)
    .replace('\t.data\n', '\t.data\ncounter: .long 0\n');
  assert.notEqual(spin, hello);
  await page.locator('#walk .lgs-asm').fill(spin);
  await page.locator('#walk .lgs-asm-load').click();
  const scope = '#walk .lgs-play-state';
  const total = async () => Number((await pane(scope).locator('h3').textContent()).match(/of (\d+)/)[1]);
  // read() runs the Guest in the page's slices (one task each, with progress and Stop) until its NOTIFY;
  // the line's Guest CPU pane holds its last slice.
  const line = page.locator('#walk .lgs-play-line');
  await line.fill('read');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^`read` returned 4 notify=.* after 10\.\d M instructions in \d+ slices$/.test(document.querySelector('#walk .lgs-play-progress')?.textContent ?? ''), null, { timeout: 60_000 });
  assert.match(await page.locator('#walk .lgs-play-log li').last().innerText(), /^✓\n.*\nread → 4 notify=.*\n[^]*went on in \d+ slices/);
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'lgs-play-line', 'the focus is back on the line');
  const units = await total();
  assert.ok(units > 5_000, `${units} units in the last slice`);
  assert.equal(await insn(scope), units, 'the pane opens at the end of the line');
  for (let k = 0; k < 5; k++) await pane(scope).locator('.lgs-insn-back').click();
  assert.equal(await insn(scope), units - 5);
  // In the loop ecx goes down by one every three instructions (mov, dec, jnz), wherever the slice began.
  const ecxAt = async (p) => {
    await pane(scope).locator('.lgs-insn-num').fill(String(p));
    await pane(scope).locator('.lgs-insn-num').press('Enter');
    assert.equal(await insn(scope), p);
    return reg('ecx', scope);
  };
  for (const p of [7, 1234, Math.floor(units / 2)]) assert.equal(await ecxAt(p) - await ecxAt(p + 3), 1, `ecx three instructions after ${p}`);
  await pane(scope).scrollIntoViewIfNeeded();
  await shot(page, 'guest-free-play-ten-million');
  // A line without Guest code has no pane; undoing it brings back the wait's, at its end.
  await line.fill('eventfd');
  await page.keyboard.press('Enter');
  assert.equal(await pane(scope).count(), 0);
  await page.locator('#walk .lgs-play-undo').click();
  assert.equal(await total(), units);
  assert.equal(await insn(scope), units);
  await noProblems(page);
});

test('the Guest CPU pane: no serious or critical axe-core violation, light and dark', async () => {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await openWalk('#lesson=17-a-console-device&step=5&insn=3');
    await page.evaluate(AXE);
    const bad = await page.evaluate(async () => {
      const r = await window.axe.run(document.querySelector('#walk .lgs-guest'), { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
      return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id}: ${x.help} at ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(bad, [], `${scheme}: axe-core`);
    await shot(page, `guest-pane-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await noProblems(page);
});
