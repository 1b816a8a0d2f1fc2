// The Launcher's lines and what the kernel returned: one list item per `Step` result the wasm sends, ✓ or ✗
// in words as well as colour. The lesson commentary lists a step's results; free play logs one per line.
// Nothing is judged here: `ok` comes from Rust.

import { builder } from './dom.js';

/** One result as an `<li>`: ✓ or ✗, the line, → its result, the expected value if it differed, why. */
export function resultItem(doc, r) {
  const H = builder(doc);
  const has = r.result !== null && r.result !== undefined;
  const e = r.sys?.errno;
  const check = r.call === 'expect';
  return H('li', { class: `lgs-res ${r.ok ? 'ok' : 'bad'}`, 'data-line': r.line, 'data-ok': String(r.ok) },
    H('span', { class: 'lgs-mark' }, r.ok ? '✓' : '✗', H('span', { class: 'vh' }, r.ok ? ' as the lesson says: ' : ' not as the lesson says: ')),
    H('code', { class: 'lgs-src-line' }, r.action),
    has ? [' → ', H('code', { class: `lgs-result${e ? ' errno' : ''}` }, r.result)] : check ? (r.ok ? ' holds' : '') : '',
    r.expected && !r.ok ? H('span', { class: 'lgs-expected' }, ` (the lesson expects ${r.expected})`) : '',
    r.sys?.why ? H('div', { class: 'lgs-why' }, e ? [H('strong', {}, `${e}: `), r.sys.why] : r.sys.why) : '',
    !r.ok && r.message ? H('div', { class: 'lgs-why bad' }, r.message) : (r.ok && r.message ? H('div', { class: 'lgs-why' }, r.message) : ''));
}

/** A step's results under their heading, in order; ✓ and ✗ there judge the simulator against the lesson,
 *  not the student (whose answer has its own box). */
export function resultList(doc, results) {
  const H = builder(doc);
  return H('div', { class: 'lgs-results' }, H('h4', {}, 'The Launcher’s lines and what the kernel returned'),
    H('p', { class: 'lgs-hint' }, '✓: the kernel returned what the lesson says it does (the lesson is checked, not you).'),
    H('ol', { class: 'lgs-reslist' }, results.map((r) => resultItem(doc, r))));
}
