// <lguest-sim lesson="02-initialize" step="3"></lguest-sim>: a lesson walkthrough to embed in any page with
// one script tag:
//
//   <script type="module" src="https://your.host/lguest-sim/lguest-sim.js"></script>
//
// Each element has its own shadow root (styles isolated: walk.css is linked inside it, so a strict CSP with
// style-src 'self' holds) and its own wasm Walkthrough; the page loads the wasm module once. The element's API:
//   el.step(), el.back(), el.goTo(n), el.nextEvent(), el.reset(), el.open(lesson, step)
//   el.instruction(n), el.stepInstruction(), el.backInstruction(), el.runToAddress(addr): the Guest CPU pane of
//     a step that ran Guest code (addr: a number, '0x…' or a label of the lesson's program)
//   el.addBreakpoint(name), el.removeBreakpoint(name): a host function, or a Guest address or label
//   el.position, el.total, el.lessonId, el.ready (a Promise that resolves when it is interactive)
//   events (bubbling, composed): 'lguest-sim:ready' and 'lguest-sim:step' with
//     detail { lesson, position, total, ok, allOk }
//   attributes: lesson (id, e.g. 04-read-runs-the-guest), step (0 = the introduction), compact (no lesson
//     picker, no free play), theme ("light" or "dark"; by default the page's, else the system's)
// and from script: import { create } from '.../lguest-sim.js'; create(container, { lesson, step }).

import { mountWalkthrough } from './walk.js';

const CSS = new URL('./walk.css', import.meta.url).href;

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
const LINK_BASE = new URL('./index.html', import.meta.url).href;

export class LguestSimElement extends HTMLElement {
  static get observedAttributes() { return ['lesson', 'step', 'theme']; }

  connectedCallback() {
    this.watchTheme();
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = CSS;
    const box = document.createElement('div');
    box.className = 'lgs-host';
    root.append(link, box);
    this.box = box;
    this.followTheme();
    if (!this.hasAttribute('role')) this.setAttribute('role', 'region');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'lguest-sim lesson walkthrough');
    this.ready = mountWalkthrough(box, {
      lesson: this.getAttribute('lesson') ?? undefined,
      step: Number(this.getAttribute('step') ?? 0) || 0,
      keys: this,
      // `compact`: just the lesson, without the lesson picker and free play.
      picker: !this.hasAttribute('compact'),
      play: !this.hasAttribute('compact'),
      linkBase: LINK_BASE,
    }).then((c) => {
      this.controller = c;
      this.dataset.ready = 'true';
      this.dispatchEvent(new CustomEvent('lguest-sim:ready', { bubbles: true, composed: true, detail: { lesson: this.lessonId, position: this.position } }));
      return this;
    }, (e) => {
      box.textContent = `lguest-sim could not start: ${e.message}`;
      this.dataset.ready = 'false';
      throw e;
    });
    this.ready.catch(() => {});
  }

  /** The page may switch its theme at any time; the element follows unless it has a theme of its own. */
  watchTheme() {
    this.themeWatch ??= new MutationObserver(() => this.followTheme());
    for (const el of [document.documentElement, document.body]) {
      if (el) this.themeWatch.observe(el, { attributes: true, attributeFilter: ['class', 'data-theme', 'style'] });
    }
    this.followTheme();
  }

  /** `theme` wins, then the page's, then the system's (walk.css). */
  followTheme() {
    if (!this.box) return;
    const t = this.getAttribute('theme') || pageTheme();
    if (t === 'dark' || t === 'light') this.box.dataset.lgsTheme = t;
    else delete this.box.dataset.lgsTheme;
  }

  disconnectedCallback() { this.themeWatch?.disconnect(); }

  attributeChangedCallback(name, old, val) {
    if (name === 'theme') { this.followTheme(); return; }
    const c = this.controller;
    if (!c || old === val) return;
    if (name === 'lesson') c.open(val, Number(this.getAttribute('step') ?? 0) || 0);
    else if (name === 'step' && Number(val) !== c.w.position()) c.goTo(Number(val) || 0);
  }

  step() { this.controller?.step(); }
  back() { this.controller?.back(); }
  goTo(n) { this.controller?.goTo(n); }
  nextEvent() { this.controller?.nextEvent(); }
  reset() { this.controller?.reset(); }
  open(lesson, step = 0) { this.controller?.open(lesson, step); }
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
  get position() { return this.controller?.w.position() ?? 0; }
  get total() { return this.controller?.w.total() ?? 0; }
  get lessonId() { return this.controller?.lesson.id; }
}

if (!customElements.get('lguest-sim')) customElements.define('lguest-sim', LguestSimElement);

/** Make a <lguest-sim> in `container`; returns the element (await `el.ready` before driving it). */
export function create(container, { lesson, step = 0, compact = false } = {}) {
  const el = document.createElement('lguest-sim');
  if (lesson) el.setAttribute('lesson', lesson);
  el.setAttribute('step', String(step));
  if (compact) el.setAttribute('compact', '');
  container.append(el);
  return el;
}
