// The keys every page shares, and what decides whether a key press is a shortcut at all. The walkthrough
// (index.html, embed.html, each <lguest-sim> element and the author page's preview), the lab (lab.html)
// and the author page (author.html) give the same key the same meaning wherever it makes sense:
//   ?            the page's keys (its help, focused, and said in its live region)
//   /            the field to type in (the lab's console, free play's line, the lesson's text, Go to step)
//   Escape       out of the field being typed in, back to the page's keys
//   → or n       step on          ← or b (or p)   step back (in the lab: take back the last line)
// A page adds its own (the walkthrough's e, Space, Home, End, g, [ ], B and 1–9) and lists them all in its help.

/** Whether the key press `e` came while typing in a field (its own keys are the field's). */
export const typing = (t) => Boolean(t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)));

/** Space activates a focused button, link or summary itself: only elsewhere is it a shortcut. */
export const activates = (t) => Boolean(t && (/^(BUTTON|A|SUMMARY)$/.test(t.tagName) || /^(button|link|checkbox|radio|tab|menuitem|option|switch)$/.test(t.getAttribute?.('role') ?? '')));

/** The element the key press `e` started at, inside a shadow root too. */
export const origin = (e) => e.composedPath?.()[0] ?? e.target;

/** Whether `e` is a key press a page's shortcuts may take: not with Ctrl, Alt or Meta, not taken already. */
export const plain = (e) => !(e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey);

/**
 * The shared keys' part of a page's keydown handler: `?` (help()), `/` (field(), the element to type in),
 * Escape in a field (leave(): where the focus goes instead). True if it took the key (and prevented its
 * default). `back` and `next` are the page's own, since not every page has both.
 */
export function sharedKey(e, { help, field, leave, back, next }) {
  if (!plain(e)) return false;
  const t = origin(e);
  if (e.key === 'Escape') {
    if (!typing(t)) return false;
    e.preventDefault();
    leave(t);
    return true;
  }
  if (typing(t)) return false;
  const act = { '?': help, '/': () => { const f = field(); if (f) { f.focus(); if (f.tagName === 'INPUT') f.select?.(); } }, ArrowRight: next, n: next, ArrowLeft: back, b: back, p: back }[e.key];
  if (!act) return false;
  e.preventDefault();
  act();
  return true;
}
