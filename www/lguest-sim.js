// <lguest-sim lesson="02-initialize" step="3"></lguest-sim>: a lesson walkthrough for any course page, with
// one script tag (the path is relative to the page; see the README):
//
//   <script type="module" src="lguest-sim/lguest-sim.js"></script>
//
// Each element renders into its own shadow root and owns its own wasm Walkthrough; the page loads the wasm
// module and the two stylesheets (walk.css, lguest-sim.css) once, as soon as this module runs, and every
// element adopts the same sheets, so one made later, even offline, is styled. The site's own styles do not
// reach inside (lguest-sim.css). Until it is ready the element shows its own children (fallback content).
//
//   attributes (honoured whenever they are set, before or after ready):
//     lesson     a lesson of the course by id (`04-read-runs-the-guest`; the first lesson by default)
//     src        a lesson file to load instead, relative to the page (`week3/my.lesson`), its `guest:`
//                programs fetched beside it (or, if not there, the course's)
//     step       the position to open at (0 = the introduction)
//     compact    no lesson picker, no free play
//     theme      light or dark (by default the page's: data-theme or a dark/light class, else the system's)
//     max-height a CSS length: the element scrolls inside, its toolbar sticking at its top
//     collapsible, collapsed   a button shows and hides the walkthrough (collapsed: hidden to start with)
//   methods: el.step(), el.back(), el.goTo(n), el.nextEvent(), el.reset(), el.open(lesson, step),
//     el.load({ text, file, guests, step }) (a lesson given as text, its Guest programs in `guests`:
//     { 'guests/mine.S': source }; resolves when shown, rejects with its problems),
//     el.instruction(n), el.stepInstruction(), el.backInstruction(), el.runToAddress(addr),
//     el.addBreakpoint(name), el.removeBreakpoint(name)
//   properties: el.position, el.total, el.lessonId, el.ready (resolves to the element once interactive;
//     rejects, with the message the element shows, if it cannot show what was asked)
//   events (bubbling, composed): 'lguest-sim:ready' (always before the first 'lguest-sim:step'),
//     'lguest-sim:step' with detail { lesson, position, total, ok, allOk }, and 'lguest-sim:error' with
//     detail { message, problems } (an unknown lesson, a lesson that does not load or parse)
// From script: import { create } from '.../lguest-sim.js'; create(container, { lesson | src | text, ... }).

import { builder } from './dom.js';

const LINK_BASE = new URL('./index.html', import.meta.url).href;

let styles = null;
/** walk.css and lguest-sim.css as constructed stylesheets, fetched once for every element on the page. */
export function loadStyles() {
  styles ??= Promise.all(['walk.css', 'lguest-sim.css'].map(async (name) => {
    const url = new URL(`./${name}`, import.meta.url).href;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
    const sheet = new CSSStyleSheet({ baseURL: url });
    sheet.replaceSync(await res.text());
    return sheet;
  }));
  return styles;
}

// Start at once, all at the same time: the wasm (fetched now, compiled as it streams in once its glue is
// in), the stylesheets and the walkthrough's modules (walk.js and its panes, imported here rather than
// statically so that nothing waits for them). A page that goes offline later still makes styled, working
// elements. walk.js's loadSimulator() is asked only once the wasm is in: it then finds the module started,
// and the page holds one instance.
// First what the rest waits for (a browser fetches only six files at a time from one server): the wasm
// and its glue, then the stylesheets, then the modules.
const wasmFetch = fetch(new URL('./pkg/lguest_sim_bg.wasm', import.meta.url));
const glue = import('./pkg/lguest_sim.js');
const wasmReady = glue.then((g) => g.default({ module_or_path: wasmFetch }));
const stylesReady = loadStyles();
// The modules walk.js imports, fetched beside it instead of one level of imports after another (a module
// left off this list is still fetched, only later).
const MODULES = ['walk.js', 'story-pane.js', 'code-pane.js', 'state-pane.js', 'guest-pane.js', 'breakpoints.js', 'free-play.js',
  'rcu-pane.js', 'results.js', 'md.js', 'line-runner.js'];
for (const m of MODULES) {
  const href = new URL(`./${m}`, import.meta.url).href;
  if (document.head && !document.querySelector(`link[rel="modulepreload"][href="${CSS.escape(href)}"]`)) {
    document.head.append(Object.assign(document.createElement('link'), { rel: 'modulepreload', href }));
  }
}
const walkReady = import('./walk.js');
const starting = Promise.all([wasmReady.then(() => walkReady).then(async (walk) => ({ W: await walk.loadSimulator(), walk })), stylesReady]);
starting.catch(() => {});

/** Resolves to the wasm's Walkthrough once the module has started (for a page that also calls the wasm's own
 *  functions: wait for this rather than calling its `init()` a second time). */
export const simulator = starting.then(([{ W }]) => W);

/** The page's theme, when it states one: data-theme="dark" (or "light") or a class dark / light on <html> or
 *  <body>, or a color-scheme of just dark or light on <html>. `null`: follow the system. */
function pageTheme() {
  for (const el of [document.documentElement, document.body]) {
    if (!el) continue;
    const t = el.dataset.theme;
    if (t === 'dark' || t === 'light') return t;
    if (el.classList.contains('dark')) return 'dark';
    if (el.classList.contains('light')) return 'light';
  }
  const cs = getComputedStyle(document.documentElement).colorScheme.trim();
  return cs === 'dark' || cs === 'light' ? cs : null;
}

/** Fetch `url` as text; an Error that says what was asked and what came back. */
async function fetchText(url, what) {
  let res;
  try { res = await fetch(url); } catch (e) { throw new Error(`could not load ${what} (${url}): ${e.message}`); }
  if (!res.ok) throw new Error(`could not load ${what} (${url}): ${res.status} ${res.statusText}`.trim());
  return res.text();
}

/** A problem the element shows instead of the walkthrough: `message`, and `problems` (lines) or `items`. */
class Shown extends Error {
  constructor(message, { problems = [], items = [], hint = '' } = {}) {
    super(message);
    this.problems = problems;
    this.items = items;
    this.hint = hint;
  }
}

const deferred = () => {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  promise.catch(() => {});
  return { promise, resolve, reject, settled: false };
};

export class LguestSimElement extends HTMLElement {
  static get observedAttributes() { return ['lesson', 'src', 'step', 'theme', 'compact', 'max-height', 'collapsed', 'collapsible']; }

  #gen = 0; // each start supersedes the one before
  #source = null; // a lesson given as text from script: { text, file, guests }
  #resume = null; // the position of a removed element, for when it comes back
  #wait = deferred();
  #live = false; // ready: its step events reach the page
  #label = ''; // the aria-label this element set (the page's own is left alone)
  #stepUsed = null; // the step attribute the walkthrough was opened with

  constructor() {
    super();
    this.controller = null;
  }

  /** Resolves to the element once it is interactive; rejects if it cannot show what it was asked. */
  get ready() { return this.#wait.promise; }

  connectedCallback() {
    this.#watchTheme();
    if (!this.shadowRoot) this.#build();
    this.#applyBox();
    if (!this.controller) this.#start();
  }

  disconnectedCallback() {
    this.themeWatch?.disconnect();
    // Free the simulator now, not at garbage collection. A microtask later: an element moved in the page
    // is disconnected and connected again in the same task, and keeps its walkthrough.
    queueMicrotask(() => { if (!this.isConnected) this.#stop(); });
  }

  attributeChangedCallback(name, old, val) {
    if (old === val || !this.shadowRoot) return;
    if (name === 'theme') { this.#followTheme(); this.#checkTheme(); return; }
    if (name === 'max-height' || name === 'collapsed' || name === 'collapsible') { this.#applyBox(); return; }
    const c = this.controller;
    if (name === 'step') {
      if (c) this.#goToWanted();
      return; // a start under way reads it when it mounts
    }
    // A lesson named by an attribute takes over from one given as text.
    if (name === 'lesson' || name === 'src') this.#source = null;
    if (name === 'lesson' && c && !this.hasAttribute('src') && this.#known(val)) {
      this.#note('');
      c.open(val, this.#wantedStep(c.W, val).step);
      return;
    }
    if (this.isConnected) this.#start();
  }

  // ---- the shadow root -------------------------------------------------------------------------------------
  #build() {
    const root = this.attachShadow({ mode: 'open' });
    const H = builder(document);
    this.toggle = H('button', { type: 'button', class: 'lgs-el-toggle', 'aria-expanded': 'true', onclick: () => this.toggleAttribute('collapsed') }, 'lguest-sim');
    this.head = H('div', { class: 'lgs-el-head', hidden: '' }, this.toggle);
    this.noteEl = H('p', { class: 'lgs-el-note', role: 'status' });
    this.body = H('div', { class: 'lgs-el-body' });
    this.box = H('div', { class: 'lgs-host' }, this.head, this.noteEl, this.body);
    root.append(this.box);
    this.toggle.setAttribute('aria-controls', 'lgs-el-body');
    this.body.id = 'lgs-el-body';
    // The walkthrough's step events reach the page only once it has said it is ready.
    this.body.addEventListener('lguest-sim:step', (e) => {
      if (!this.#live) e.stopPropagation();
      this.#name();
    });
    if (!this.hasAttribute('role')) this.setAttribute('role', 'region');
    this.#name();
  }

  /** The element's landmark name: its lesson (so several on a page are told apart), and, where the page has
   *  the same lesson more than once, which of them it is ("lguest-sim: Interrupts (2 of 3)"). */
  #name(others = true) {
    const title = this.controller?.lesson?.title;
    const same = title ? [...document.querySelectorAll('lguest-sim')].filter((e) => e.controller?.lesson?.title === title) : [];
    const which = same.length > 1 && same.includes(this) ? ` (${same.indexOf(this) + 1} of ${same.length})` : '';
    const own = !this.hasAttribute('aria-label') || this.getAttribute('aria-label') === this.#label;
    if (own) {
      this.#label = title ? `lguest-sim: ${title}${which}` : 'lguest-sim lesson walkthrough';
      this.setAttribute('aria-label', this.#label);
    }
    if (this.toggle) this.toggle.textContent = title ? `lguest-sim: ${title}` : 'lguest-sim';
    // The others showing this lesson count again (one was added, removed or changed its lesson).
    if (others) for (const e of same) if (e !== this) e.#name(false);
  }

  /** max-height, collapsible and collapsed. */
  #applyBox() {
    if (!this.body) return;
    const mh = this.getAttribute('max-height');
    const ok = mh === null || CSS.supports('max-height', mh);
    this.body.style.maxHeight = mh !== null && ok ? mh : '';
    if (!ok) this.#warn(`max-height="${mh}" is not a CSS length (say 40em or 600px); the element keeps its full height`);
    const collapsed = this.hasAttribute('collapsed');
    this.head.hidden = !collapsed && !this.hasAttribute('collapsible');
    this.toggle.setAttribute('aria-expanded', String(!collapsed));
    this.body.hidden = collapsed;
  }

  // ---- starting, stopping ----------------------------------------------------------------------------------
  async #start() {
    const gen = ++this.#gen;
    if (this.#wait.settled) this.#wait = deferred();
    this.#live = false;
    this.controller?.destroy();
    this.controller = null;
    delete this.dataset.ready;
    this.setAttribute('aria-busy', 'true');
    this.#showFallback();
    let made = null;
    try {
      const [{ W, walk }, sheets] = await starting;
      if (gen !== this.#gen) return;
      this.shadowRoot.adoptedStyleSheets = sheets;
      this.#followTheme();
      made = await this.#walkthrough(W);
      if (gen !== this.#gen || !this.isConnected) { made.w?.free(); return; }
      this.#stepUsed = this.getAttribute('step');
      const { step, note } = this.#wantedStep(W, made.id, made.w);
      this.#note([note, this.#themeNote()].filter(Boolean).join(' '));
      const text = !made.course;
      const c = await walk.mountWalkthrough(this.body, {
        walkthrough: made.w, step, keys: this,
        picker: !this.hasAttribute('compact') && !text,
        play: !this.hasAttribute('compact'),
        linkBase: LINK_BASE,
      });
      if (gen !== this.#gen) { c.destroy(); return; }
      // A lesson of its own has no place in the course's index page: no link to it there.
      if (text) c.link.hidden = true;
      this.controller = c;
      this.#resume = null;
      this.#name();
      this.removeAttribute('aria-busy');
      this.dataset.ready = 'true';
      this.#live = true;
      this.#wait.settled = true;
      this.#wait.resolve(this);
      this.dispatchEvent(new CustomEvent('lguest-sim:ready', { bubbles: true, composed: true, detail: { lesson: this.lessonId, position: this.position, total: this.total } }));
      // A step attribute set while it was starting.
      if (this.getAttribute('step') !== this.#stepUsed) this.#goToWanted();
    } catch (e) {
      made?.w?.free();
      if (gen !== this.#gen) return;
      this.#fail(e);
    }
  }

  /** What to show: `{ id, w, course }`, `w` the Walkthrough of a lesson of the course (`course`) or one made
   *  from a lesson's text. */
  async #walkthrough(W) {
    if (this.#source || this.hasAttribute('src')) {
      let text, file, guests;
      if (this.#source) ({ text, file, guests } = this.#source);
      else {
        const src = this.getAttribute('src');
        const url = new URL(src, document.baseURI);
        file = src;
        text = await fetchText(url, `the lesson ${src}`);
        // Its Guest programs, beside it (a name not found there is the course's, or a problem at `guest:`).
        guests = {};
        const wanted = (await glue).lessonGuests(text, file);
        await Promise.all(wanted.map(async (name) => {
          try { guests[name] = await fetchText(new URL(name, url), name); } catch { /* the course's, or reported */ }
        }));
      }
      let w;
      try { w = W.fromText(text, file, guests ?? {}); } catch (problems) {
        if (!Array.isArray(problems)) throw problems;
        throw new Shown(`${file} has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}, so it cannot be shown:`,
          { problems: problems.map((p) => `${p.file || file}:${p.line}: ${p.message}`), hint: 'lguest-sim-check (or the author\'s page, author.html) lists the same problems.' });
      }
      return { id: w.lesson().id, w };
    }
    const id = this.getAttribute('lesson') ?? W.lessonIds()[0];
    const w = this.#known(id, W) ? W.open(id) : undefined;
    if (!w) {
      throw new Shown(`There is no lesson "${id}" in the course. Its lessons (lesson="…"):`,
        { items: W.lessons().map((l) => [l.id, l.title]), hint: 'A lesson of your own: src="path/to/my.lesson".' });
    }
    return { id, w, course: true };
  }

  #known(id, W = this.controller?.W) { return Boolean(W?.lessonIds().includes(id)); }

  /** The step to open at: the position it had when it was removed, else the `step` attribute, checked. */
  #wantedStep(W, id, w = null) {
    if (this.#resume !== null) return { step: this.#resume, note: '' };
    const raw = this.getAttribute('step');
    const total = w ? w.total() : W.lessons().find((l) => l.id === id)?.steps ?? 0;
    if (raw === null || raw.trim() === '') return { step: 0, note: '' };
    if (!/^\s*\d+\s*$/.test(raw)) {
      const note = `step="${raw}" is not a step number: this lesson has steps 0 (its introduction) to ${total}; showing the introduction.`;
      this.#warn(note);
      return { step: 0, note };
    }
    const n = Number(raw);
    if (n > total) {
      const note = `step="${raw}" is past the end: this lesson has steps 0 (its introduction) to ${total}; showing step ${total}.`;
      this.#warn(note);
      return { step: total, note };
    }
    return { step: n, note: '' };
  }

  #goToWanted() {
    const c = this.controller;
    if (!c || !this.hasAttribute('step')) return;
    const { step, note } = this.#wantedStep(c.W, c.lesson.id, c.w);
    this.#note(note);
    if (step !== c.w.position()) c.goTo(step);
  }

  #themeNote() {
    const t = this.getAttribute('theme');
    if (t === null || t === '' || t === 'light' || t === 'dark') return '';
    const note = `theme="${t}" is not a theme: use light or dark (or leave it out to follow the page).`;
    this.#warn(note);
    return note;
  }

  #checkTheme() { if (this.controller) this.#note(this.#themeNote()); }

  /** Removed from the page: free the simulator, remember where it was. */
  #stop() {
    this.#gen++;
    if (this.controller) this.#resume = this.controller.w.position();
    const title = this.controller?.lesson?.title;
    this.controller?.destroy();
    this.controller = null;
    // Those left showing the same lesson count again.
    const rest = [...document.querySelectorAll('lguest-sim')].find((e) => e !== this && e.controller?.lesson?.title === title);
    if (title && rest) rest.#name();
    this.#live = false;
    delete this.dataset.ready;
    if (this.#wait.settled) this.#wait = deferred();
  }

  #showFallback() {
    this.body.replaceChildren(document.createElement('slot'));
  }

  #fail(e) {
    const H = builder(document);
    const shown = e instanceof Shown ? e : new Shown(`lguest-sim could not start: ${e.message}`);
    const list = shown.problems.length ? H('ul', {}, shown.problems.map((p) => H('li', {}, H('code', {}, p))))
      : shown.items.length ? H('ul', {}, shown.items.map(([id, title]) => H('li', {}, H('code', {}, id), ` ${title}`))) : null;
    this.body.replaceChildren(H('div', { class: 'lgs-el-problem', role: 'alert' },
      H('h2', {}, 'lguest-sim cannot show this'), H('p', {}, shown.message), list, shown.hint ? H('p', {}, shown.hint) : null));
    this.removeAttribute('aria-busy');
    this.dataset.ready = 'false';
    const all = [shown.message, ...shown.problems, ...(shown.items.length ? [shown.items.map(([id]) => id).join(', ')] : [])];
    this.#warn(all.join('\n'));
    this.#wait.settled = true;
    this.#wait.reject(shown);
    this.dispatchEvent(new CustomEvent('lguest-sim:error', { bubbles: true, composed: true, detail: { message: shown.message, problems: shown.problems } }));
  }

  #note(text) { if (this.noteEl) this.noteEl.textContent = text; }

  #warn(text) {
    const attrs = ['lesson', 'src', 'step'].filter((a) => this.hasAttribute(a)).map((a) => ` ${a}="${this.getAttribute(a)}"`).join('');
    console.warn(`<lguest-sim${attrs}>: ${text}`);
  }

  // ---- the theme -------------------------------------------------------------------------------------------
  /** The page may switch its theme at any time; the element follows unless it has a theme of its own. */
  #watchTheme() {
    this.themeWatch ??= new MutationObserver(() => this.#followTheme());
    for (const el of [document.documentElement, document.body]) {
      if (el) this.themeWatch.observe(el, { attributes: true, attributeFilter: ['class', 'data-theme', 'style'] });
    }
    this.#followTheme();
  }

  /** `theme` wins, then the page's, then the system's (walk.css). */
  #followTheme() {
    if (!this.box) return;
    const own = this.getAttribute('theme');
    const t = own === 'light' || own === 'dark' ? own : pageTheme();
    if (t === 'dark' || t === 'light') this.box.dataset.lgsTheme = t;
    else delete this.box.dataset.lgsTheme;
  }

  // ---- the API ---------------------------------------------------------------------------------------------
  /** Show a lesson given as text (`file` names it in messages), its Guest programs in `guests` by the names
   *  its `guest:` and `load` lines use. Resolves to the element once shown; rejects with its problems. */
  load({ text, file = 'lesson.lesson', guests = {}, step } = {}) {
    const had = this.#source;
    this.#source = { text: String(text ?? ''), file, guests };
    this.#resume = null;
    if (step !== undefined) this.setAttribute('step', String(step));
    // Showing a lesson of its own already (the author's preview): the new text in the same walkthrough,
    // without building it again.
    const c = this.controller;
    if (c && had && this.#live) {
      try {
        c.use(c.W.fromText(this.#source.text, file, guests ?? {}), step ?? 0);
        this.#name();
        return Promise.resolve(this);
      } catch (problems) {
        if (!Array.isArray(problems)) throw problems;
      }
    }
    if (this.isConnected && this.shadowRoot) this.#start();
    return this.ready;
  }

  step() { this.controller?.step(); }
  back() { this.controller?.back(); }
  goTo(n) { this.controller?.goTo(n); }
  nextEvent() { this.controller?.nextEvent(); }
  reset() { this.controller?.reset(); }
  /** Another lesson of the course (as setting the `lesson` and `step` attributes does). */
  open(lesson, step = 0) {
    this.#source = null;
    this.removeAttribute('src');
    this.setAttribute('step', String(step));
    this.setAttribute('lesson', lesson);
  }
  instruction(n) { this.controller?.instruction(n); }
  stepInstruction() { this.controller?.stepInstruction(); }
  backInstruction() { this.controller?.backInstruction(); }
  runToAddress(addr) { this.controller?.runToAddress(addr); }
  addBreakpoint(name) { return this.controller?.addBreakpoint(name) ?? false; }
  removeBreakpoint(name) {
    const c = this.controller;
    if (!c) return;
    const a = typeof name === 'string' && /^0x[0-9a-f]+$/i.test(name) ? parseInt(name, 16) >>> 0 : name;
    c.removeBreakpoint(typeof a === 'number' || c.breakpoints.has(a) ? a : c.w.guestSymbol(a) ?? a);
  }
  /** The Guest instruction the Guest CPU pane shows, and how many the current step ran (null: none). */
  get instructionPosition() { return this.controller?.pane?.pos ?? null; }
  get instructions() { return this.controller?.pane?.total ?? null; }
  get position() { return this.controller?.w?.position() ?? 0; }
  get total() { return this.controller?.w?.total() ?? 0; }
  get lessonId() { return this.controller?.lesson?.id; }
}

if (!customElements.get('lguest-sim')) customElements.define('lguest-sim', LguestSimElement);

/** Make a <lguest-sim> in `container` (await `el.ready` before driving it): a lesson of the course
 *  (`lesson`), a file (`src`), or a lesson's text (`text`, with `file` and `guests`). */
export function create(container, { lesson, src, text, file, guests, step = 0, compact = false } = {}) {
  const el = document.createElement('lguest-sim');
  if (lesson) el.setAttribute('lesson', lesson);
  if (src) el.setAttribute('src', src);
  el.setAttribute('step', String(step));
  if (compact) el.setAttribute('compact', '');
  if (text !== undefined) el.load({ text, file, guests });
  container.append(el);
  return el;
}
