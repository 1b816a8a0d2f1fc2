// The author's page (author.html): write a lesson on the left, see it on the right, with no Rust and no
// server. Every change is checked (150 ms after the last keystroke) by the same Rust checker as
// `lguest-sim check`, run in a worker (author-worker.js) so typing never waits for it; every problem is
// listed with its line, marked beside the text, and a click on it goes there. Each time the lesson parses,
// the preview (a <lguest-sim>) shows it, kept at the step it was at. The lesson, its file name and its
// Guest programs open from files, save to files, stay as a draft in this browser, and travel in a link:
// #share=1.<the JSON of them, deflate-raw compressed, base64url>, so no server holds anything.

import { simulator } from './lguest-sim.js';
import { Simulator } from './pkg/lguest_sim.js';
import { builder, sharedKey } from './dom.js';

const H = builder(document);
const $ = (id) => document.getElementById(id);
const text = $('text');
const gutter = $('gutter');
const marks = $('marks');
const nameIn = $('name');
const preview = $('preview');
const summary = $('summary');
const list = $('problems');
const LINE = 20; // px: author.css's --au-line
const DRAFT = 'lguest-sim-author-draft';
const STARTER = `# A read too early

goals:
- why read() on a fresh /dev/lguest is -EINVAL

The Launcher's first contact with the Host is a file.

## Step: Open the device
about: launcher

Opening \`/dev/lguest\` allocates nothing yet.

\`\`\`scenario
open                 => fd 3
\`\`\`

Descriptors 0, 1 and 2 are taken, so the file gets 3.

## Step: Read before initializing
about: read
question: What does this read() return?
choices: 4 | -EINVAL | -EPERM | blocked
answer: -EINVAL

\`\`\`scenario
read                 => -EINVAL
\`\`\`

\`read()\` finds no \`struct lguest\` in the file's \`private_data\` and gives up.
`;

// ---- the Guest programs given beside the lesson ---------------------------------------------------------
const guests = []; // { name: input, source: textarea, el }

function addGuest(name = 'guests/mine.S', source = '') {
  const g = {};
  g.name = H('input', { type: 'text', value: name, spellcheck: 'false', size: 24, 'aria-label': 'Its name, as the lesson names it' });
  g.source = H('textarea', { wrap: 'off', spellcheck: 'false', 'aria-label': `The source of ${name} (GNU as, AT&T syntax)` });
  g.source.value = source;
  const legend = H('legend', {}, name);
  g.el = H('fieldset', { class: 'au-guest' }, legend,
    H('div', { class: 'au-guest-head' }, H('label', {}, 'Name ', g.name),
      H('button', { type: 'button', onclick: () => download(g.name.value.split('/').pop() || 'guest.S', g.source.value) }, 'Save'),
      H('button', { type: 'button', onclick: () => { g.el.remove(); guests.splice(guests.indexOf(g), 1); changed(); } }, 'Remove')),
    g.source);
  g.name.addEventListener('input', () => {
    legend.textContent = g.name.value;
    g.source.setAttribute('aria-label', `The source of ${g.name.value} (GNU as, AT&T syntax)`);
    changed();
  });
  g.source.addEventListener('input', changed);
  guests.push(g);
  $('guests').append(g.el);
  return g;
}

const guestMap = () => Object.fromEntries(guests.filter((g) => g.name.value.trim()).map((g) => [g.name.value.trim(), g.source.value]));
const current = () => ({ text: text.value, file: nameIn.value.trim() || 'lesson.lesson', guests: guestMap() });

function setAll({ text: t = '', file = 'my-lesson.lesson', guests: gs = {} } = {}) {
  text.value = t;
  nameIn.value = file;
  for (const g of guests.splice(0)) g.el.remove();
  for (const [n, s] of Object.entries(gs)) addGuest(n, s);
  changed();
}

// ---- the gutter and the marks beside the text ---------------------------------------------------------------
let marked = new Map(); // line -> 'bad' | 'warn'

function drawLines() {
  const n = text.value.split('\n').length;
  const rows = [];
  const bands = [];
  for (let i = 1; i <= n; i++) {
    const m = marked.get(i);
    rows.push(H('div', { class: m ?? false }, `${m === 'bad' ? '✗ ' : m === 'warn' ? '! ' : ''}${i}`));
    bands.push(H('div', { class: m ?? false }));
  }
  // Room for the textarea's own scrollbar, so the three scroll as far.
  rows.push(H('div', {}), H('div', {}));
  bands.push(H('div', {}), H('div', {}));
  gutter.replaceChildren(...rows);
  marks.replaceChildren(...bands);
  syncScroll();
}

function syncScroll() {
  gutter.scrollTop = text.scrollTop;
  marks.scrollTop = text.scrollTop;
}

/** Put the caret on line `n` (1-based) and the line in view. */
function goToLine(n) {
  const lines = text.value.split('\n');
  const k = Math.max(1, Math.min(n, lines.length));
  const start = lines.slice(0, k - 1).reduce((a, l) => a + l.length + 1, 0);
  text.focus();
  text.setSelectionRange(start, start + lines[k - 1].length);
  text.scrollTop = Math.max(0, (k - 1) * LINE - text.clientHeight / 3);
  syncScroll();
}

// ---- checking, in the worker --------------------------------------------------------------------------------
const worker = new Worker(new URL('./author-worker.js', import.meta.url), { type: 'module' });
let timer = null;
let busy = null; // what the worker is checking
let again = false; // changed while it was
let seq = 0;

function changed() {
  drawLines();
  clearTimeout(timer);
  timer = setTimeout(check, 150);
  saveDraft();
}

function check() {
  if (busy) { again = true; return; }
  busy = { id: ++seq, ...current() };
  summary.className = '';
  summary.textContent = 'Checking…';
  worker.postMessage(busy);
}

worker.onmessage = (e) => {
  const done = busy;
  busy = null;
  if (e.data.error) {
    summary.className = 'bad';
    summary.textContent = `The checker stopped: ${e.data.error}`;
  } else {
    show(e.data.result, done);
  }
  if (again) { again = false; check(); }
};
worker.onerror = (e) => { summary.className = 'bad'; summary.textContent = `The checker could not start: ${e.message}`; };

/** Show a check of `checked` (the text, file and guests it was made of). */
function show(r, checked) {
  const all = [...r.problems.map((p) => ({ ...p, kind: 'bad' })), ...r.warnings.map((p) => ({ ...p, kind: 'warn' }))]
    .sort((a, b) => a.line - b.line);
  marked = new Map();
  for (const p of all) if (p.line > 0 && marked.get(p.line) !== 'bad') marked.set(p.line, p.kind);
  drawLines();
  list.replaceChildren(...all.map((p) => H('li', { class: p.kind },
    H('button', { type: 'button', onclick: () => goToLine(p.line) }, H('span', { class: 'au-at' }, p.line > 0 ? `line ${p.line}` : checked.file), ': ', p.message))));
  const n = r.problems.length;
  const w = r.warnings.length ? `, ${r.warnings.length} warning${r.warnings.length > 1 ? 's' : ''}` : '';
  summary.className = n ? 'bad' : 'ok';
  summary.textContent = n
    ? `${n} problem${n > 1 ? 's' : ''}${w}. ${r.parses ? 'It parses: the preview shows it as it runs.' : 'It does not parse: the preview shows the last version that did.'}`
    : `No problems${w}: ${r.steps} step${r.steps === 1 ? '' : 's'} and ${r.lines} line${r.lines === 1 ? '' : 's'} replay as the lesson says.`;
  if (r.parses) updatePreview(checked);
}

// ---- the preview -------------------------------------------------------------------------------------------
let shownKey = null;
let token = 0;

/** Show `c` in the preview at the step it was at. The steps up to it run one per task, so a long lesson
 *  never holds the page. */
async function updatePreview(c) {
  const key = JSON.stringify([c.text, c.file, c.guests]);
  if (key === shownKey) return;
  shownKey = key;
  const mine = ++token;
  const at = preview.position;
  try {
    await preview.load({ text: c.text, file: c.file, guests: c.guests });
  } catch {
    return; // the element says why (a Guest program missing or not assembling); the list says it too
  }
  const target = Math.min(at, preview.total);
  for (let k = 1; k < target && mine === token; k++) {
    await new Promise((r) => setTimeout(r, 0));
    preview.controller?.w?.goTo(k); // runs step k in Rust, drawing nothing yet
  }
  if (mine === token && target > 0) preview.goTo(target);
  $('preview-said').textContent = `The lesson as a student will see it (${c.file}), updated each time it parses.`;
}

// ---- files, the draft, the link -----------------------------------------------------------------------------
function download(name, content) {
  const a = H('a', { href: URL.createObjectURL(new Blob([content], { type: 'text/plain' })), download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

$('open').addEventListener('click', () => $('file').click());
$('file').addEventListener('change', async (e) => {
  for (const f of e.target.files) {
    const body = await f.text();
    if (/\.lesson$|\.txt$/i.test(f.name)) {
      text.value = body;
      nameIn.value = f.name;
    } else {
      const name = `guests/${f.name}`;
      const g = guests.find((x) => x.name.value === name) ?? addGuest(name);
      g.source.value = body;
    }
  }
  e.target.value = '';
  changed();
});
$('save').addEventListener('click', () => download(nameIn.value.trim() || 'lesson.lesson', text.value));
nameIn.addEventListener('input', changed);
$('add-guest').addEventListener('click', () => { addGuest(`guests/mine${guests.length ? guests.length + 1 : ''}.S`, ''); changed(); });
text.addEventListener('input', changed);
text.addEventListener('scroll', syncScroll);

function saveDraft() {
  try { localStorage.setItem(DRAFT, JSON.stringify(current())); } catch { /* storage off: the link and Save still work */ }
}

const b64url = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const unb64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const pipe = async (bytes, stream) => new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());

/** The link that carries `c` itself. */
export async function shareLink(c) {
  const packed = await pipe(new TextEncoder().encode(JSON.stringify(c)), new CompressionStream('deflate-raw'));
  return `${location.origin}${location.pathname}#share=1.${b64url(packed)}`;
}

/** What a link's fragment carries, or null; throws if it is damaged. */
async function fromLink(hash) {
  const m = /^#share=1\.([A-Za-z0-9_-]+)$/.exec(hash);
  if (!m) return null;
  const json = new TextDecoder().decode(await pipe(unb64url(m[1]), new DecompressionStream('deflate-raw')));
  const c = JSON.parse(json);
  if (typeof c.text !== 'string') throw new Error('it holds no lesson');
  const gs = Object.fromEntries(Object.entries(c.guests ?? {}).filter(([k, v]) => typeof k === 'string' && typeof v === 'string'));
  return { text: c.text, file: typeof c.file === 'string' ? c.file : 'shared.lesson', guests: gs };
}

$('share').addEventListener('click', async () => {
  const link = await shareLink(current());
  $('share-box').hidden = false;
  const out = $('share-link');
  out.value = link;
  out.focus();
  out.select();
  $('share-said').textContent = `${link.length} characters; it works offline, from any copy of this page.`;
});
$('copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('share-link').value);
    $('share-said').textContent = 'Copied.';
  } catch {
    $('share-link').select();
    $('share-said').textContent = 'Selected: copy it with Ctrl+C (or ⌘C).';
  }
});

// ---- start ------------------------------------------------------------------------------------------------
async function start() {
  const W = await simulator;
  const sel = $('start');
  for (const l of W.lessons()) sel.append(H('option', { value: l.id }, `${l.id}: ${l.title}`));
  sel.addEventListener('change', () => {
    if (!sel.value) return;
    setAll({ text: Simulator.guestSource(`${sel.value}.lesson`) ?? '', file: `${sel.value}.lesson` });
    sel.value = '';
  });
  $('course-guests').textContent = Simulator.guests().join(', ');
  let initial = null;
  try {
    initial = await fromLink(location.hash);
    // From now on the draft holds it: a reload keeps the author's edits, not the link's first version.
    if (initial) history.replaceState(null, '', location.pathname + location.search);
  } catch (e) {
    summary.className = 'bad';
    summary.textContent = `This link's lesson could not be read (${e.message}): it may have been cut short.`;
  }
  if (!initial) {
    try { initial = JSON.parse(localStorage.getItem(DRAFT) ?? 'null'); } catch { initial = null; }
  }
  setAll(initial && typeof initial.text === 'string' ? initial : { text: STARTER, file: 'my-lesson.lesson' });
  clearTimeout(timer);
  check();
  document.body.dataset.ready = 'true';
}

// The keys every page shares (dom.js): ? these keys, / the lesson's text, Escape out of a field, and → n,
// ← b p step the preview (inside the preview, its own keys answer first).
document.addEventListener('keydown', (e) => sharedKey(e, {
  help: () => $('keys').focus(),
  field: () => $('text'),
  leave: (t) => { t.blur(); $('preview').focus({ preventScroll: true }); },
  next: () => $('preview').step(),
  back: () => $('preview').back(),
}));

start().catch((e) => {
  summary.className = 'bad';
  summary.textContent = `The simulator could not start: ${e.message}`;
  document.body.dataset.ready = 'false';
});
