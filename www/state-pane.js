// The state pane: the system drawn for the step (its path numbered), then the panels Rust lists in
// `v.panels`: those the step is about or changed open, each saying why, the rest closed, one click away.
// Panels: the Guest CPU (an element its composer gives it), the console, the eventfd map drawn, page-table
// entries as bit fields, the memory map, lguest_data, the account book, each section of fields (`v.sections`,
// grouped by Rust, each changed row with its old value) and the step's kernel events. While a question is
// asked it shows no marks. The walkthrough and free play each fill an element with one.

import { builder, morphChildren } from './dom.js';
import { figure, refigure } from './diagram.js';

export class StatePane {
  /** Fill `el` (its composer's element) in document `doc`. */
  constructor(doc, el) {
    this.doc = doc;
    this.el = el;
    this.opened = new Set(); // panels the student opened: kept open from step to step
    // Each panel's <details> and the picture stay from step to step: a panel's body is built again only when
    // what it shows changed (its data compared as JSON), so a step lays out only what it changed, and the
    // browser keeps what it knows of each (off screen or not: content-visibility) and a focus inside one.
    this.panels = new Map(); // panel id -> { el, title, why, want (open as the page set it), sig, body() }
    this.fig = null; // the system picture's <figure>, and what it was drawn from
    this.figSig = '';
    this.more = builder(doc)('h3', { class: 'lgs-more' }, 'More of the state (closed: open any)');
  }

  /** Draw step view `v`; `asking`: a question about the next step is being asked; `guest`: the Guest CPU element, or null. */
  render(v, { asking = false, guest = null } = {}) {
    const sig = JSON.stringify([v.system, asking]);
    if (sig !== this.figSig) {
      this.fig = refigure(this.doc, this.fig, v.system, { plain: asking });
      this.figSig = sig;
    }
    const open = [];
    const closed = [];
    for (const p of v.panels) {
      const isOpen = !asking && (p.open || this.opened.has(p.id));
      if (!this.has(p.id, v, guest)) continue;
      const d = this.panels.get(p.id) ?? this.make(p.id);
      if (d.title.textContent !== p.title) d.title.textContent = p.title;
      const why = p.why && !asking ? ` — ${p.why}` : '';
      if (d.why.textContent !== why) d.why.textContent = why;
      // A closed panel is filled when it is first opened: most steps never open most of them.
      d.body = () => this.panel(p.id, v, asking, guest);
      d.sig = this.sig(p.id, v, asking, guest);
      d.want = isOpen;
      if (d.el.open !== isOpen) d.el.open = isOpen;
      if (isOpen) this.fill(d);
      else if (d.shown !== d.sig && d.shown !== null) this.empty(d); // nothing of another step left inside
      (isOpen ? open : closed).push(d.el);
    }
    place(this.el, [this.fig, ...open, ...(closed.length ? [this.more] : []), ...closed]);
  }

  /** A panel's <details>, made once: the student's toggles are remembered and fill it when first opened. */
  make(id) {
    const H = builder(this.doc);
    const title = H('span', { class: 'lgs-panel-title' });
    const why = H('span', { class: 'lgs-why-open' });
    const el = H('details', { class: 'lgs-panel', 'data-panel': id }, H('summary', {}, title, why));
    const d = { el, title, why, want: false, sig: '', shown: null, body: () => null };
    // The toggle that the page's own setting of `open` fires (after the fact) is not the student's.
    el.addEventListener('toggle', () => {
      if (el.open) this.fill(d);
      if (el.open === d.want) return;
      d.want = el.open;
      if (el.open) this.opened.add(id); else this.opened.delete(id);
    });
    this.panels.set(id, d);
    return d;
  }

  /** Take panel `d`'s body out (it is filled again when opened). */
  empty(d) {
    d.shown = null;
    const summary = d.el.firstChild;
    while (summary.nextSibling) summary.nextSibling.remove();
  }

  /** Put panel `d`'s body in, unless what it shows is what it already holds: changed where it differs from
   *  what it held (`morph`), but for the Guest CPU, an element with controls of its own, put in whole. */
  fill(d) {
    if (d.shown === d.sig) return;
    const was = d.shown;
    d.shown = d.sig;
    const body = [d.body() ?? []].flat().filter(Boolean);
    if (was === null || d.el.dataset.panel === 'guest-cpu') {
      const summary = d.el.firstChild;
      while (summary.nextSibling) summary.nextSibling.remove();
      d.el.append(...body);
    } else {
      morphChildren(d.el, body, d.el.firstChild);
    }
  }

  /** What panel `id` shows of view `v`, as a string to compare with the step before. */
  sig(id, v, asking, guest) {
    switch (id) {
      case 'guest-cpu': return guest ? `guest ${this.guestId(guest)}` : '';
      case 'console': return JSON.stringify(v.console);
      case 'paging': return JSON.stringify([v.paging, v.ptes]);
      case 'book': return JSON.stringify([v.book, asking]);
      case 'events': return JSON.stringify([v.events, v.eventsLeftOut, asking]);
      case 'map': return JSON.stringify([v.map, asking]);
      case 'memory': case 'ldata': return JSON.stringify([v[id], asking]);
      default: return JSON.stringify([v.sections.find((x) => x.id === id), asking]);
    }
  }

  /** A number for each Guest CPU element given (the same element, the same number: it redraws itself). */
  guestId(el) {
    this.guestIds ??= new WeakMap();
    if (!this.guestIds.has(el)) this.guestIds.set(el, (this.guestIds.n = (this.guestIds.n ?? 0) + 1));
    return this.guestIds.get(el);
  }

  /** Whether view `v` has something for panel `id` (without building it). */
  has(id, v, guest) {
    switch (id) {
      case 'guest-cpu': return Boolean(guest);
      case 'console': return v.console.length > 0;
      case 'paging': return Boolean(v.paging);
      case 'book': return true;
      case 'events': return v.events.length > 0;
      case 'map': case 'memory': case 'ldata': return Boolean(v[id]);
      default: return v.sections.some((x) => x.id === id);
    }
  }

  /** The content of panel `id`, or null when the view has nothing for it. */
  panel(id, v, asking, guest) {
    const H = builder(this.doc);
    const badge = (r) => (r.changed && !asking ? (r.was === null || r.was === undefined ? 'new' : `changed (was ${r.was})`) : '');
    const rows = (list) => H('tbody', {}, list.map((r) => H('tr', { class: r.changed && !asking ? 'chg' : '', 'data-key': r.key },
      H('th', { scope: 'row' }, r.key), H('td', {}, r.value), H('td', { class: 'lgs-badge' }, badge(r)))));
    switch (id) {
      case 'guest-cpu': return guest;
      case 'console': return v.console.length ? H('pre', { class: 'lgs-console', 'aria-label': 'Guest console output' }, v.console.join('')) : null;
      case 'map': return v.map ? figure(this.doc, v.map, { plain: asking }) : null;
      case 'memory': return v.memory ? figure(this.doc, v.memory) : null;
      case 'paging': return v.paging ? [v.ptes ? figure(this.doc, v.ptes) : '', this.paging(v.paging)] : null;
      case 'ldata': return v.ldata ? H('table', { class: 'lgs-fields lgs-ldata' }, H('caption', {}, `struct lguest_data (in Guest memory at ${v.ldata.address})`), rows(v.ldata.rows)) : null;
      case 'book': return this.book(v, asking);
      case 'events': return v.events.length && !asking ? eventList(this.doc, v.events, undefined, v.eventsLeftOut) : null;
      default: {
        const sec = v.sections.find((x) => x.id === id);
        return sec ? H('table', { class: 'lgs-fields' }, H('caption', {}, sec.title), rows(sec.rows)) : null;
      }
    }
  }

  /** The shadow page tables beside the Guest's own, as Rust words them. */
  paging(pg) {
    const H = builder(this.doc);
    return H('table', { class: 'lgs-fields lgs-paging' },
      H('caption', {}, `Page tables: the Guest's own beside the Host's shadow (slot ${pg.slot ?? '?'}; ${pg.rows.length} mapping(s) shown)`),
      H('thead', {}, H('tr', {}, ['virtual address', "Guest's pte", 'shadow pte'].map((t) => H('th', { scope: 'col' }, t)))),
      H('tbody', {}, pg.rows.length ? pg.rows.map(([va, g, sh]) => H('tr', {}, H('th', { scope: 'row' }, va), H('td', {}, g), H('td', {}, sh)))
        : H('tr', {}, H('td', { colspan: 3 }, 'no shadow entries yet: the first access to each page faults and demand_page() fills it'))));
  }

  /** The account book: what the kernel holds, what this step allocated or freed (greyed, not struck). */
  book(v, asking) {
    const H = builder(this.doc);
    const held = v.book.filter((r) => r.change !== 'freed').length;
    const rows = v.book.filter((r) => !asking || r.change !== 'freed').map((r) => {
      const c = asking ? '' : r.change;
      return H('tr', { class: c }, H('td', {}, H('abbr', { title: `allocation number ${r.id.slice(1)} of this run` }, r.id)), H('td', {}, r.what), H('td', {}, r.by), H('td', {}, String(r.bytes)),
        H('td', { class: 'lgs-badge' }, c === 'freed' ? 'freed this step' : c));
    });
    return H('table', { class: 'lgs-book' }, H('caption', {}, `The account book: ${held} allocation(s) held (#n: the nth allocation of this run)`),
      H('thead', {}, H('tr', {}, ['id', 'what', 'by', 'bytes', 'this step'].map((t) => H('th', { scope: 'col' }, t)))),
      H('tbody', {}, rows.length ? rows : H('tr', {}, H('td', { colspan: 5 }, 'nothing allocated'))));
  }
}

/** A step's kernel events (`v.events`) as a list: the task, the function linked to the kernel's source, its
 *  journey tag, what it did. `label`: the list's accessible name. */
export function eventList(doc, events, label = 'Kernel events of this step', leftOut = 0) {
  const H = builder(doc);
  const items = [];
  events.forEach((e, i) => {
    // Rust sends the first and the last of a step's events when it made very many: the gap says so.
    if (leftOut && i > 0 && e.seq !== events[i - 1].seq + 1) {
      items.push(H('li', { class: 'lgs-events-gap' }, `… ${leftOut.toLocaleString('en')} more events of this step, not shown (the first and the last ${events.length / 2} are)`));
    }
    items.push(H('li', {}, H('span', { class: 'lgs-task' }, e.task), ' ',
      e.link ? H('a', { href: e.link, target: '_blank', rel: 'noopener', class: 'lgs-func' }, `${e.func}()`) : H('span', { class: 'lgs-func' }, e.func),
      ' ', H('abbr', { class: 'lgs-tag', title: tagMeaning(e.tag) }, e.tag), ' ', e.text));
  });
  return H('ol', { class: 'lgs-events', tabindex: 0, 'aria-label': label }, items);
}

/** Run `f` when window `win` is idle (within half a second), after what it is painting now; its handle. */
export const whenIdle = (win, f) => (win.requestIdleCallback ? win.requestIdleCallback(f, { timeout: 500 }) : win.setTimeout(f, 100));

/** Run `f` when window `win` is idle after its next paint. (An idle moment comes before a paint too, between
 *  a key's work and the frame that shows it: work put there would hold that frame back.) */
export const afterPaint = (win, f) => win.requestAnimationFrame(() => win.setTimeout(() => whenIdle(win, f), 0));

/** What a journey tag is, for its tooltip: the kernel's own (L: the Launcher's, H: the Host's) or ours (X:). */
export function tagMeaning(tag) {
  const k = String(tag)[0];
  return k === 'L' ? `${tag}: a tag of the kernel's own tour of lguest_user.c (make Launcher in drivers/lguest prints it)`
    : k === 'H' ? `${tag}: a tag of the kernel's own tour of the Host (make Host in drivers/lguest prints it)`
      : `${tag}: our tag for a function the kernel's tour does not tag, numbered in the order the course meets it`;
}

/** Make `el`'s children the elements `want`, in order, moving only those out of place (a move takes an
 *  element out and puts it back, which loses the focus in it and what the browser knew of it). */
export function place(el, want) {
  const set = new Set(want);
  for (const c of [...el.children]) if (!set.has(c)) c.remove();
  for (const n of [...el.childNodes]) if (n.nodeType !== 1) n.remove();
  want.forEach((w, i) => { if (el.children[i] !== w) el.insertBefore(w, el.children[i] ?? null); });
}
