// The RCU pane: pick the eventfd map's code (correct, or one piece broken), run the explorer over every
// interleaving (`RcuRun.explore`), and step the shortest counterexample: every step so far as a sequence
// diagram (a lane per CPU, the grace periods, the step that broke a check), then the moment now in lanes
// with the tasks, the map's versions (#n, as the Host numbers its maps) and who holds each. Owns its one
// `RcuRun`. Without its form (`form: false`) it is only the stepper, which a lesson step opens in place.

import { RcuRun, RcuExplore } from './pkg/lguest_sim.js';
import { builder } from './dom.js';
import { figure } from './diagram.js';

export class RcuPane {
  constructor(doc, { announce, form: withForm = true }) {
    this.doc = doc;
    this.announce = announce;
    this.run = null; // the RcuRun stepping a counterexample
    this.check = null; // the check it breaks: { name, counterexample, words, length }
    const H = builder(doc);
    this.lanes = H('div', { class: 'lgs-rcu-run' });
    if (!withForm) { this.el = this.lanes; return; }
    const sel = (cls, label, options, value, words = {}) => {
      const e = H('select', { class: cls }, options.map((o) => H('option', { value: o }, words[o] ?? o)));
      e.value = value;
      return H('label', {}, `${label} `, e);
    };
    const num = (cls, label, value, min, max) => H('label', {}, `${label} `, H('input', { type: 'number', class: cls, value, min, max, inputmode: 'numeric' }));
    const form = H('form', { class: 'lgs-rcu-form' },
      sel('lgs-rcu-variant', 'Code', RcuRun.variants(), 'no-synchronize-rcu'),
      sel('lgs-rcu-memory', 'Memory', ['sc', 'weak'], 'sc', { sc: 'sc: every CPU sees stores in one order', weak: 'weak: a load may see an older value (as on Alpha)' }),
      num('lgs-rcu-readers', 'Readers', 1, 0, 2), num('lgs-rcu-writers', 'Writers', 1, 0, 2), num('lgs-rcu-cpus', 'CPUs', 2, 1, 3),
      num('lgs-rcu-initial', 'Entries at start', 1, 0, 2),
      H('button', { type: 'submit', class: 'lgs-rcu-explore' }, 'Run the explorer'));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.explore(form); });
    this.report = H('div', { class: 'lgs-rcu-report' });
    this.el = H('section', { class: 'lgs-rcu-pane', 'aria-label': 'RCU explorer' }, H('h3', {}, 'RCU: break the eventfd map on purpose'),
      H('p', {}, 'Readers run send_notify_to_eventfd() under rcu_read_lock(); writers run add_eventfd(). Pick the code (correct, or with one piece broken), run every interleaving, then step through the shortest schedule that goes wrong.'),
      form, this.report, this.lanes);
  }

  /** Run the explorer on what `form` says, in slices (the page stays live, with progress and a Stop
   *  button), and report each check. */
  explore(form) {
    const H = builder(this.doc);
    const v = (c) => form.querySelector(c).value;
    const args = [v('.lgs-rcu-variant'), v('.lgs-rcu-memory'), Number(v('.lgs-rcu-readers')), Number(v('.lgs-rcu-writers')), Number(v('.lgs-rcu-cpus')), Number(v('.lgs-rcu-initial'))];
    this.stopExploring();
    const ex = new RcuExplore(...args);
    const status = H('span', { class: 'lgs-rcu-progress' }, 'Exploring…');
    const stop = H('button', { type: 'button', class: 'lgs-rcu-stop', onclick: () => this.stopExploring('Stopped: nothing was reported.') }, 'Stop');
    this.report.replaceChildren(H('p', { 'aria-busy': 'true' }, status, ' ', stop));
    this.exploring = { ex, timer: 0 };
    const slice = () => {
      if (this.exploring?.ex !== ex) return;
      // Slices (each a bounded number of model steps) until about 16 ms have gone, then a paint.
      const t0 = performance.now();
      let p = ex.run();
      while (!p.done && performance.now() - t0 < 16) p = ex.run();
      if (!p.done) {
        status.textContent = `Exploring… ${p.states.toLocaleString('en')} distinct states, ${p.schedules.toLocaleString('en')} schedules counted so far`;
        this.exploring.timer = setTimeout(slice, 0);
        return;
      }
      this.exploring = null;
      ex.free();
      // The Stop button goes with the progress line: a keyboard user on it is put back on the form's button.
      const refocus = this.doc.activeElement === stop;
      if (p.error) {
        this.report.replaceChildren(H('p', { class: 'bad', role: 'alert' }, p.error));
        this.announce(p.error);
      } else {
        this.showReport(args, p.report);
      }
      if (refocus) form.querySelector('.lgs-rcu-explore')?.focus();
    };
    this.exploring.timer = setTimeout(slice, 0);
  }

  /** Stop an exploration under way (saying `why` in the report, if given). */
  stopExploring(why) {
    if (!this.exploring) return;
    clearTimeout(this.exploring.timer);
    this.exploring.ex.free();
    this.exploring = null;
    this.el.querySelector('.lgs-rcu-explore')?.focus();
    if (why) {
      this.report.replaceChildren(builder(this.doc)('p', {}, why));
      this.announce(why);
    }
  }

  /** The explorer's report `r` for `args`: a line of totals and a table of the checks. */
  showReport(args, r) {
    const H = builder(this.doc);
    const found = r.checks.filter((c) => c.schedules > 0);
    this.report.replaceChildren(
      H('p', {}, `${r.schedules}${r.saturated ? '+' : ''} schedules, ${r.states} distinct states: `, found.length ? H('strong', { class: 'bad' }, `✗ ${found.map((c) => c.name).join(', ')}`) : H('strong', { class: 'ok' }, '✓ nothing goes wrong')),
      H('table', { class: 'lgs-rcu-checks' }, H('caption', {}, 'Each check: how many schedules break it'),
        H('thead', {}, H('tr', {}, ['check', 'schedules that break it', 'shortest counterexample', ''].map((t) => H('th', { scope: 'col' }, t)))),
        H('tbody', {}, r.checks.map((c) => H('tr', { class: c.schedules ? 'bad' : '' }, H('td', {}, c.name), H('td', {}, c.schedules ? `✗ ${c.schedules}` : '✓ 0'),
          H('td', {}, c.counterexample ? [H('code', {}, c.counterexample), H('br'), c.words] : '—'),
          H('td', {}, c.counterexample ? H('button', { type: 'button', class: 'lgs-rcu-open', onclick: () => this.open(args, c) }, `Step through it (${c.length} steps)`) : ''))))));
    this.announce(`The explorer ran ${r.schedules} schedules: ${found.length ? found.map((c) => `${c.name} on ${c.schedules}`).join(', ') : 'nothing goes wrong'}.`);
  }

  /** Open `check`'s counterexample for the explorer's `args` in the lanes, at its start. */
  open(args, check) {
    this.run?.free();
    this.run = RcuRun.open(...args, check.counterexample);
    this.check = check;
    this.render(this.run.view());
    this.lanes.querySelector('.lgs-rcu-step')?.focus();
  }

  /** One step: the schedule's next (no `cpu`), or CPU `cpu`'s. */
  step(cpu) {
    const err = cpu === undefined ? this.run.step() : this.run.stepCpu(cpu);
    if (err) this.announce(err.message);
    this.render(this.run.view());
  }

  back() {
    this.run.back();
    this.render(this.run.view());
  }

  /** Draw `v`, the `RcuRun` view of the schedule's current position. */
  render(v) {
    const H = builder(this.doc);
    const s = v.snapshot;
    const controls = H('div', { class: 'lgs-rcu-controls', role: 'group', 'aria-label': 'RCU run controls' },
      H('button', { type: 'button', class: 'lgs-rcu-back', disabled: v.position === 0, onclick: () => this.back() }, '◀ Back'),
      H('button', { type: 'button', class: 'lgs-rcu-step', disabled: v.position >= v.length || s.finished, onclick: () => this.step() }, 'Next step of the schedule ▶'),
      s.enabledCpus.map((c) => H('button', { type: 'button', class: 'lgs-rcu-cpu', onclick: () => this.step(c) }, `Run CPU ${c}`)),
      H('span', { class: 'lgs-counter' }, ` Step ${v.position} of ${v.length}`));
    const lanes = H('div', { class: 'lgs-lanes' }, s.cpus.map((c) => H('div', { class: `lgs-lane${c.inReadSide ? ' reading' : ''}`, 'data-cpu': c.id },
      H('h4', {}, `CPU ${c.id}`),
      H('p', {}, 'running: ', H('strong', {}, c.running ?? 'idle'), c.inIrq ? ` (in ${c.inIrq}'s interrupt)` : ''),
      H('p', { class: 'lgs-rs' }, c.inReadSide ? '● inside rcu_read_lock()' : '○ not in a read-side section'),
      H('p', { class: 'lgs-next' }, `next: ${c.next}`))));
    const tasks = H('table', { class: 'lgs-rcu-tasks' }, H('caption', {}, 'Tasks'), H('tbody', {}, s.tasks.map((t) => H('tr', {},
      H('th', { scope: 'row' }, `${t.name} (${t.role}, CPU ${t.cpu})`),
      H('td', {}, t.done ? 'done' : t.program[t.pc] ? ['at: ', H('code', {}, t.program[t.pc])] : '', t.blocked ? ` — blocked: ${t.blocked}` : ''),
      H('td', {}, t.holds !== null && t.holds !== undefined ? `holds map #${t.holds}` : '')))));
    const versions = H('table', { class: 'lgs-rcu-versions' }, H('caption', {}, `Map versions (lg->eventfds = ${s.eventfds}; #n: the nth map this machine allocated, #0 the one it starts with)`),
      H('thead', {}, H('tr', {}, ['map', 'life', 'num', 'entries', 'held by'].map((x) => H('th', { scope: 'col' }, x)))),
      H('tbody', {}, s.versions.map((x) => H('tr', { class: x.life === 'freed' ? (x.heldBy.length ? 'bad freed' : 'freed') : '' },
        H('td', {}, `#${x.id}`), H('td', {}, x.life), H('td', {}, x.num),
        H('td', {}, x.entries.map((e) => `${e.addr}→${e.event}`).join(', ') || '—'),
        H('td', {}, x.heldBy.join(', ') || '—')))));
    const gps = s.gracePeriods.length ? H('ul', { class: 'lgs-gps' }, s.gracePeriods.map((g) => H('li', {}, `Grace period of ${g.by}: ${g.done ? 'over' : 'waiting'} — `,
      g.cpus.map((c) => `CPU ${c.cpu} ${c.quiescent ? '✓ quiescent' : '… ' + c.why}`).join('; ')))) : H('p', {}, 'No grace period yet.');
    const viol = v.violations.length ? H('div', { class: 'lgs-violations', role: 'alert' }, v.violations.map(([name, text]) => H('p', { class: 'bad' }, H('strong', {}, `✗ ${name}: `), text))) : '';
    const last = v.last ? H('p', { class: 'lgs-rcu-last' }, `Last: CPU ${v.last.cpu}, ${v.last.task} in ${v.last.function}() ${v.last.tag}: `, H('code', {}, v.last.step), ` — ${v.last.text ?? ''}`) : H('p', {}, 'At the start: nothing has run.');
    const left = v.left ? H('p', { class: 'lgs-rcu-left', role: 'status' }, v.left) : '';
    this.lanes.replaceChildren(H('h4', {}, `Counterexample for ${this.check.name}: `, H('code', {}, this.check.counterexample)),
      H('p', { class: 'lgs-hint' }, `Read as: ${this.check.words} (the CPU that takes each step; a task runs on its own CPU).`),
      controls, last, viol, left, figure(this.doc, v.sequence), H('h4', {}, 'Now'), figure(this.doc, v.map), lanes, tasks, versions, gps);
    this.announce(`RCU step ${v.position} of ${v.length}. ${v.last ? `${v.last.task} on CPU ${v.last.cpu}: ${v.last.step}.` : ''} ${v.violations.map(([name]) => `${name}!`).join(' ')} ${v.left ?? ''}`);
  }
}
