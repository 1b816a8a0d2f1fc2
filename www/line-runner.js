// Scenario lines run one at a time in a wasm `Simulator`, for a page that lets a student type them (free
// play, the lab page). It keeps the Simulator's view after each line (the first before any), so a page can
// show the last line marked against the one before and step back to any of them. A `read` or `wait` the
// Guest keeps asleep goes on in slices (Simulator.sliceBudget() units of work at most, each slice a task
// of its own), so the page never blocks however long the Guest runs; the line keeps its one entry, its
// view replaced by the one its last slice leaves. Nothing here words the machine: the views are Rust's.

import { Simulator } from './pkg/lguest_sim.js';

/** How long one slice of a line going on should take, in ms: well under the 50 ms of a long task. The
 *  same budget's slices of one Guest vary threefold in time (its event log and checkpoints grow in steps:
 *  `cargo test --release --test slices -- --ignored --nocapture time_of`), so the aim is a quarter of it. */
const TARGET_MS = 12;

export class LineRunner {
  /**
   * Hooks, each optional: `going(text, stop)` when a line starts to go on in slices (`text`: where it is, in
   * Rust's words; `stop()`: stop it where it is, saying so); `progress(text)` as it goes, at most twice a
   * second; `ended(said)` once its last slice is in (its view replaced) or it was stopped with words.
   */
  constructor({ going = () => {}, progress = () => {}, ended = () => {} } = {}) {
    this.hooks = { going, progress, ended };
    this.sim = null;
    this.views = []; // the Simulator's view after each line run, the first before any
    this.run = null; // the line going on in slices: { end(said) }
    this.budget = null; // the units a slice of this Simulator's Guest does in about TARGET_MS, once measured
  }

  /** Learn the next slice's budget from one of `budget` units that took `took` ms: aimed at TARGET_MS,
   *  between a 64th of the page's slice and all of it (the core counts work, not time, and a unit's time
   *  depends on what the Guest does), at most twice the last. */
  learn(budget, took) {
    const most = Simulator.sliceBudget();
    this.budget = Math.round(Math.min(most, Math.max(most / 64, budget * Math.min(2, TARGET_MS / Math.max(took, 1)))));
  }

  /** The budget of the next slice: what this Guest was measured to do in TARGET_MS, or a 64th of a slice
   *  for a Guest not measured yet. */
  get slice() { return this.budget ?? Math.ceil(Simulator.sliceBudget() / 64); }

  /** Run lines in `sim` from where it is now (a new Simulator, or one just reset or loaded). */
  use(sim) {
    this.stop();
    this.sim = sim;
    this.budget = null;
    this.views = [sim.view()];
  }

  /** The view after the last line (or before any). */
  get view() { return this.views.at(-1); }

  /** The view before the last line, or null before any line. */
  get prev() { return this.views.length > 1 ? this.views.at(-2) : null; }

  /** Whether a line goes on in slices now. */
  get going() { return this.run !== null; }

  /**
   * Run one line: the step the Simulator returns (`null` for a blank line or a comment; `{ ok: false, line,
   * message }` with no `source` for a line that does not parse, which changes nothing and is not kept).
   * A line that ran has its view kept before this returns; if it must go on, `going` has been called and
   * its slices follow, after the caller's turn.
   */
  line(text) {
    this.stop();
    // A line starts with what a slice of this Guest did in TARGET_MS before, or with a 64th of a slice for
    // a Guest not measured yet: one whose units cost more time than most (one that rewrites its own code
    // every instruction ran 2.5 M a second) would otherwise make its first slice a long task (an eighth
    // of a slice took 75 ms for it).
    const first = this.slice;
    const t0 = performance.now();
    const r = this.sim.execWithBudget(text, first);
    if (r === null || r.source === undefined) return r;
    if (this.sim.goingOn()?.more) this.learn(first, performance.now() - t0);
    this.views.push(this.sim.view());
    this.goOn(); // the first slice comes later, after the caller has shown the line
    return r;
  }

  /** Go on with the last line a slice at a time, each slice its own task, until its call returns, nothing
   *  more happens, or it is stopped. */
  goOn() {
    if (this.run || !this.sim.goingOn()?.more) return;
    // The budget follows the time a slice takes (learn).
    let shown = performance.now();
    const run = {
      end: (said) => {
        if (this.run !== run) return;
        this.run = null;
        this.views[this.views.length - 1] = this.sim.view(); // the line keeps its one entry
        this.hooks.ended(said);
      },
    };
    this.run = run;
    this.hooks.going(this.sim.goingOn().text, () => this.stop(true));
    const slice = () => {
      if (this.run !== run) return;
      const t0 = performance.now();
      const budget = this.slice;
      this.sim.goOn(budget);
      this.learn(budget, performance.now() - t0);
      const g = this.sim.goingOn();
      if (!g?.more) { run.end(g?.text ?? 'The line has ended.'); return; }
      // Words at most twice a second: a screen reader is not flooded, and the slices stay short.
      if (performance.now() - shown > 500) { this.hooks.progress(g.text); shown = performance.now(); }
      later(slice);
    };
    later(slice);
  }

  /** Stop the line going on in slices, if one is; `said`: end it as if it had ended there, with Rust's
   *  words for where it stopped (else it is simply dropped, as before another line or a step back). */
  stop(said = false) {
    if (!this.run) return;
    const g = this.sim.stop();
    if (said) this.run.end(g?.text ?? 'Stopped.');
    else this.run = null;
  }

  /** Take the last line back (with its slices): false if there is none. */
  back() {
    this.stop();
    if (this.views.length < 2 || !this.sim.back()) return false;
    this.views.pop();
    return true;
  }
}

/** Run `f` as a task of its own, after the browser has had its turn (painting, input). */
function later(f) {
  if (globalThis.scheduler?.postTask) globalThis.scheduler.postTask(f, { priority: 'user-visible' });
  else setTimeout(f, 0);
}
