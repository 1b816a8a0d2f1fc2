// What every script of the page shares to build the DOM: `h()` makes an element from a tag, its attributes
// and its children, putting text in through text nodes (never innerHTML, so nothing a student types or a
// lesson says can become markup); `hex()` writes a number as the kernel's printk would (`0x7000`); `uid()`
// numbers the ids that tie a label or a description to its field, unique however many walkthroughs a page
// holds. The lab page (app.js) and each pane of the walkthrough import them from here; nothing here knows
// what the simulator's state means.

/**
 * Build an element in `doc`: h(doc, 'td', { class: 'x', onclick: f }, 'text', child, [more, children]).
 * An attribute that is undefined, null or false is left out, `true` sets it empty, `on…` adds a listener;
 * children may be nested arrays, and undefined, null or false among them are skipped.
 */
export function h(doc, tag, attrs = {}, ...kids) {
  const el = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : doc.createTextNode(String(k)));
  }
  return el;
}

/** `h` bound to one document: const H = builder(doc); H('p', {}, 'text'). */
export const builder = (doc) => (...a) => h(doc, ...a);

/** A number as 32-bit unsigned hex: hex(28672) is '0x7000', hex(-1) is '0xffffffff'. */
export const hex = (n) => '0x' + (Number(n) >>> 0).toString(16);

let next = 0;
/** A number no other call on this page returns, for element ids (`lgs-gh-${uid()}`). */
export const uid = () => ++next;
