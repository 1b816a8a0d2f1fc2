// What the page builds its DOM with: `h()` makes an element, text always through text nodes (never
// innerHTML, so nothing typed or written in a lesson becomes markup); `hex()` writes a number as 32-bit hex
// (0x7000); `uid()` numbers the ids that tie a label to its field. app.js and every pane import them from here.

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
