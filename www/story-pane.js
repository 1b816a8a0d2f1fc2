// The lesson commentary: the lesson's goals and introduction, then each step's prose (through md.js), the
// functions it is about, its question, its results and explorer runs, and its explanation. While a question
// is asked it shows the choices and the lines the step will run, without their expected results. Needs the
// step view, `Walkthrough.lesson()` and the answers so far; hands a choice to `answer` and a counterexample
// to `openRcu`.

import { builder } from './dom.js';
import { renderMarkdown, inline } from './md.js';
import { resultList } from './results.js';
import { actionText, isCheck } from './scenario-line.js';

export class StoryPane {
  /** Fill `el` in document `doc`. */
  constructor(doc, el, { answer, openRcu }) {
    this.doc = doc;
    this.el = el;
    this.answer = answer;
    this.openRcu = openRcu;
  }

  /**
   * Draw step view `v` of `lesson` at lesson step `step` (null: the introduction). `asking`: `step` is the
   * next step and its question is being asked; `answers`: step number -> the choice the student picked.
   */
  render(v, { lesson, step = null, asking = false, answers = new Map() }) {
    const H = builder(this.doc);
    const md = (t) => renderMarkdown(t, this.doc);
    const L = lesson;
    const s = step;
    const out = [H('h2', { class: 'lgs-title' }, L.title)];
    if (!s) {
      if (L.goals.length) out.push(H('p', {}, 'By the end you will understand:'), H('ul', { class: 'lgs-goals' }, L.goals.map((g) => H('li', {}, inline(g, this.doc)))));
      out.push(H('div', { class: 'lgs-prose' }, md(L.intro)));
      out.push(H('p', { class: 'lgs-hint' }, `This lesson has ${L.steps.length} steps. Press Step ▶ (or →) to begin.`));
      this.el.replaceChildren(...out);
      return;
    }
    out.push(H('h3', { class: 'lgs-step-title' }, `Step ${s.number}: ${s.title}`));
    if (s.about.length) {
      out.push(H('p', { class: 'lgs-about' }, 'About: ', s.about.map((a, i) => [i ? ', ' : '',
        a.link ? H('a', { href: a.link, target: '_blank', rel: 'noopener' }, `${a.func}()`) : `${a.func}()`, ` ${a.tag}`])));
    }
    out.push(H('div', { class: 'lgs-prose' }, md(s.prose)));
    if (s.question) out.push(this.question(s, asking, answers.get(s.number)));
    if (asking) {
      out.push(H('p', { class: 'lgs-hint' }, 'Choose an answer (keys 1–9), or press Step ▶ to see what happens.'));
      out.push(H('h4', {}, 'What this step will run'), H('pre', { class: 'lgs-lines' }, H('code', {},
        // Without the expected results and the checks: they would give the answer away.
        s.lines.map((l) => actionText(l.source)).filter((l) => !isCheck(l)).join('\n'))));
      this.el.replaceChildren(...out);
      return;
    }
    if (v.results.length) out.push(resultList(this.doc, v.results));
    if (v.rcu.length) out.push(H('h4', {}, 'The RCU explorer’s runs'));
    for (const r of v.rcu) out.push(this.explorerRun(r, s.rcu.find((x) => x.line === r.line)));
    if (s.explain.trim()) out.push(H('div', { class: 'lgs-prose lgs-explain' }, md(s.explain)));
    if (v.position === v.total) out.push(H('p', { class: 'lgs-hint' }, v.allOk ? 'End of the lesson: every result was as the lesson said. Pick the next lesson, or play freely in the lab.' : 'End of the lesson.'));
    this.el.replaceChildren(...out);
  }

  /** Put the focus on the first choice of the question shown, if there is one. */
  focusChoice() { this.el.querySelector('.lgs-choice')?.focus(); }

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
      const right = picked === q.answer;
      box.append(H('p', { class: `lgs-verdict ${right ? 'ok' : 'bad'}` }, right ? '✓ Right: ' : '✗ Not quite: ',
        'you chose ', H('code', {}, picked), right ? '.' : [', the answer is ', H('code', {}, q.answer), '.']));
    } else {
      box.append(H('p', { class: 'lgs-verdict' }, 'Answer: ', H('code', {}, q.answer)));
    }
    return box;
  }

  /** One explorer run `r` of the step, from its lesson line `line`: what it found, and its counterexample. */
  explorerRun(r, line) {
    const H = builder(this.doc);
    return H('div', { class: `lgs-rcu ${r.ok ? 'ok' : 'bad'}`, 'data-ok': String(r.ok) },
      H('span', { class: 'lgs-mark' }, r.ok ? '✓' : '✗', H('span', { class: 'vh' }, r.ok ? ' as the lesson says: ' : ' not as the lesson says: ')),
      line ? H('code', {}, actionText(line.source)) : '',
      H('div', { class: 'lgs-why' }, `${r.schedules} schedules explored; found: `, H('strong', {}, r.found.length ? r.found.join(', ') : 'nothing wrong'),
        r.counterexample ? [` (shortest counterexample: CPUs `, H('code', {}, r.counterexample), ') '] : '', r.message ? ` ${r.message}` : ''),
      r.counterexample && line ? H('button', { type: 'button', class: 'lgs-rcu-lesson-open', onclick: () => {
        this.openRcu([line.variant, line.memory, line.readers, line.writers, line.cpus, line.initial],
          { name: r.found[0], counterexample: r.counterexample, length: scheduleLength(r.counterexample) });
      } }, 'Step through it in the RCU lanes') : '');
  }
}

// TODO(view): Rust will send the counterexample's length with it (as `RcuRun.explore`'s checks do); the page
// counts the CPUs in the schedule's text.
/** How many steps a schedule (`0 1 1 0`: the CPU of each step) has. */
function scheduleLength(schedule) {
  return schedule.trim().split(/\s+/).length;
}
