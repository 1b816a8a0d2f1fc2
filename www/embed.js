// embed.html?lesson=04-read-runs-the-guest&step=3: one lesson for an <iframe>, without the course list.
// The title names the lesson and step; the keys work once the frame has focus.

import { mountWalkthrough } from './walk.js';

const q = new URLSearchParams(location.search);
// ?theme=dark or light (say, to match the course page around the frame); by default the system's.
if (['dark', 'light'].includes(q.get('theme'))) document.documentElement.dataset.lgsTheme = q.get('theme');
const main = document.getElementById('walk');
mountWalkthrough(main, { lesson: q.get('lesson') ?? undefined, step: Number(q.get('step') ?? 0) || 0, keys: document, picker: false })
  .then((c) => {
    const title = () => { document.title = `${c.lesson.title}, step ${c.w.position()} of ${c.w.total()} — lguest-sim`; };
    main.addEventListener('lguest-sim:step', title);
    title();
    document.body.dataset.ready = 'true';
  }, (e) => {
    main.textContent = `The simulator could not start: ${e.message}`;
    document.body.dataset.ready = 'false';
  });
