// The code pane: our Rust source of the host functions a step runs, one tab each (`Walkthrough.hostSource`:
// cut at build time without the calls that only record events, each line with its number in our file),
// with its journey tag, summary and a link to Linux 2.6.39. The lines Rust marks for the step (`v.code`: the
// statements that decided, each with the numbers of the events it stands for) carry ▶n, n the event's
// number in the state pane's list, and the listing scrolls to the first. Long lines wrap.

import { builder } from './dom.js';
import { tagMeaning, afterPaint } from './state-pane.js';

export class CodePane {
  /** Fill `el` in document `doc`; `hostSource(func)` gives a function's source view, or null. */
  constructor(doc, el, { hostSource }) {
    this.doc = doc;
    this.el = el;
    this.hostSource = hostSource;
    this.func = null; // the tab shown: kept from step to step while the step runs that function
    this.listings = new Map(); // func -> its listing, built once: each step only moves the marks
    this.sources = new Map(); // func -> its HostSource (or null), asked of the wasm once
    this.top = builder(doc)('div', { class: 'lgs-codetop' }); // the heading, tabs and summary above the listing
  }

  /** The `<pre>` of function `x` (a HostSource), each line's element, gutter and note, built once. */
  listing(x) {
    let l = this.listings.get(x.func);
    if (l) return l;
    const H = builder(this.doc);
    const lines = x.text.split('\n').map((t, i) => {
      const gutter = H('span', { class: 'lgs-evno', 'aria-hidden': 'true' }, ' '.repeat(6));
      const note = H('span', { class: 'lgs-evtext' });
      const el = H('span', { class: i === x.signature ? 'lgs-srcline lgs-sig' : 'lgs-srcline' },
        H('span', { class: 'lgs-ln', 'aria-hidden': 'true' }, String(x.numbers[i]).padStart(4)), gutter, t, note, '\n');
      return { el, gutter, note };
    });
    l = { marked: [], pre: H('pre', { class: 'lgs-src', tabindex: 0, 'aria-label': `Our Rust source of ${x.func}()` }, H('code', {}, lines.map((x) => x.el))), lines };
    this.listings.set(x.func, l);
    return l;
  }

  /** Draw step view `v` for lesson step `step` (null: the introduction); `asking`: its question is being asked. */
  render(v, { step = null, asking = false } = {}) {
    const H = builder(this.doc);
    const names = [];
    for (const a of step?.about ?? []) if (!names.includes(a.func)) names.push(a.func);
    if (!asking) for (const c of v.code) if (!names.includes(c.func)) names.push(c.func);
    for (const f of names) if (!this.sources.has(f)) this.sources.set(f, this.hostSource(f));
    const have = names.map((f) => this.sources.get(f)).filter(Boolean);
    if (!have.length) {
      this.top.replaceChildren();
      this.el.replaceChildren(H('h3', {}, 'Host code'), H('p', { class: 'lgs-hint' }, v.position === 0 ? 'Step into the lesson to see the Host code each step runs.' : 'This step runs no Host function we model in Rust (the Launcher acts on its own).'));
      return;
    }
    const marks = (f) => (asking ? null : v.code.find((c) => c.func === f));
    const cur = have.find((x) => x.func === this.func) ?? have.find((x) => marks(x.func)?.ran) ?? have[0];
    this.func = cur.func;
    const tabs = H('div', { class: 'lgs-tabs', role: 'group', 'aria-label': 'Functions this step runs' }, have.map((x) =>
      H('button', { type: 'button', class: 'lgs-tab', 'aria-pressed': String(x === cur), onclick: () => { this.func = x.func; this.render(v, { step, asking }); } },
        `${x.func}()`, marks(x.func)?.ran ? H('span', { class: 'lgs-ran' }, ' ✓ ran') : '')));
    const ran = new Map(marks(cur.func)?.lines ?? []);
    const { pre, lines } = this.listing(cur);
    // The marks of the step shown before are taken off; this step's put on.
    for (const i of this.listings.get(cur.func).marked) {
      const l = lines[i];
      l.el.classList.remove('lgs-ranline');
      l.gutter.textContent = ' '.repeat(6);
      l.note.textContent = '';
    }
    this.listings.get(cur.func).marked = [...ran.keys()];
    for (const [i, evs] of ran) {
      const l = lines[i];
      if (!l) continue;
      l.el.classList.add('lgs-ranline');
      // ▶ and the first event's number (+ when the line stands for more than one).
      l.gutter.textContent = ` ▶${evs[0]}${evs.length > 1 ? '+' : ''}`.padEnd(6);
      // What the statement did, in the event's words (the kernel's names: rcu_assign_pointer(), kmalloc()),
      // and for a screen reader which events.
      l.note.replaceChildren(H('span', { class: 'vh' }, ` (ran: event ${evs.join(', ')})`),
        `  // ${v.events[evs[0] - 1]?.text ?? ''}${evs.length > 1 ? ` (+${evs.length - 1} more)` : ''}`);
    }
    const marked = ran.size ? H('p', { class: 'lgs-hint' }, `▶n marks the ${ran.size === 1 ? 'statement' : `${ran.size} statements`} of ${cur.func}() behind event n of this step (+: and later ones); the lines that only record events are left out.`) : '';
    // The listing stays where it is when the function shown is the same (only its marks moved): putting it
    // back would lay out every line again.
    this.top.replaceChildren(H('h3', {}, 'Host code being executed'), tabs,
      H('p', { class: 'lgs-codehead' }, H('strong', {}, `${cur.func}() `), H('abbr', { class: 'lgs-tag', title: tagMeaning(cur.tag) }, cur.tag), ` — ${cur.summary} `,
        H('br'), `Ours: ${cur.file}:${cur.line}. `, cur.link ? H('a', { href: cur.link, target: '_blank', rel: 'noopener' }, `${cur.func}() in Linux 2.6.39`) : ''),
      marked);
    if (this.el.lastElementChild !== pre || this.top.parentNode !== this.el) this.el.replaceChildren(this.top, pre);
    // Scroll the listing to the first line this step ran (when the function is longer than the pane), when
    // the page is idle after painting the step: measuring before would lay the page out twice.
    const first = pre.querySelector('.lgs-ranline');
    const win = this.doc.defaultView;
    if (first) afterPaint(win, () => { pre.scrollTop = Math.max(0, first.offsetTop - pre.offsetTop - 3 * first.offsetHeight); });
  }
}
