// The walkthrough of one lesson, rendered into any container (the page's <main>, an iframe's body, or the
// shadow root of a <lguest-sim> element). Rust decides, JS renders: every position comes from the wasm
// `Walkthrough` as a plain view object (results, events, fields and what changed, the Guest CPU, console).
// Nothing here uses innerHTML: text goes in through text nodes, lesson prose through md.js.
//
// This file is the controller: navigation, Play, the keys, the link, and the panes composed, each a module
// that draws from the view it is given and touches only its own element: story-pane.js, code-pane.js,
// state-pane.js with guest-pane.js, breakpoints.js, and free-play.js with rcu-pane.js.
//   const w = await mountWalkthrough(container, { lesson: '02-initialize', step: 3 }); w.step(); w.destroy();
// and the other methods README.md lists for <lguest-sim> (which calls these), with a `lguest-sim:step` event.
// The keys work wherever the focus is inside the walkthrough: a click on its text focuses the walkthrough
// itself (it takes focus, tabindex -1), and when a re-render takes away the focused control (an answered
// question's choice) or disables it (Step ▶ at the end), the focus moves to the step's heading.

import init, { Walkthrough, Simulator } from './pkg/lguest_sim.js';
import { builder, hex, sharedKey, typing, activates, origin, plain } from './dom.js';
import { StoryPane } from './story-pane.js';
import { CodePane } from './code-pane.js';
import { StatePane, whenIdle, afterPaint } from './state-pane.js';
import { guestCpu } from './guest-pane.js';
import { Breakpoints } from './breakpoints.js';
import { FreePlay } from './free-play.js';

/** The least time between two changes of the URL (see Walk.followUrl). */
const URL_GAP_MS = 100;

let ready = null;
/** Start the wasm module once per page, however many walkthroughs it holds. */
export function loadSimulator() {
  ready ??= init().then(() => Walkthrough);
  return ready;
}

/** The keys, as the help lists them (dom.js's sharedKey has those every page shares). */
const KEYS = 'Keys: → or n step, ← or b (or p) back, e next read(), Space play or pause, Home reset, End last step, g go to step, '
  + '/ type (free play\'s line once started, else Go to step), Escape out of a field, ] and [ one Guest instruction on or back, '
  + 'B (Shift+b) add a breakpoint, 1–9 answer, ? these keys.';

/** Play speeds: milliseconds per step. */
const SPEEDS = [['slow', 'Slow (1.5 s a step)', 1500], ['normal', 'Normal (0.7 s a step)', 700], ['fast', 'Fast (0.2 s a step)', 200]];

/** The modelled functions a breakpoint can stop at (Rust says which: `breakpoint`). */
function hostFunctions() {
  return Simulator.functions().filter((f) => f.breakpoint).map((f) => f.func);
}

/**
 * Mount a walkthrough in `container`. Options: `lesson` (id), `step` (position), `keys` (the element whose
 * keydown events drive the shortcuts; default `container`), `hash` (keep `#lesson=..&step=..` in the URL),
 * `insn` (the Guest instruction the Guest CPU pane shows, when the step ran Guest code; default its last),
 * `picker` (false: no lesson picker), `play` (false: no free play), `breakpoints` (false: no breakpoint form;
 * by default there is one unless `play` is false, as in a compact embed), `speed` ('slow', 'normal' or 'fast':
 * how fast Play steps), `walkthrough` (a Walkthrough to show instead of a lesson of the course, e.g. one
 * made from a lesson's text: the controller owns it and frees it). Resolves to the controller.
 */
export async function mountWalkthrough(container, opts = {}) {
  const W = await loadSimulator();
  const doc = container.ownerDocument ?? document;
  // The course's ids and titles, for the picker and the next lesson (read without parsing the lessons).
  const lessons = opts.picker === false ? [] : W.lessonTitles();
  const ctl = new Controller(W, container, doc, lessons, opts);
  if (opts.walkthrough) ctl.use(opts.walkthrough, Number(opts.step ?? 0));
  else ctl.open(opts.lesson ?? W.lessonIds()[0], Number(opts.step ?? 0));
  if (opts.insn !== undefined && opts.insn !== null && ctl.pane) ctl.pane.goTo(Number(opts.insn), true);
  return ctl;
}

class Controller {
  constructor(W, container, doc, lessons, opts) {
    this.W = W;
    this.root = container;
    this.doc = doc;
    this.lessons = lessons;
    this.opts = opts;
    this.views = [];
    this.asking = false; // showing the next step's question, not yet revealed
    this.answers = new Map(); // step number -> the choice the student picked
    this.pane = null; // the Guest CPU pane of the step shown, when it ran Guest code
    this.insn = 0; // the Guest instruction that pane shows
    this.playing = false;
    this.timer = null;
    this.ticking = false; // the player itself is moving: not a navigation that pauses it
    this.bpAt = -1; // paused here by a breakpoint on the next step: playing again runs that step
    this.build();
    this.keyTarget = opts.keys ?? container;
    this.keyHandler = (e) => this.onKey(e);
    this.keyTarget.addEventListener('keydown', this.keyHandler);
  }

  /** Stop and free everything this walkthrough holds in the wasm (its lesson, free play's machine, an RCU
   *  run) now, not at garbage collection; the container is emptied. */
  destroy() {
    this.halt();
    this.keyTarget.removeEventListener('keydown', this.keyHandler);
    this.w?.free();
    this.w = null;
    this.free.sim?.free();
    this.free.sim = null;
    this.free.rcu?.run?.free();
    if (this.free.rcu) this.free.rcu.run = null;
    this.root.replaceChildren();
  }

  // ---- the skeleton, built once ---------------------------------------------------------------------------
  build() {
    const H = builder(this.doc);
    const announce = (text) => this.announce(text);
    this.live = H('p', { class: 'lgs-live', role: 'status', 'aria-live': 'polite' });
    this.btnReset = H('button', { type: 'button', class: 'lgs-reset', title: 'Reset (Home)', onclick: () => this.reset() }, 'Reset');
    this.btnBack = H('button', { type: 'button', class: 'lgs-back', title: 'Step back (← or b)', onclick: () => this.back() }, '◀ Back');
    this.btnStep = H('button', { type: 'button', class: 'lgs-step', title: 'Step (→ or n)', onclick: () => this.step() }, 'Step ▶');
    this.btnEvent = H('button', { type: 'button', class: 'lgs-next-event', title: 'Run to the next read() the Launcher sees (e)', onclick: () => this.nextEvent() }, 'Run to next read() »');
    this.btnPlay = H('button', { type: 'button', class: 'lgs-run', title: 'Play: one step after another (Space)', onclick: () => this.togglePlay() });
    this.speed = H('select', { class: 'lgs-speed' }, SPEEDS.map(([v, t]) => H('option', { value: v }, t)));
    this.speed.value = SPEEDS.some(([v]) => v === this.opts.speed) ? this.opts.speed : 'normal';
    this.range = H('input', { type: 'range', class: 'lgs-timeline', min: 0, max: 1, value: 0, 'aria-label': 'Timeline: step of the lesson' });
    this.range.addEventListener('input', () => this.goTo(Number(this.range.value)));
    this.goto = H('input', { type: 'number', class: 'lgs-goto', min: 0, value: 0, inputmode: 'numeric', 'aria-label': 'Go to step number' });
    this.goto.addEventListener('change', () => this.goTo(Number(this.goto.value)));
    this.goto.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.goTo(Number(this.goto.value)); });
    this.counter = H('span', { class: 'lgs-counter' });
    this.link = H('a', { class: 'lgs-link', title: 'A link to this lesson at this step (l)' }, 'Link to this step');
    const picker = H('select', { class: 'lgs-lesson', 'aria-label': 'Lesson' },
      this.lessons.map((l, i) => H('option', { value: l.id }, `${i + 1}. ${l.title}`)));
    picker.addEventListener('change', () => this.open(picker.value, 0));
    this.picker = picker;
    const bar = H('div', { class: 'lgs-bar', role: 'toolbar', 'aria-label': 'Walkthrough controls' },
      this.opts.picker === false ? null : H('label', { class: 'lgs-pick' }, H('span', { class: 'vh' }, 'Lesson '), picker),
      this.btnReset, this.btnBack, this.btnStep, this.btnEvent, this.btnPlay,
      H('label', { class: 'lgs-speed-label' }, 'Speed ', this.speed),
      H('label', { class: 'lgs-scrub' }, this.range),
      H('label', { class: 'lgs-go' }, 'Go to ', this.goto), this.counter, this.link);

    const story = H('section', { class: 'lgs-story', 'aria-label': 'Lesson' });
    const code = H('section', { class: 'lgs-code', 'aria-label': 'Host code being executed' });
    const state = H('section', { class: 'lgs-state', 'aria-label': 'What the kernel holds' });
    this.regions = [[story, 'the lesson'], [code, 'host code being executed'], [state, 'what the kernel holds']];
    this.free = new FreePlay(this.doc, { simulator: () => this.w.freePlay(), announce });
    this.story = new StoryPane(this.doc, story, { answer: (c) => this.answer(c), announce, open: (id) => this.open(id, 0),
      next: (id) => this.lessons[this.lessons.findIndex((l) => l.id === id) + 1] });
    this.code = new CodePane(this.doc, code, { hostSource: (f) => this.W.hostSource(f) });
    this.state = new StatePane(this.doc, state);
    this.bps = new Breakpoints(this.doc, { funcNames: hostFunctions(), symbol: (name) => this.w.guestSymbol(name), announce,
      form: this.opts.breakpoints ?? this.opts.play !== false });
    const help = H('p', { class: 'lgs-keys', tabindex: '-1' }, KEYS);
    this.help = help;
    this.root.replaceChildren(H('div', { class: 'lgs', tabindex: '-1' }, bar, this.live, this.bps.el,
      H('div', { class: 'lgs-grid' }, H('div', { class: 'lgs-col' }, story, code), state), this.opts.play === false ? null : this.free.el, help));
    this.renderPlayButton();
  }

  // ---- navigation ----------------------------------------------------------------------------------------
  open(id, step = 0) {
    this.use(this.W.open(id) ?? this.W.open(this.W.lessonIds()[0]), step);
  }

  /** Show Walkthrough `w` (a lesson of the course, or one made from a lesson's text) at `step`. */
  use(w, step = 0) {
    this.halt();
    if (this.w !== w) this.w?.free();
    this.w = w;
    this.lesson = this.w.lesson();
    // Each region is named by its lesson, so walkthroughs of different lessons on one page are told apart.
    for (const [el, what] of this.regions) el.setAttribute('aria-label', `${this.lesson.title}: ${what}`);
    this.picker.value = this.lesson.id;
    this.views = [];
    this.answers = new Map();
    this.asking = false;
    this.range.max = String(this.w.total());
    this.goto.max = String(this.w.total());
    this.goTo(step, false, true);
  }

  /** Go to position `n` (its view says what changed: Rust compared it with the step before). A jump forward
   *  over questions not answered says which it skipped (`seen`: the one step on, whose question was shown;
   *  `opening`: a lesson opened at a step, by a link or the picker, skips nothing). */
  goTo(n, seen = false, opening = false) {
    this.halt();
    this.asking = false;
    n = Math.max(0, Math.min(this.w.total(), Number(n) | 0));
    const from = this.w.position();
    const skipped = opening ? [] : this.lesson.steps.slice(from, n).filter((s, i) => s.question && !this.answers.has(s.number) && !(seen && from + i + 1 === n)).map((s) => s.number);
    this.skipNote = skipped.length ? ` Skipped ${skipped.length === 1 ? `the question of step ${skipped[0]}` : `the questions of steps ${skipped.join(', ')}`} without an answer: ${skipped.length === 1 ? 'its answer is' : 'their answers are'} shown.` : '';
    this.w.moveTo(n);
    const v = this.views[n] ?? this.w.view();
    this.views[n] = v;
    this.show(v);
  }

  step() {
    this.halt();
    const pos = this.w.position();
    if (pos >= this.w.total()) { this.announce('This is the last step. Free play: open the lab page.'); return; }
    const next = this.lesson.steps[pos];
    if (next.question && !this.asking && !this.answers.has(next.number)) {
      this.asking = true;
      this.render(this.views[pos] ?? this.w.view(), next);
      this.announce(`Step ${pos + 1}: ${next.title}. Question: ${next.question.text}`);
      this.story.focusChoice();
      return;
    }
    this.goTo(pos + 1, true);
  }

  back() {
    if (this.asking) { this.goTo(this.w.position()); return; }
    this.goTo(this.w.position() - 1);
  }

  reset() { this.goTo(0); }

  // ---- the Guest CPU pane: instructions of the current step -----------------------------------------------
  /** Go to Guest instruction `n` of the current step (the step must have run Guest code). */
  instruction(n) {
    if (!this.pane) { this.announce('This step ran no Guest code: there are no Guest instructions to step through.'); return; }
    this.pane.goTo(n);
  }
  stepInstruction() { this.instruction((this.pane?.pos ?? 0) + 1); }
  backInstruction() { this.instruction((this.pane?.pos ?? 0) - 1); }
  /** Run the current step's Guest to the next instruction at `addr` (a number, `0x…` or a label). */
  runToAddress(addr) {
    if (!this.pane) { this.announce('This step ran no Guest code.'); return; }
    this.pane.runTo(typeof addr === 'number' ? hex(addr) : addr);
  }

  /** Run to the next step where the Launcher's read() returns, stopping before a step that hits a breakpoint. */
  nextEvent() {
    const pos = this.w.position();
    const skip = this.bpAt === pos; // stopped here by a breakpoint: this time its step runs
    this.halt();
    const target = this.w.nextEvent().position;
    for (let k = pos + 1; k <= target; k++) {
      const q = this.lesson.steps[k - 1];
      if (q.question && !this.answers.has(q.number)) {
        // A question on the way comes first: stop before its step and ask it.
        if (k - 1 > pos) this.goTo(k - 1); else this.w.moveTo(pos);
        this.step();
        this.announce(`Stopped at step ${k - 1}: step ${k} asks a question first. ${q.question.text} (keys 1–9, or Step ▶ to see it)`);
        return;
      }
      if (!this.bps.any) continue;
      const v = this.peek(k);
      const hit = this.bps.hits(v);
      if (hit.length && !(k === pos + 1 && skip)) {
        if (k - 1 > pos) this.goTo(k - 1);
        else this.w.moveTo(pos);
        this.bpAt = k - 1;
        this.announce(`Stopped at step ${k - 1}: breakpoint: ${this.bps.names(hit)} ${hit.length > 1 ? 'run' : 'runs'} in step ${k}. Press again to run it.`);
        return;
      }
      const g = this.guestHit(k);
      if (g !== null) {
        const why = this.stopInStep(k, g);
        this.announce(`Stopped: ${why}. Press again to go on.`);
        return;
      }
    }
    this.goTo(target);
  }

  // ---- play: one step per interval, until the end, a question or a breakpoint ------------------------------
  /** The view of position `k` without showing it (the Rust side moves there; go back with moveTo). */
  peek(k) {
    this.w.moveTo(k);
    this.views[k] ??= this.w.view();
    return this.views[k];
  }

  togglePlay() { if (this.playing) this.pause(); else this.play(); }

  play() {
    if (this.playing) return;
    const pos = this.w.position();
    if (this.asking) { this.announce(`Paused at step ${pos}: answer the question of step ${pos + 1} first (keys 1–9), or press Step ▶ to see it.`); return; }
    if (pos >= this.w.total()) { this.announce(`Paused at step ${pos}: end of the lesson. Reset (Home) to play it again.`); return; }
    this.playing = true;
    this.renderPlayButton();
    this.announce(`Playing from step ${pos}, ${this.speed.selectedOptions[0].textContent.toLowerCase()}.`);
    this.tick();
  }

  /** Pause, saying why (a manual pause when `reason` is not given). */
  pause(reason) {
    if (!this.playing) return;
    this.stopTimer();
    const why = reason ?? 'you paused';
    this.announce(`Paused at step ${this.w.position()}: ${why}${/[.?!]$/.test(why) ? '' : '.'}`);
  }

  /** Stop playing without a word (a navigation of the student's own says where they are). */
  halt() {
    if (this.ticking) return;
    this.bpAt = -1;
    this.stopTimer();
  }

  stopTimer() {
    if (!this.playing) return;
    this.playing = false;
    if (this.timer !== null) this.doc.defaultView.clearTimeout(this.timer);
    this.timer = null;
    this.renderPlayButton();
  }

  tick() {
    this.timer = null;
    if (!this.playing) return;
    let stop;
    this.ticking = true;
    try { stop = this.advance(); } catch (e) { stop = `something went wrong (${e.message})`; } finally { this.ticking = false; }
    if (stop) { this.pause(stop); return; }
    const ms = SPEEDS.find(([v]) => v === this.speed.value)?.[2] ?? 700;
    this.timer = this.doc.defaultView.setTimeout(() => this.tick(), ms);
  }

  /** Take one step of play; a reason to stop, or null to go on. */
  advance() {
    const pos = this.w.position();
    const total = this.w.total();
    if (pos >= total) return 'end of the lesson';
    const next = this.lesson.steps[pos];
    const v = this.peek(pos + 1);
    const hit = this.bps.hits(v);
    if (next.question && !this.answers.has(next.number)) {
      this.w.moveTo(pos);
      this.step(); // shows the question and puts the focus on its first choice
      const q = `Question: ${next.question.text}`;
      const ghit = this.bps.addrs.size && this.guestHit(pos + 1) !== null;
      return hit.length ? `breakpoint: ${this.bps.names(hit)} ${hit.length > 1 ? 'run' : 'runs'} in step ${pos + 1}, and its question comes first. ${q}`
        : ghit ? `breakpoint: the Guest reaches a breakpoint in step ${pos + 1}, and its question comes first. ${q}`
          : `answer the question of step ${pos + 1} first. ${q}`;
    }
    if (hit.length && this.bpAt !== pos) {
      this.w.moveTo(pos);
      this.bpAt = pos;
      return `breakpoint: ${this.bps.names(hit)} ${hit.length > 1 ? 'run' : 'runs'} in step ${pos + 1}`;
    }
    this.bpAt = -1;
    this.asking = false;
    const g = this.guestHit(pos + 1);
    if (g !== null) return this.stopInStep(pos + 1, g);
    this.show(v);
    return pos + 1 >= total ? 'end of the lesson' : null;
  }

  renderPlayButton() {
    const H = builder(this.doc);
    this.btnPlay.replaceChildren(H('span', { 'aria-hidden': 'true' }, this.playing ? '❚❚ ' : '▶ '), this.playing ? 'Pause' : 'Play');
    this.btnPlay.title = this.playing ? 'Pause (Space)' : 'Play: one step after another (Space)';
    this.root.dataset.playing = String(this.playing);
    this.btnPlay.dataset.playing = String(this.playing);
  }

  // ---- breakpoints (breakpoints.js holds them; these stop Play and the run to the next read()) ------------
  /** A breakpoint on a host function, or on a Guest address or label of the lesson's program: see Breakpoints.add. */
  addBreakpoint(name) { return this.bps.add(name); }
  /** Remove the breakpoint on host function `f`, or on Guest address `f` (a number). */
  removeBreakpoint(f) { this.bps.remove(f); }
  /** The host functions with a breakpoint (a Set). */
  get breakpoints() { return this.bps.funcs; }

  /** Where in step `k` (1-based) the Guest first reaches a Guest-address breakpoint: a position, or null. */
  guestHit(k) {
    if (!this.bps.addrs.size) return null;
    const p = this.w.guestFindInStep(k, this.bps.addresses());
    return typeof p === 'number' ? p : null;
  }

  /** Show step `k` with the Guest CPU pane at `pos`, stopped there by a Guest-address breakpoint. */
  stopInStep(k, pos) {
    const v = this.peek(k);
    this.asking = false;
    this.show(v, pos);
    const eip = this.pane ? this.w.guestAt(pos)?.eip : null;
    const label = eip !== null && eip !== undefined ? this.bps.label(eip) : '';
    return `breakpoint: in step ${k} the Guest is about to run ${label} (Guest instruction ${pos} of ${this.pane?.total ?? '?'})`;
  }

  answer(choice) {
    const pos = this.w.position();
    const s = this.lesson.steps[pos];
    if (!s) return;
    this.answers.set(s.number, choice);
    this.goTo(pos + 1, true);
    // The step just revealed may reach a Guest-address breakpoint: the Guest CPU pane stops there.
    const g = this.guestHit(pos + 1);
    const bp = g === null ? '' : ` Paused at step ${pos + 1}: ${this.stopInStep(pos + 1, g)}.`;
    const right = choice === s.question.answer;
    this.announce(`${right ? 'Right' : `Not quite: the answer is ${s.question.answer}`}. ${this.live.textContent}${bp}`);
  }

  onKey(e) {
    const shared = sharedKey(e, {
      help: () => this.showKeys(), next: () => this.step(), back: () => this.back(),
      field: () => this.free.input?.isConnected ? this.free.input : this.goto,
      leave: (t) => { t.blur?.(); this.keepFocus(this.root.querySelector('.lgs')); },
    });
    if (shared || !plain(e) || typing(origin(e))) return;
    const k = e.key;
    if (k === ' ' || k === 'Spacebar') {
      if (activates(origin(e))) return; // the focused button takes its own Space
      e.preventDefault();
      this.togglePlay();
      return;
    }
    const act = {
      j: () => this.step(), k: () => this.back(),
      e: () => this.nextEvent(), Home: () => this.reset(), r: () => this.reset(),
      End: () => this.goTo(this.w.total()), g: () => { this.goto.focus(); this.goto.select(); },
      ']': () => this.stepInstruction(), '[': () => this.backInstruction(),
      B: () => { this.bps.focus(); },
    }[k];
    if (act) { e.preventDefault(); act(); return; }
    if (this.asking && /^[1-9]$/.test(k)) {
      const q = this.lesson.steps[this.w.position()]?.question;
      const c = q?.choices[Number(k) - 1];
      if (c !== undefined) { e.preventDefault(); this.answer(c); }
    }
  }

  // ---- showing a position --------------------------------------------------------------------------------
  show(v, insn = null) {
    // The Guest CPU pane starts at the end of the step's Guest work (what the rest of the page shows), or
    // where a Guest-address breakpoint stopped.
    this.insn = insn ?? v.guestUnits ?? 0;
    this.render(v, null);
    const s = v.position > 0 ? this.lesson.steps[v.position - 1] : null;
    const res = v.results.filter((r) => r.result !== null && r.result !== undefined);
    const bad = v.results.filter((r) => !r.ok).length;
    const said = res.map((r) => `${r.action} returned ${r.result}${r.ok ? '' : ' (not as the lesson says)'}`).join('; ')
      || (v.results.length ? `${v.results.length - bad} of ${v.results.length} checks hold.` : '');
    if (!this.playing) this.announce((s ? `Step ${v.position} of ${v.total}: ${s.title}. ${said || 'Nothing to run in this step.'}` : `${this.lesson.title}: introduction.`) + (this.skipNote ?? ''));
    this.skipNote = '';
    this.syncLink();
    this.prefetch(v.position + 1);
    this.root.dispatchEvent(new CustomEvent('lguest-sim:step', {
      bubbles: true, composed: true,
      detail: { lesson: v.lesson, position: v.position, total: v.total, ok: v.results.every((r) => r.ok), allOk: v.allOk },
    }));
  }

  announce(text) { this.live.textContent = text; }

  /** `?`: the keys, said and shown (the help below the walkthrough takes the focus). */
  showKeys() {
    this.help.focus();
    this.announce(KEYS);
  }

  /** While the student reads step `n`, compute the next step's view (Rust runs it), so showing it is only
   *  drawing it. */
  prefetch(n) {
    const token = {};
    this.prefetching = token; // a later step shown takes its place
    if (n > this.w.total() || this.views[n]) return;
    const w = this.w; // a lesson opened meanwhile has freed it
    afterPaint(this.doc.defaultView, () => { if (this.prefetching === token && w === this.w) this.views[n] ??= w.viewAt(n); });
  }

  /** The link (and, on the full page, the URL) names the lesson, the step and, when the Guest CPU pane is not
   *  at the end of the step's work, the Guest instruction. */
  syncLink() {
    const pos = this.w.position();
    const lesson = this.lesson.id;
    const units = this.pane?.total;
    const insn = this.pane && this.insn !== units ? `&insn=${this.insn}` : '';
    const frag = `#lesson=${encodeURIComponent(lesson)}&step=${pos}${insn}`;
    this.link.href = `${this.opts.linkBase ?? 'index.html'}${frag}`;
    // The URL follows when the page is idle, after the step is painted (replaceState is a round trip to the
    // browser). A navigation after the last step shown (a link, the back button) wins over it: the URL
    // then is not the one this step was shown at.
    if (!this.opts.hash) return;
    this.urlFrom = location.hash;
    if (!this.urlPending) this.followUrl(0);
  }

  /** Bring the URL to the link, once the page is idle and at least URL_GAP_MS after the last time (browsers
   *  ignore history changes beyond a rate, Chromium's being 200 in 10 s, and a student holding → steps
   *  faster); if the browser ignored it anyway, try again a second later. */
  followUrl(tries) {
    const win = this.doc.defaultView;
    this.urlPending = true;
    const wait = Math.max(0, (this.urlAt ?? -Infinity) + URL_GAP_MS - performance.now());
    win.setTimeout(() => whenIdle(win, () => {
      this.urlPending = false;
      if (location.hash !== this.urlFrom || location.hash === this.link.hash) return;
      this.urlAt = performance.now();
      try { history.replaceState(null, '', this.link.hash); } catch { /* the browser refused: tried again below */ }
      this.urlFrom = location.hash;
      if (location.hash !== this.link.hash && tries < 20) {
        this.urlAt = performance.now() + 1000;
        this.followUrl(tries + 1);
      }
    }), wait);
  }

  /** Whether the keyboard focus is inside the walkthrough (in its document, or its shadow root). */
  hasFocus() {
    const a = this.root.getRootNode().activeElement;
    return Boolean(a && this.root.contains(a));
  }

  /** After a re-render that took the focus away (the focused control removed or disabled), put it on the
   *  heading of the step shown, so the keys go on working and a screen reader says where it is (`to`: put
   *  it there whatever has it now). */
  keepFocus(to = null) {
    const a = this.root.getRootNode().activeElement;
    if (to ? a === to : a && a !== this.doc.body && this.root.contains(a) && !a.disabled) return;
    const head = to ?? this.story.heading() ?? this.root.querySelector('.lgs');
    if (!head) return;
    if (!head.hasAttribute('tabindex')) head.setAttribute('tabindex', '-1');
    head.focus({ preventScroll: true });
  }

  /** The controls for view `v`, and each pane drawn from it; `asking`: the next step, whose question is asked. */
  render(v, asking) {
    const focused = this.hasFocus();
    // A focus in the lesson's text (a question's choice) goes to the step's heading (which stays) before the
    // text is drawn again: after, it would lay the page out mid-draw.
    if (focused && this.story.el.contains(this.root.getRootNode().activeElement)) this.keepFocus(this.story.heading());
    this.draw(v, asking);
    if (focused) this.keepFocus();
  }

  draw(v, asking) {
    const pos = v.position;
    const total = v.total;
    this.range.value = String(pos);
    this.range.setAttribute('aria-valuetext', pos ? `step ${pos} of ${total}: ${this.lesson.steps[pos - 1].title}` : `introduction, ${total} steps`);
    this.goto.value = String(pos);
    this.counter.textContent = asking ? `Step ${pos + 1} of ${total}: your guess` : `Step ${pos} of ${total}`;
    this.btnBack.disabled = pos === 0 && !asking;
    this.btnReset.disabled = pos === 0 && !asking;
    this.btnStep.disabled = pos >= total;
    this.btnEvent.disabled = pos >= total;
    this.root.dataset.position = String(pos);
    this.root.dataset.lesson = v.lesson;
    const step = asking ?? (pos > 0 ? this.lesson.steps[pos - 1] : null);
    const ask = Boolean(asking);
    this.story.render(v, { lesson: this.lesson, step, asking: ask, answers: this.answers });
    this.code.render(v, { step, asking: ask });
    const g = guestCpu(this.doc, v, { asking: ask, src: this.w, pos: this.insn, announce: (t) => this.announce(t),
      onMove: (p, pane) => { this.insn = p; if (this.pane === pane) this.syncLink(); } });
    this.pane = g.pane;
    this.state.render(v, { asking: ask, guest: g.el });
  }
}
