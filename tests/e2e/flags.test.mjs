// End-to-end test of the Guest CPU pane's flags in headless Chromium: a flag the last instruction left
// architecturally undefined (OF after a shift by more than 1, AF after any shift) is shown as undefined (`OF?`, greyed, with Rust's sentence as its title and as
// text a screen reader hears), never as a value; the same flag after an instruction that defines it is
// shown as set or clear. The Guest is lesson 16's hello.S with three instructions added, run in free play.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, page, shot, openWalk, noProblems } from './harness.mjs';

useBrowser('flags', 15_000);

const scope = '#walk .lgs-play-state';
const pane = () => page.locator(`${scope} .lgs-guest`);
/** The flags as the pane shows them: [text, class, title] of each. */
const flags = () => pane().locator('abbr.flag').evaluateAll((as) => as.map((a) => [a.textContent, a.className, a.title]));
/** Stop the pane at a label of the program: the instruction before it has just run. */
async function stopAt(label) {
  await pane().locator('.lgs-insn-first').click();
  await pane().locator('.lgs-insn-addr').fill(label);
  await pane().locator('.lgs-insn-find button').click();
  assert.match(await pane().locator('.lgs-disasm').innerText(), new RegExp(`${label}:\\n→`), `EIP at ${label}`);
}

test('OF after a shift by 2 is undefined in the Guest CPU pane; after a shift by 1 it is a value', async () => {
  await openWalk('#lesson=16-a-real-guest&step=0');
  await page.locator('#walk .lgs-play-start').click();
  const hello = await page.locator('#walk .lgs-asm').inputValue();
  // 0x40000000 << 2: the result is 0 (ZF set, CF the last bit out: 1); OF is defined only for a count of 1.
  const prog = hello.replace('\t# NOTIFY with the address',
    '\tmov $0x40000000, %eax\n\tshl $2, %eax\nmulti:\tmov $0x40000000, %eax\n\tshl $1, %eax\nsingle:\tnop\n\n\t# NOTIFY with the address');
  assert.notEqual(prog, hello, 'the program was changed');
  await page.locator('#walk .lgs-asm').fill(prog);
  await page.locator('#walk .lgs-asm-load').click();
  const line = page.locator('#walk .lgs-play-line');
  await line.fill('read');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /read → 4 notify=/.test(document.querySelector('#walk .lgs-play-log li:last-child')?.textContent ?? ''), null, { timeout: 30_000 });

  await stopAt('multi');
  assert.match(await pane().locator('.lgs-last').innerText(), /Just ran: shl \$(0x)?2,%eax/);
  const multi = await flags();
  const of = multi.find(([t]) => t.startsWith('OF'));
  assert.ok(of, `an OF cell in ${JSON.stringify(multi)}`);
  assert.equal(of[0], 'OF? (OF undefined after shl by 2: vendors differ)', 'shown as undefined, with the reason as text');
  assert.match(of[1], /\bundef\b/);
  assert.equal(of[2], 'OF undefined after shl by 2: vendors differ');
  // AF is undefined after every shift by a nonzero count, OF after one by more than 1.
  assert.deepEqual(multi.filter(([, c]) => /\bundef\b/.test(c)).map(([t]) => t.slice(0, 3)), ['AF?', 'OF?']);
  // The flags a shift by 2 does define are values: CF (the last bit shifted out) set, ZF set.
  assert.deepEqual(multi.filter(([t]) => /^(CF|cf|ZF|zf)$/.test(t)).map(([t]) => t), ['CF', 'ZF']);
  await pane().scrollIntoViewIfNeeded();
  await shot(page, 'flags-of-undefined');

  await stopAt('single');
  assert.match(await pane().locator('.lgs-last').innerText(), /Just ran: shl \$?(0x)?1?,?%eax/);
  const single = await flags();
  // A shift by 1 defines OF; AF stays undefined after any shift by a nonzero count.
  assert.deepEqual(single.filter(([, c]) => /\bundef\b/.test(c)).map(([t]) => t.slice(0, 3)), ['AF?'], JSON.stringify(single));
  // 0x40000000 << 1 = 0x80000000: the sign changed, so OF is set (CF ^ the new top bit: 0 ^ 1).
  const of1 = single.find(([t]) => t === 'OF' || t === 'of');
  assert.equal(of1?.[0], 'OF');
  assert.equal(of1?.[2], 'overflow: set');
  await noProblems(page);
});
