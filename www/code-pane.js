// The code pane: our Rust source of the host functions a step runs, one tab each (`Walkthrough.hostSource`),
// with its journey tag, summary and a link to Linux 2.6.39. Lines that recorded one of the step's events are
// marked ▶n, n the event's number in the state pane, and the listing scrolls to the first. Needs the step
// view (`funcs`, `events`) and the lesson step shown.

import { builder } from './dom.js';

export class CodePane {
  /** Fill `el` in document `doc`; `hostSource(func)` gives a function's source view, or null. */
  constructor(doc, el, { hostSource }) {
    this.doc = doc;
    this.el = el;
    this.hostSource = hostSource;
    this.func = null; // the tab shown: kept from step to step while the step runs that function
  }

  /** Draw step view `v` for lesson step `step` (null: the introduction); `asking`: its question is being asked. */
  render(v, { step = null, asking = false } = {}) {
    const H = builder(this.doc);
    const names = [];
    for (const a of step?.about ?? []) if (!names.includes(a.func)) names.push(a.func);
    if (!asking) for (const f of v.funcs) if (!names.includes(f)) names.push(f);
    const have = names.map((f) => this.hostSource(f)).filter(Boolean);
    if (!have.length) {
      this.el.replaceChildren(H('h3', {}, 'Host code'), H('p', { class: 'lgs-hint' }, v.position === 0 ? 'Step into the lesson to see the Host code each step runs.' : 'This step runs no Host function we model in Rust (the Launcher acts on its own).'));
      return;
    }
    const cur = have.find((x) => x.func === this.func) ?? have[0];
    this.func = cur.func;
    const tabs = H('div', { class: 'lgs-tabs', role: 'group', 'aria-label': 'Functions this step runs' }, have.map((x) =>
      H('button', { type: 'button', class: 'lgs-tab', 'aria-pressed': String(x === cur), onclick: () => { this.func = x.func; this.render(v, { step, asking }); } },
        `${x.func}()`, v.funcs.includes(x.func) && !asking ? H('span', { class: 'lgs-ran' }, ' ran') : '')));
    const lines = cur.text.split('\n');
    const sig = signatureLine(lines);
    // The lines of this function that recorded one of the step's events, with the events' numbers (as in
    // "What happened in the kernel").
    const ran = new Map();
    if (!asking) v.events.forEach((e, k) => {
      const i = e.line - cur.line;
      if (e.file === cur.file && i >= 0 && i < lines.length) ran.set(i, [...(ran.get(i) ?? []), k + 1]);
    });
    const pre = H('pre', { class: 'lgs-src', tabindex: 0, 'aria-label': `Our Rust source of ${cur.func}()` }, H('code', {}, lines.map((l, i) => {
      const evs = ran.get(i);
      const cls = ['lgs-srcline', i === sig ? 'lgs-sig' : '', evs ? 'lgs-ranline' : ''].filter(Boolean).join(' ');
      // A gutter of fixed width: ▶ and the first event's number (+ when the line ran for more than one).
      const mark = evs ? ` ▶${evs[0]}${evs.length > 1 ? '+' : ''}`.padEnd(6) : ' '.repeat(6);
      return H('span', { class: cls }, H('span', { class: 'lgs-ln', 'aria-hidden': 'true' }, String(cur.line + i).padStart(4)),
        H('span', { class: 'lgs-evno', 'aria-hidden': 'true' }, mark), evs ? H('span', { class: 'vh' }, `(ran: event ${evs.join(', ')}) `) : '', l, '\n');
    })));
    const marked = ran.size ? H('p', { class: 'lgs-hint' }, `▶n marks the ${ran.size === 1 ? 'line' : `${ran.size} lines`} of ${cur.func}() behind event n of this step (+: and later ones).`) : '';
    this.el.replaceChildren(H('h3', {}, 'Host code being executed'), tabs,
      H('p', { class: 'lgs-codehead' }, H('strong', {}, `${cur.func}() `), H('span', { class: 'lgs-tag' }, cur.tag), ` — ${cur.summary} `,
        H('br'), `Ours: ${cur.file}:${cur.line}. `, cur.link ? H('a', { href: cur.link, target: '_blank', rel: 'noopener' }, `${cur.func}() in Linux 2.6.39`) : ''),
      marked, pre);
    // Scroll the listing to the first line this step ran (when the function is longer than the pane).
    const first = pre.querySelector('.lgs-ranline');
    if (first) pre.scrollTop = Math.max(0, first.offsetTop - pre.offsetTop - 3 * first.offsetHeight);
  }
}

// TODO(view): Rust will send the line of the function's signature with its source (`HostSource`); the page
// finds the first line that says `fn `.
/** The index of the line that declares the function (after its doc comment), or -1. */
function signatureLine(lines) {
  return lines.findIndex((l) => /\bfn\s/.test(l));
}
