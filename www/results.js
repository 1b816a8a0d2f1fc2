// The Launcher's lines and what the kernel returned: one list item per `Step` result the wasm sends, ✓ or ✗
// in words as well as colour. The lesson commentary lists a step's results; free play logs one per line.
// Nothing is judged here: `ok` comes from Rust.

import { builder } from './dom.js';

/**
 * One result as an `<li>`: ✓ or ✗, the line, → its result, the expected value if it differed, why.
 * `who`: what ✓ and ✗ hold the result to, in the words a screen reader hears ("the lesson": the lesson's
 * step; "the line": a line typed with no lesson behind it); `meaning(errno)`: an errno's meaning in words
 * (Simulator.errnoMeaning), shown beside it, or nothing.
 */
export function resultItem(doc, r, { who = 'the lesson', meaning = null } = {}) {
  const H = builder(doc);
  const has = r.result !== null && r.result !== undefined;
  const e = r.sys?.errno;
  const check = r.call === 'expect';
  const means = e && meaning ? meaning(e) : null;
  return H('li', { class: `lgs-res ${r.ok ? 'ok' : 'bad'}`, 'data-line': r.line, 'data-ok': String(r.ok) },
    H('span', { class: 'lgs-mark' }, r.ok ? '✓' : '✗', H('span', { class: 'vh' }, r.ok ? ` as ${who} says: ` : ` not as ${who} says: `)),
    H('code', { class: 'lgs-src-line' }, r.action),
    has ? [' → ', H('code', { class: `lgs-result${e ? ' errno' : ''}` }, r.result)] : check ? (r.ok ? ' holds' : '') : '',
    r.expected && !r.ok ? H('span', { class: 'lgs-expected' }, ` (${who} expects ${r.expected})`) : '',
    r.sys?.why ? H('div', { class: 'lgs-why' }, e ? [H('strong', {}, means ? `${e} (${means}): ` : `${e}: `), r.sys.why] : r.sys.why) : '',
    !r.ok && r.message ? H('div', { class: 'lgs-why bad' }, r.message) : (r.ok && r.message ? H('div', { class: 'lgs-why' }, r.message) : ''));
}

/** A line that does not parse, as an `<li>` beside the results: it ran nothing, so it is no step. */
export function parseErrorItem(doc, text, message) {
  const H = builder(doc);
  return H('li', { class: 'lgs-res bad lgs-parse-err', 'data-ok': 'false' }, H('span', { class: 'lgs-mark' }, '✗'), H('code', {}, text), ` — line does not parse: ${message}`);
}

/** A step's results under their heading, in order; ✓ and ✗ there judge the simulator against the lesson,
 *  not the student (whose answer has its own box). */
export function resultList(doc, results) {
  const H = builder(doc);
  return H('div', { class: 'lgs-results' }, H('h4', {}, 'The Launcher’s lines and what the kernel returned'),
    H('p', { class: 'lgs-hint' }, '✓: the kernel returned what the lesson says it does (the lesson is checked, not you).'),
    H('ol', { class: 'lgs-reslist' }, results.map((r) => resultItem(doc, r))));
}
