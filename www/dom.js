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

/**
 * Make `old` look like `neu` (a tree just built for the same place, with no listeners of its own in it) by
 * changing only what differs, and return the node to keep: `old` itself where the tags match, else `neu`.
 * Children are matched by `data-id` or `data-key` when they carry one, else by position; a node with
 * `data-whole` is replaced rather than changed inside. What is unchanged
 * is left alone, so the browser does not style and lay out again a whole picture or table for a few
 * changed labels or rows.
 */
export function morph(old, neu) {
  if (old.isEqualNode(neu)) return old;
  // A node that asks to be drawn whole (an arrow of the step's path, whose drawing is animated) is replaced.
  if (neu.nodeType === 1 && neu.hasAttribute('data-whole')) return neu;
  if (old.nodeType !== neu.nodeType || old.nodeName !== neu.nodeName || old.nodeType !== 1) {
    if (old.nodeType === 3 && neu.nodeType === 3) { old.data = neu.data; return old; }
    return neu;
  }
  for (const a of [...old.attributes]) if (!neu.hasAttribute(a.name)) old.removeAttribute(a.name);
  for (const a of neu.attributes) if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
  if (old.tagName === 'DETAILS') old.open = neu.open;
  morphChildren(old, [...neu.childNodes]);
  return old;
}

/** Make `parent`'s children after `after` (or all) the nodes `kids`, each morphed from its match among them. */
export function morphChildren(parent, kids, after = null) {
  const olds = [];
  for (let n = after ? after.nextSibling : parent.firstChild; n; n = n.nextSibling) olds.push(n);
  const key = (n) => (n.nodeType === 1 ? n.getAttribute('data-id') ?? n.getAttribute('data-key') : null);
  const byKey = new Map();
  for (const o of olds) { const k = key(o); if (k !== null && !byKey.has(k)) byKey.set(k, o); }
  const used = new Set();
  const want = kids.map((k, i) => {
    const kk = key(k);
    const o = kk !== null ? byKey.get(kk) : olds[i] && key(olds[i]) === null ? olds[i] : undefined;
    if (!o || used.has(o)) return k;
    used.add(o);
    return morph(o, k);
  });
  // Put them in order, moving only what is out of place; what is left of the old goes.
  let at = after ? after.nextSibling : parent.firstChild;
  for (const w of want) {
    if (at === w) { at = at.nextSibling; continue; }
    parent.insertBefore(w, at);
  }
  while (at) { const next = at.nextSibling; at.remove(); at = next; }
}
