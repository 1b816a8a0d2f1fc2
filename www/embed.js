// embed.html?lesson=04-read-runs-the-guest&step=3: one lesson for an <iframe>, without the course list.
// embed.html?src=week3/my.lesson&step=2: a lesson file of your own instead (relative to embed.html, its
// Guest programs beside it), shown by the <lguest-sim> element, errors included.
// The title names the lesson and step; the keys work once the frame has focus.

import { mountWalkthrough } from './walk.js';

const q = new URLSearchParams(location.search);
// ?theme=dark or light (say, to match the course page around the frame); by default the system's.
if (['dark', 'light'].includes(q.get('theme'))) document.documentElement.dataset.lgsTheme = q.get('theme');
const main = document.getElementById('walk');
const titled = (title, position, total) => { document.title = `${title}, step ${position} of ${total} — lguest-sim`; };

if (q.has('src')) {
  // The element fetches the file and its Guests, checks it and shows its problems in words.
  await import('./lguest-sim.js');
  const el = document.createElement('lguest-sim');
  el.setAttribute('src', q.get('src'));
  for (const a of ['step', 'theme']) if (q.has(a)) el.setAttribute(a, q.get(a));
  el.setAttribute('compact', '');
  main.replaceChildren(el);
  main.removeAttribute('aria-label'); // the element is the landmark, named by its lesson
  const title = () => titled(el.controller?.lesson?.title ?? q.get('src'), el.position, el.total);
  el.addEventListener('lguest-sim:step', title);
  el.ready.then(() => {
    title();
    document.body.dataset.ready = 'true';
  }, (e) => {
    document.title = `${q.get('src')}: cannot be shown — lguest-sim`;
    document.body.dataset.ready = 'false';
  });
} else {
  mountWalkthrough(main, { lesson: q.get('lesson') ?? undefined, step: Number(q.get('step') ?? 0) || 0, keys: document, picker: false })
    .then((c) => {
      const title = () => titled(c.lesson.title, c.w.position(), c.w.total());
      main.addEventListener('lguest-sim:step', title);
      title();
      document.body.dataset.ready = 'true';
    }, (e) => {
      main.textContent = `The simulator could not start: ${e.message}`;
      document.body.dataset.ready = 'false';
    });
}
