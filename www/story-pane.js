// The lesson commentary: the lesson's goals and introduction, then each step's prose (through md.js), the
// functions it is about, its question, its results and explorer runs, and its explanation; at the end, the
// next lesson. While a question is asked it shows the choices and the lines the step will run, without
// their expected results. Needs the step view, `Walkthrough.lesson()` and the answers so far; hands a
// choice to `answer`, the next lesson to `open`, and opens an explorer run's counterexample in place.

import { builder } from './dom.js';
import { renderMarkdown, inline } from './md.js';
import { resultList } from './results.js';
import { RcuPane } from './rcu-pane.js';
import { tagMeaning } from './state-pane.js';
import { figure } from './diagram.js';

export class StoryPane {
  /** Fill `el` in document `doc`; `next`: the lesson after this one's `{ id, title }`, given its id. */
  constructor(doc, el, { answer, announce, open, next }) {
    this.doc = doc;
    this.el = el;
    this.answer = answer;
    this.announce = announce;
    this.open = open;
    this.next = next;
    this.prose = new Map(); // Markdown text -> its rendering
    // The headings stay from step to step (their text changes), and a focus on them with them.
    const H = builder(doc);
    this.title = H('h2', { class: 'lgs-title' });
    this.stepTitle = H('h3', { class: 'lgs-step-title' });
  }

  /** The headings (`step`: null at the introduction), left in place, then `rest`. */
  fill(title, step, rest) {
    if (this.title.textContent !== title) this.title.textContent = title;
    if (step !== null && this.stepTitle.textContent !== step) this.stepTitle.textContent = step;
    const head = step === null ? [this.title] : [this.title, this.stepTitle];
    if (this.el.firstChild !== this.title || (step === null) === (this.title.nextSibling === this.stepTitle)) {
      this.el.replaceChildren(...head, ...rest);
      return;
    }
    const last = head.at(-1);
    while (last.nextSibling) last.nextSibling.remove();
    this.el.append(...rest);
  }

  /**
   * Draw step view `v` of `lesson` at lesson step `step` (null: the introduction). `asking`: `step` is the
   * next step and its question is being asked; `answers`: step number -> the choice the student picked.
   */
  render(v, { lesson, step = null, asking = false, answers = new Map() }) {
    const H = builder(this.doc);
    // A lesson may draw one of the step's pictures in its prose: ![the map](diagram:map).
    const diagram = (name, title) => (['system', 'map', 'memory', 'ptes'].includes(name) && v[name] ? figure(this.doc, v[name], { plain: asking, title }) : null);
    // Prose without a picture renders the same every time: it is built once and copied.
    const md = (t) => {
      if (String(t).includes('](diagram:')) return renderMarkdown(t, this.doc, { diagram });
      if (!this.prose.has(t)) this.prose.set(t, renderMarkdown(t, this.doc));
      return this.prose.get(t).cloneNode(true);
    };
    const L = lesson;
    const s = step;
    const out = [];
    if (!s) {
      if (L.goals.length) out.push(H('p', {}, 'By the end you will understand:'), H('ul', { class: 'lgs-goals' }, L.goals.map((g) => H('li', {}, inline(g, this.doc)))));
      out.push(H('div', { class: 'lgs-prose' }, md(L.intro)));
      out.push(H('p', { class: 'lgs-hint' }, `This lesson has ${L.steps.length} steps. Press Step ▶ (or →) to begin.`));
      this.fill(L.title, null, out);
      return;
    }
    const about = s.about.filter((a, i) => s.about.findIndex((b) => b.func === a.func) === i);
    if (about.length) {
      out.push(H('p', { class: 'lgs-about' }, 'About: ', about.map((a, i) => [i ? ', ' : '',
        a.link ? H('a', { href: a.link, target: '_blank', rel: 'noopener' }, `${a.func}()`) : `${a.func}()`, ' ', H('abbr', { class: 'lgs-tag', title: tagMeaning(a.tag) }, a.tag)])));
    }
    out.push(H('div', { class: 'lgs-prose' }, md(s.prose)));
    if (s.question) out.push(this.question(s, asking, answers.get(s.number)));
    if (asking) {
      out.push(H('p', { class: 'lgs-hint' }, 'Choose an answer (keys 1–9), or press Step ▶ to see what happens.'));
      out.push(H('h4', {}, 'What this step will run'), H('pre', { class: 'lgs-lines' }, H('code', {},
        // Without the expected results and the checks: they would give the answer away.
        s.lines.filter((l) => l.call !== 'expect').map((l) => l.action).join('\n'))));
      this.fill(L.title, `Step ${s.number}: ${s.title}`, out);
      return;
    }
    if (v.results.length) out.push(resultList(this.doc, v.results));
    if (v.rcu.length) out.push(H('h4', {}, 'The RCU explorer’s runs'));
    v.rcu.forEach((r, i) => out.push(this.explorerRun(r, s.rcu.find((x) => x.line === r.line), v.rcuSchedules[i])));
    if (s.explain.trim()) out.push(H('div', { class: 'lgs-prose lgs-explain' }, md(s.explain)));
    if (v.position === v.total) {
      const nx = this.next(L.id);
      out.push(H('p', { class: 'lgs-hint' }, v.allOk ? 'End of the lesson: every result was as the lesson said.' : 'End of the lesson.'),
        nx ? H('p', {}, H('button', { type: 'button', class: 'lgs-next-lesson', onclick: () => this.open(nx.id) }, `Next lesson: ${nx.title} ▶`))
          : H('p', {}, 'That was the last lesson: play freely below, or in the lab.'));
    }
    this.fill(L.title, `Step ${s.number}: ${s.title}`, out);
  }

  /** The heading of what is shown: the step's, or the lesson's at its introduction (null before the first). */
  heading() {
    return this.stepTitle.parentNode === this.el ? this.stepTitle : this.title.parentNode === this.el ? this.title : null;
  }

  /** Put the focus on the first choice of the question shown, if there is one. */
  focusChoice() { this.el.querySelector('.lgs-choice')?.focus({ preventScroll: true }); }

  /** Step `s`'s question: its choices while `asking`, else the verdict on `picked` (or just the answer). */
  question(s, asking, picked) {
    const H = builder(this.doc);
    const q = s.question;
    const box = H('div', { class: 'lgs-question', role: 'group', 'aria-label': 'Question' }, H('p', { class: 'lgs-q' }, H('strong', {}, 'Question: '), inline(q.text, this.doc)));
    if (asking) {
      const choices = q.choices.length ? q.choices : [q.answer];
      box.append(H('div', { class: 'lgs-choices' }, choices.map((c, i) =>
        H('button', { type: 'button', class: 'lgs-choice', onclick: () => this.answer(c) }, H('kbd', {}, String(i + 1)), ' ', H('code', {}, c)))));
    } else if (picked !== undefined) {
      // The student's own answer, told apart from the lines' ✓/✗ (which say whether the kernel did as the
      // lesson says): it is theirs, in their box.
      const right = picked === q.answer;
      box.append(H('p', { class: `lgs-verdict ${right ? 'ok' : 'bad'}` }, right ? '✓ Right: ' : '✗ Not quite: ',
        'you chose ', H('code', {}, picked), right ? '.' : [', the answer is ', H('code', {}, q.answer), '.']));
    } else {
      box.append(H('p', { class: 'lgs-verdict' }, 'You did not answer this one. The answer: ', H('code', {}, q.answer)));
    }
    return box;
  }

  /** One explorer run `r` of the step, from its lesson line `line` (`sched`: its counterexample in words and
   *  its length): what it found, and its counterexample, opened in place below it. */
  explorerRun(r, line, sched) {
    const H = builder(this.doc);
    const box = H('div', { class: `lgs-rcu ${r.ok ? 'ok' : 'bad'}`, 'data-ok': String(r.ok) },
      H('span', { class: 'lgs-mark' }, r.ok ? '✓' : '✗', H('span', { class: 'vh' }, r.ok ? ' as the lesson says: ' : ' not as the lesson says: ')),
      line ? H('code', {}, line.source) : '',
      H('div', { class: 'lgs-why' }, `${r.schedules} schedules explored; found: `, H('strong', {}, r.found.length ? r.found.join(', ') : 'nothing wrong'),
        sched ? [' (shortest counterexample: ', sched[0], ') '] : '', r.message ? ` ${r.message}` : ''));
    if (r.counterexample && sched && line) {
      box.append(H('button', { type: 'button', class: 'lgs-rcu-lesson-open', onclick: (e) => {
        const pane = new RcuPane(this.doc, { announce: this.announce, form: false });
        e.currentTarget.replaceWith(pane.el);
        pane.open([line.variant, line.memory, line.readers, line.writers, line.cpus, line.initial],
          { name: r.found[0], counterexample: r.counterexample, words: sched[0], length: sched[1] });
      } }, 'Step through it here'));
    }
    return box;
  }
}
