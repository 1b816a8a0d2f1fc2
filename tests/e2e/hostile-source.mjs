// A hostile Guest's source as the page's Guest editor takes it (shared by hostile-tasks.test.mjs and
// tests/bench/hostile.mjs).

import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './harness.mjs';

/** A hostile Guest's source as the page's editor takes it: `.include`s written in, macros expanded (the
 *  page's assembler has neither; tests/slices.rs does the same in Rust). */
export function hostileSource(name) {
  const dir = path.join(ROOT, 'tests/guests/hostile');
  const include = (file) => fs.readFileSync(path.join(dir, file), 'utf8').split('\n')
    .map((l) => { const m = l.trim().match(/^\.include "(.*)"$/); return m ? include(m[1]) : l; }).join('\n');
  const macros = new Map();
  const out = [];
  const lines = include(`${name}.S`).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    const head = t.match(/^\.macro\s+(\w+)\s*(.*)$/);
    if (head) {
      const body = [];
      while (++i < lines.length && lines[i].trim() !== '.endm') body.push(lines[i]);
      macros.set(head[1], { params: head[2].split(/[\s,]+/).filter(Boolean), body });
      continue;
    }
    const word = t.split(/\s+/)[0];
    const m = macros.get(word);
    if (!m) { out.push(lines[i]); continue; }
    const args = t.slice(word.length).split(',').map((a) => a.trim()).filter(Boolean);
    for (let b of m.body) { m.params.forEach((p, k) => { b = b.replaceAll(`\\${p}`, args[k]); }); out.push(b); }
  }
  return out.join('\n');
}

/** Put `text` in the editor `locator` names as a paste does: one change of its value, then `input`
 *  (Playwright's fill inserts it a line at a time, which is slow for long texts and a long task of its own). */
export function setText(locator, text) {
  return locator.evaluate((el, t) => { el.value = t; el.dispatchEvent(new Event('input', { bubbles: true })); }, text);
}
