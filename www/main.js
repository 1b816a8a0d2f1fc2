// The walkthrough page: the course's lessons on the left, the current lesson in <main>, the position kept in
// the URL (#lesson=04-read-runs-the-guest&step=3, and &insn=N for a Guest instruction of that step) so any
// step can be linked to and reopened.

import { mountWalkthrough, loadSimulator } from './walk.js';

function parseHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const insn = p.get('insn');
  return { lesson: p.get('lesson') ?? undefined, step: Number(p.get('step') ?? 0) || 0, insn: insn === null ? undefined : Number(insn) || 0 };
}

/** The theme switch: as the system (walk.css follows prefers-color-scheme), or light or dark, remembered. */
function themeSwitch() {
  const sel = document.getElementById('theme');
  const apply = (t) => {
    if (t) document.documentElement.dataset.lgsTheme = t;
    else delete document.documentElement.dataset.lgsTheme;
  };
  let saved = '';
  try { saved = localStorage.getItem('lguest-sim-theme') ?? ''; } catch { /* storage may be off */ }
  sel.value = ['light', 'dark'].includes(saved) ? saved : '';
  apply(sel.value);
  sel.addEventListener('change', () => {
    apply(sel.value);
    try { localStorage.setItem('lguest-sim-theme', sel.value); } catch { /* not remembered, still applied */ }
  });
}

async function start() {
  themeSwitch();
  const main = document.getElementById('walk');
  try {
    const W = await loadSimulator();
    const lessons = W.lessonTitles();
    const list = document.getElementById('lessons');
    const want = parseHash();
    const w = await mountWalkthrough(main, { ...want, keys: document, hash: true });
    let marked = null; // the lesson marked current: a step within it changes nothing in the list
    const mark = () => {
      if (marked === main.dataset.lesson) return;
      marked = main.dataset.lesson;
      for (const a of list.querySelectorAll('a')) {
        if (a.dataset.id === main.dataset.lesson) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
    };
    list.replaceChildren(...lessons.map((l) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#lesson=${encodeURIComponent(l.id)}&step=0`;
      a.dataset.id = l.id;
      a.textContent = l.title;
      li.append(a);
      return li;
    }));
    main.addEventListener('lguest-sim:step', mark);
    mark();
    window.addEventListener('hashchange', () => {
      const h = parseHash();
      if (h.lesson && h.lesson !== main.dataset.lesson) w.open(h.lesson, h.step);
      else if (h.step !== Number(main.dataset.position)) w.goTo(h.step);
      if (h.insn !== undefined && w.pane && h.insn !== w.pane.pos) w.pane.goTo(h.insn, true);
    });
    performance.mark('lguest-sim-interactive');
    document.body.dataset.ready = 'true';
  } catch (e) {
    main.textContent = `The simulator could not start: ${e.message}`;
    document.body.dataset.ready = 'false';
  }
}

start();
