// What the page builds its DOM with: `h()` makes an element, text always through text nodes (never
// innerHTML, so nothing typed or written in a lesson becomes markup); `hex()` writes a number as 32-bit hex
// (0x7000); `uid()` numbers the ids that tie a label to its field; `sharedKey()` the keys every page shares. app.js and every pane import them from here.

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

// The keys every page shares (the walkthrough, the lab, the author page): ? the page's keys, / the field to
// type in, Escape out of a field, → n on, ← b p back. Each page adds its own and lists them in its help.

export const typing = (t) => Boolean(t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)));
/** Space activates a focused button, link or summary itself: only elsewhere is it a shortcut. */
export const activates = (t) => Boolean(t && (/^(BUTTON|A|SUMMARY)$/.test(t.tagName) || /^(button|link|checkbox|radio|tab|menuitem|option|switch)$/.test(t.getAttribute?.('role') ?? '')));
/** Where key press `e` began, inside a shadow root too. */
export const origin = (e) => e.composedPath?.()[0] ?? e.target;
export const plain = (e) => !(e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey);

/** The shared keys of a page's keydown handler (`next` and `back` where it has them); true if it took `e`. */
export function sharedKey(e, { help, field, leave, back, next }) {
  if (!plain(e)) return false;
  const t = origin(e);
  if (e.key === 'Escape' && typing(t)) { e.preventDefault(); leave(t); return true; }
  if (typing(t)) return false;
  const f = e.key === '/' && field();
  const act = { '?': help, '/': () => { f.focus(); if (f.tagName === 'INPUT') f.select(); }, ArrowRight: next, n: next, ArrowLeft: back, b: back, p: back }[e.key];
  if (!act || (e.key === '/' && !f)) return false;
  e.preventDefault();
  act();
  return true;
}
