// The state pane: the system drawn for the step (its path numbered), then the panels Rust lists in
// `v.panels`: those the step is about or changed open, each saying why, the rest closed, one click away.
// Panels: the Guest CPU (an element its composer gives it), the console, the eventfd map drawn, page-table
// entries as bit fields, the memory map, lguest_data, the account book, each section of fields (`v.sections`,
// grouped by Rust, each changed row with its old value) and the step's kernel events. While a question is
// asked it shows no marks. The walkthrough and free play each fill an element with one.

import { builder } from './dom.js';
import { figure } from './diagram.js';

export class StatePane {
  /** Fill `el` (its composer's element) in document `doc`. */
  constructor(doc, el) {
    this.doc = doc;
    this.el = el;
    this.opened = new Set(); // panels the student opened: kept open from step to step
  }

  /** Draw step view `v`; `asking`: a question about the next step is being asked; `guest`: the Guest CPU element, or null. */
  render(v, { asking = false, guest = null } = {}) {
    const H = builder(this.doc);
    const open = [];
    const closed = [];
    for (const p of v.panels) {
      const isOpen = !asking && (p.open || this.opened.has(p.id));
      // A closed panel is filled when it is first opened: most steps never open most of them.
      const body = isOpen ? this.panel(p.id, v, asking, guest) : this.has(p.id, v, guest) ? [] : null;
      if (!body) continue;
      const d = H('details', { class: 'lgs-panel', 'data-panel': p.id, open: isOpen },
        H('summary', {}, H('span', { class: 'lgs-panel-title' }, p.title), p.why && !asking ? H('span', { class: 'lgs-why-open' }, ` — ${p.why}`) : ''), body);
      let filled = isOpen;
      // The toggle that creating it open fires is not the student's.
      d.addEventListener('toggle', () => {
        if (d.open && !filled) { filled = true; d.append(...[this.panel(p.id, v, asking, guest)].flat()); }
        if (d.open === isOpen) return;
        if (d.open) this.opened.add(p.id); else this.opened.delete(p.id);
      });
      (isOpen ? open : closed).push(d);
    }
    this.el.replaceChildren(figure(this.doc, v.system, { plain: asking }), ...open,
      closed.length ? H('h3', { class: 'lgs-more' }, 'More of the state (closed: open any)') : '', ...closed);
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

/** Run `f` when `win` is idle after its next paint (not in the idle moment before it, holding it back). */
export const afterPaint = (win, f) => win.requestAnimationFrame(() => win.setTimeout(() => whenIdle(win, f), 0));

/** What a journey tag is, for its tooltip: the kernel's own (L: the Launcher's, H: the Host's) or ours (X:). */
export function tagMeaning(tag) {
  const k = String(tag)[0];
  return k === 'L' ? `${tag}: a tag of the kernel's own tour of lguest_user.c (make Launcher in drivers/lguest prints it)`
    : k === 'H' ? `${tag}: a tag of the kernel's own tour of the Host (make Host in drivers/lguest prints it)`
      : `${tag}: our tag for a function the kernel's tour does not tag, numbered in the order the course meets it`;
}
