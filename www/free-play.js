// Free play: carry on from the walkthrough's step in a wasm `Simulator` of one's own, with a console for
// Launcher lines and Undo, a Guest program editor (assembled in the wasm), the log of results, the state
// after the last line (a StatePane with its Guest CPU pane) and the RCU pane. Its LineRunner keeps the
// Simulator's view after each line, so each is marked against the one before, and runs a `read` or `wait`
// the Guest keeps asleep in slices, shown here with its progress in words and a Stop button, so the page
// never blocks however long the Guest runs; Undo takes the line back with them.

import { Simulator } from './pkg/lguest_sim.js';
import { builder, uid } from './dom.js';
import { resultItem, parseErrorItem } from './results.js';
import { LineRunner } from './line-runner.js';
import { StatePane } from './state-pane.js';
import { guestCpu } from './guest-pane.js';
import { RcuPane } from './rcu-pane.js';

export class FreePlay {
  /** `simulator()`: a new Simulator copied from the walkthrough's current step; `announce(text)`: the live region. */
  constructor(doc, { simulator, announce }) {
    this.doc = doc;
    this.simulator = simulator;
    this.announce = announce;
    this.sim = null;
    // The lines run, the view after each, and a line going on in slices with its progress here.
    this.lines = new LineRunner({ going: (said, stop) => this.going(said, stop), progress: (said) => { if (this.progressText) this.progressText.textContent = said; },
      ended: (said) => this.ended(said) });
    this.n = uid();
    this.insn = null; // the Guest instruction the last line's Guest CPU pane shows (null: its end)
    this.pane = null;
    this.rcu = null;
    const H = builder(doc);
    this.el = H('section', { class: 'lgs-play', 'aria-label': 'Free play' },
      H('h2', {}, 'Free play'),
      H('p', {}, 'Carry on from the step you are at: type Launcher lines in the scenario language, or write your own Guest program.'),
      H('button', { type: 'button', class: 'lgs-play-start', onclick: () => this.start() }, 'Free play from this step'));
  }

  /** Start (or start again) from the walkthrough's current step, with the focus on the line field. */
  start() {
    const H = builder(this.doc);
    this.stopSlices();
    this.sim?.free();
    this.sim = this.simulator();
    this.lines.use(this.sim);
    const input = H('input', { class: 'lgs-play-line', 'aria-label': 'Scenario line', placeholder: 'e.g. read, write IRQ 1, guest notify 0x8000', autocomplete: 'off', spellcheck: 'false' });
    const form = H('form', { class: 'lgs-play-form' }, H('label', {}, 'Line ', input),
      H('button', { type: 'submit' }, 'Run'), H('button', { type: 'button', class: 'lgs-play-undo', onclick: () => this.undo() }, 'Undo'));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.line(input.value); input.select(); });
    this.input = input;
    // Where a line going on in slices says how far it is, with its Stop button (empty otherwise).
    this.progress = H('div', { class: 'lgs-play-progress', role: 'status', 'aria-live': 'polite' });
    const src = H('textarea', { class: 'lgs-asm', rows: 12, spellcheck: 'false', wrap: 'off', 'aria-label': 'Guest program source (GNU as)', 'aria-describedby': `lgs-asm-err-${this.n}` });
    // Line numbers beside the editor (the assembler's errors name lines), scrolled with it.
    const gutter = H('pre', { class: 'lgs-asm-lines', 'aria-hidden': 'true' });
    // Registered before the line numbers, so a source refused for its size is never counted or laid out.
    const took = keepSmall(src, (said) => this.showAsmErr([said], said));
    const number = numberLines(src, gutter);
    // A source the page puts in (not typed): the text to go back to, numbered at once.
    const put = (text) => { src.value = text; took(text); number(); };
    put(guestText('guests/hello.S'));
    this.src = src;
    const pick = H('select', { class: 'lgs-asm-pick', 'aria-label': 'Start from a course Guest program' });
    for (const g of Simulator.guests()) pick.append(H('option', { value: g }, g));
    pick.addEventListener('change', () => put(guestText(pick.value)));
    this.asmErr = H('div', { class: 'lgs-asm-err', id: `lgs-asm-err-${this.n}`, role: 'alert', hidden: true });
    const load = H('button', { type: 'button', class: 'lgs-asm-load', onclick: () => this.program(src.value) }, 'Assemble, load in a fresh Launcher, open and INITIALIZE');
    this.log = H('ol', { class: 'lgs-reslist lgs-play-log', 'aria-label': 'Free play results' });
    const stateEl = H('div', { class: 'lgs-play-state' });
    this.state = new StatePane(this.doc, stateEl);
    this.el.replaceChildren(H('h2', {}, 'Free play'),
      H('div', { class: 'lgs-play-grid' },
        H('div', {}, H('h3', {}, 'Launcher console'), form, this.progress, this.log,
          H('h3', {}, 'Guest program'), H('label', {}, 'Start from ', pick), H('div', { class: 'lgs-asm-box' }, gutter, src), load, this.asmErr),
        stateEl));
    this.rcu = new RcuPane(this.doc, { announce: this.announce });
    this.el.append(this.rcu.el);
    warmAssembler();
    this.showLast();
    input.focus();
  }

  /** Run one scenario line; one that does not parse is logged as such and changes nothing. */
  line(text) {
    if (!text.trim()) return;
    if (this.lines.going) this.stopSlices();
    const r = this.lines.line(text);
    if (r && r.source === undefined) {
      this.log.append(parseErrorItem(this.doc, text, r.message));
      this.announce(`That line does not parse: ${r.message}`);
      return;
    }
    if (r === null) return;
    this.insn = null;
    this.showLast();
  }

  /** A line goes on in slices: its progress in words, with its Stop button. */
  going(said, stop) {
    const H = builder(this.doc);
    this.progressText = H('span', { class: 'lgs-play-progress-text' }, said);
    this.progress.replaceChildren(H('p', { 'aria-busy': 'true' }, this.progressText, ' ', H('button', { type: 'button', class: 'lgs-play-stop', onclick: stop }, 'Stop')));
  }

  /** The line going on in slices has ended (or was stopped): the machine as its last slice left it, with
   *  the focus on the line. */
  ended(said) {
    this.progress.replaceChildren(builder(this.doc)('p', {}, said));
    this.insn = null; // the Guest CPU pane opens at the end of the last slice
    this.log.lastElementChild?.remove();
    this.showLast();
    this.announce(said);
    this.input?.focus();
  }

  /** Stop the line going on in slices, if one is, and clear its progress. */
  stopSlices() {
    this.lines.stop();
    this.progress?.replaceChildren();
  }

  /** Undo the last line run (and the lines after it that did not parse). */
  undo() {
    this.stopSlices();
    if (this.lines.back()) {
      this.insn = null;
      // Lines that did not parse never ran: they go too, then the line undone.
      while (this.log.lastElementChild?.classList.contains('lgs-parse-err')) this.log.lastElementChild.remove();
      this.log.lastElementChild?.remove();
      this.render(this.lines.view);
      this.announce('Undone.');
    }
  }

  /** Assemble `text`, load it in a fresh Launcher, then open and INITIALIZE; or show why it does not assemble. */
  program(text) {
    this.stopSlices();
    this.sim.reset();
    const err = this.sim.loadProgram('my-guest.S', text);
    if (err) {
      const errs = err.message.split('\n').filter(Boolean);
      this.showAsmErr(errs, `The program does not assemble: ${errs[0]}`, 'It does not assemble:');
      return;
    }
    this.asmErr.hidden = true;
    this.asmErr.textContent = '';
    this.lines.use(this.sim);
    this.log.replaceChildren();
    for (const l of ['open', 'write INITIALIZE']) this.line(l);
    this.announce('Program loaded. Type read to run it.');
  }

  /** Show `errs` under the editor (each naming a line is a button that puts the cursor on it), after `head`
   *  if given, and say `said`. */
  showAsmErr(errs, said, head) {
    this.asmErr.hidden = false;
    const H = builder(this.doc);
    this.asmErr.replaceChildren(...(head ? [H('p', {}, head)] : []), H('ul', {}, errs.map((m) => {
      const line = Number(m.match(/:(\d+)/)?.[1]);
      return H('li', {}, line ? H('button', { type: 'button', class: 'lgs-asm-goto', onclick: () => this.goToLine(line) }, m) : m);
    })));
    this.announce(said);
  }

  /** Put the editor's cursor at the start of source line `n` (1-based). */
  goToLine(n) {
    const lines = this.src.value.split('\n');
    const at = lines.slice(0, n - 1).reduce((a, l) => a + l.length + 1, 0);
    this.src.focus();
    this.src.setSelectionRange(at, at + (lines[n - 1]?.length ?? 0));
  }

  /** The last line run: its result in the log and the live region, and the state after it. */
  showLast() {
    const v = this.lines.view;
    const prev = this.lines.prev;
    const r = v.results[0];
    if (r && prev) {
      const li = resultItem(this.doc, r, { who: 'the line', meaning: (e) => Simulator.errnoMeaning(e) });
      if (v.hint) li.append(builder(this.doc)('div', { class: 'lgs-hint lgs-play-hint' }, `Hint: ${v.hint}`));
      this.log.append(li);
      li.scrollIntoView?.({ block: 'nearest' });
      this.announce(r.result !== null && r.result !== undefined ? `${r.action} returned ${r.result}${r.sys?.why ? ': ' + r.sys.why : ''}` : `${r.action}: done`);
    }
    this.render(v);
  }

  /** The state after a line: the Simulator's view `v` (Rust marked what the line changed), with the Guest
   *  CPU pane of the line's Guest work. */
  render(v) {
    const g = guestCpu(this.doc, v, { src: this.sim, pos: this.insn, onMove: (pos) => { this.insn = pos; }, announce: this.announce });
    this.pane = g.pane;
    this.state.render(v, { guest: g.el });
  }
}

/** A course Guest program's source, to start one's own from. */
function guestText(name) { return Simulator.guestSource(name) ?? ''; }

/** A small source that goes through every part of the assembler (labels near and far, expressions, data,
 *  sections, `.rept`), for warmAssembler. */
const WARM_UP = 'a = 4\n.rept 20\n1: movl $a+2*3, %eax\njmp 1b\njz 2f\n.byte 1, 2, a\n.long (a << 2) | 1, . - 1b\n2:\n'
  + '.data\n.ascii "x"\n.text\n.endr\nl0: call l0\n';
let warmed = false;

/** The browser compiles the page's wasm lazily, a function in its slowest form until it has run a while,
 *  and a long call stays in the form it started in: the first assembly of a 15,000-statement source took
 *  160 ms, the next 15 ms. So once a page, when the browser is idle, a few small assemblies (about 30 ms in
 *  all, each its own task) bring the assembler to full speed before the student's first
 *  (tests/bench/hostile.mjs measures the worst sources in a fresh page). */
function warmAssembler() {
  if (warmed) return;
  warmed = true;
  const idle = globalThis.requestIdleCallback ?? ((f) => setTimeout(f, 50));
  const sim = new Simulator(0);
  let left = 5;
  // One assembly a task (the first, in the slow tier, takes 20 ms; the others 1-6).
  const once = () => {
    sim.reset();
    sim.loadProgram('warm-up.S', WARM_UP);
    if (--left > 0) idle(once, { timeout: 500 });
    else sim.free();
  };
  idle(once, { timeout: 500 });
}

/** The most characters the Guest editor holds: five times the course's largest Guest program (6 KB). A
 *  browser's textarea lays its whole text out at each change, about a millisecond a kilobyte here, so a
 *  pasted 300 KB kept the page busy a quarter of a second; 32 KB stays under the 50 ms of a long task. */
export const EDITOR_MAX = 32 * 1024;

/** Refuse a change that would make `src` longer than EDITOR_MAX characters (a paste, a drop, a script's
 *  value): the text before it is put back at once, before it is laid out, and `refuse` says why. */
function keepSmall(src, refuse) {
  let last = src.value;
  src.addEventListener('input', (e) => {
    const n = src.value.length;
    if (n <= EDITOR_MAX) { last = src.value; return; }
    e.stopImmediatePropagation();
    src.value = last;
    refuse(`The editor holds at most ${EDITOR_MAX / 1024} KB of source, and that would have made it ${Math.ceil(n / 1024)} KB, so it was not taken: `
      + 'the course\'s largest Guest program is 6 KB. To repeat code, write it once inside .rept N … .endr.');
  });
  // A script that sets the value (the Start from list) is the new text to go back to.
  return (text) => { last = text; };
}

/**
 * Number the lines of `src` (a textarea that does not wrap) in `gutter`, kept in step with its scrolling, its
 * size and its text; returns the function to call when the text was set by a script. Only the lines in view
 * are numbered: a pasted source of 60,000 lines would otherwise give the gutter 60,000 rows to lay out on
 * every key press (430 ms a key in Chromium), where the lines in view cost the same whatever the length.
 */
function numberLines(src, gutter) {
  const nums = src.ownerDocument.createElement('span');
  nums.className = 'lgs-asm-nums';
  gutter.replaceChildren(nums);
  let lines = 1;
  let height = 0; // px of one line, read once the editor is laid out
  const paint = () => {
    if (!height) height = parseFloat(getComputedStyle(src).lineHeight) || 0;
    const lh = height || 16;
    const first = Math.max(0, Math.min(lines - 1, Math.floor(src.scrollTop / lh)));
    // Before the editor is laid out (a panel not shown yet) its rows say how many lines it shows.
    const rows = src.clientHeight ? Math.ceil(src.clientHeight / lh) + 1 : src.rows + 1;
    const last = Math.min(lines, first + rows);
    let text = String(first + 1);
    for (let n = first + 2; n <= last; n++) text += `\n${n}`;
    if (nums.textContent !== text) nums.textContent = text;
    nums.style.transform = first || src.scrollTop ? `translateY(${first * lh - src.scrollTop}px)` : '';
  };
  const count = () => {
    const v = src.value;
    let n = 1;
    for (let i = v.indexOf('\n'); i !== -1; i = v.indexOf('\n', i + 1)) n++;
    lines = n;
    gutter.style.width = `calc(${String(n).length}ch + 0.8em + 1px)`; // the last number's width, wherever the view is
    paint();
  };
  // At the next frame, once for all the changes before it: a paste arrives as an input event a line, and
  // numbering at each would lay the editor out a hundred times in one task (80 ms for a 110-line paste).
  const PAINT = 1;
  const COUNT = 2; // counting paints as well
  let due = 0;
  const later = (what) => {
    if (!due) requestAnimationFrame(() => { const d = due; due = 0; if (d === COUNT) count(); else paint(); });
    due = Math.max(due, what);
  };
  src.addEventListener('input', () => later(COUNT));
  src.addEventListener('scroll', () => later(PAINT));
  if (typeof ResizeObserver === 'function') new ResizeObserver(() => { height = 0; later(PAINT); }).observe(src);
  return count;
}
