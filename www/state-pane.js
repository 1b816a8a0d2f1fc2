// The state pane: what the kernel holds after a step, from the step view. The Guest CPU first (an element
// its composer gives it), then the Guest console, the step's kernel events, the fields of struct lguest,
// lg_cpu and the eventfd map with what changed and what it was, lguest_data, the map's versions, the shadow
// page tables, and the account book. While a question is asked it shows no marks. The walkthrough and free
// play each fill an element with one. The TODO(view) functions below work out what the view does not say yet.

import { builder, hex } from './dom.js';

export class StatePane {
  /** Fill `el` (its composer's element) in document `doc`. */
  constructor(doc, el) {
    this.doc = doc;
    this.el = el;
  }

  /**
   * Draw step view `v`. `prev`: the view a step before (what "changed" and "new" compare with; null at the
   * start); `asking`: a question about the next step is being asked; `guest`: the Guest CPU element, or null.
   */
  render(v, { prev = null, asking = false, guest = null } = {}) {
    const H = builder(this.doc);
    const parts = [];
    if (guest) parts.push(guest);
    if (v.console.length) parts.push(H('h3', {}, 'Guest console'), H('pre', { class: 'lgs-console', 'aria-label': 'Guest console output' }, v.console.join('')));
    if (!asking && v.events.length) {
      parts.push(H('h3', {}, `What happened in the kernel (${v.events.length} events)`), H('ol', { class: 'lgs-events', tabindex: 0, 'aria-label': 'Kernel events of this step' }, v.events.map((e) =>
        H('li', {}, H('span', { class: 'lgs-task' }, e.task), ' ',
          e.link ? H('a', { href: e.link, target: '_blank', rel: 'noopener', class: 'lgs-func' }, `${e.func}()`) : H('span', { class: 'lgs-func' }, e.func),
          ' ', H('span', { class: 'lgs-tag' }, e.tag), ' ', e.text))));
    }
    for (const { title, rows } of fieldSections(v, prev, asking)) {
      parts.push(H('table', { class: 'lgs-fields' }, H('caption', {}, title), H('tbody', {}, rows.map(({ key, value, changed, was }) =>
        H('tr', { class: changed ? 'chg' : '', 'data-key': key }, H('th', { scope: 'row' }, key), H('td', {}, value),
          H('td', { class: 'lgs-badge' }, changed ? (was === undefined ? 'new' : `changed (was ${was})`) : ''))))));
    }
    const ld = lguestDataRows(v, prev, asking);
    if (ld.length) {
      parts.push(H('table', { class: 'lgs-fields lgs-ldata' }, H('caption', {}, `struct lguest_data (in Guest memory at ${lguestDataAddress(v)})`),
        H('tbody', {}, ld.map(({ key, value, changed, was }) =>
          H('tr', { class: changed ? 'chg' : '' }, H('th', { scope: 'row' }, key), H('td', {}, hex(value)), H('td', { class: 'lgs-badge' }, changed ? `changed (was ${hex(was)})` : ''))))));
    }
    const g = v.snapshot.guests.at(-1);
    if (g) {
      parts.push(this.versions(g, v, prev, asking));
      const pg = g.paging;
      if (pg && pg.active) parts.push(this.paging(pg));
    }
    parts.push(this.book(v, prev, asking));
    this.el.replaceChildren(...parts);
  }

  /** Every version of the map this Guest has had: RCU's copy, publish, wait, free, one row each. */
  versions(g, v, prev, asking) {
    const H = builder(this.doc);
    const m = g.eventfds;
    const life = { current: 'current: lg->eventfds points to it', retired: 'retired: readers that found it may still hold it', freed: 'freed after synchronize_rcu()' };
    return H('table', { class: 'lgs-fields lgs-versions' }, H('caption', {}, `The eventfd map's versions: lg->eventfds is #${m.alloc}`),
      H('thead', {}, H('tr', {}, ['version', 'entries', 'its life'].map((t) => H('th', { scope: 'col' }, t)))),
      H('tbody', {}, versionRows(g, prev, asking).map(({ x, badge }) =>
        H('tr', { class: badge ? 'chg' : x.life === 'freed' ? 'freed' : '' },
          H('th', { scope: 'row' }, `#${x.alloc}`),
          H('td', {}, x.entries.length ? x.entries.map(([a, c]) => `${hex(a)} → ctx${c}`).join(', ') : 'empty'),
          H('td', {}, `made by ${x.by}(); `, x.life === 'freed' ? H('s', {}, life[x.life]) : life[x.life], badge ? H('span', { class: 'lgs-badge' }, ` (${badge})`) : '')))));
  }

  /** The shadow page tables beside the Guest's own: what the Guest wrote, and what the Host lets the CPU use. */
  paging(pg) {
    const H = builder(this.doc);
    return H('table', { class: 'lgs-fields lgs-paging' },
      H('caption', {}, `Page tables: the Guest's own beside the Host's shadow (slot ${pg.pgdirs.find((d) => d.current)?.slot ?? '?'}; ${pg.mappings.length} mapping(s) shown)`),
      H('thead', {}, H('tr', {}, ['virtual address', "Guest's pte", 'shadow pte'].map((t) => H('th', { scope: 'col' }, t)))),
      H('tbody', {}, pg.mappings.length ? pg.mappings.map((mp) => H('tr', {}, H('th', { scope: 'row' }, hex(mp.vaddr)), H('td', {}, pteText(mp.gpte)), H('td', {}, pteText(mp.spte))))
        : H('tr', {}, H('td', { colspan: 3 }, 'no shadow entries yet: the first access to each page faults and demand_page() fills it'))));
  }

  /** The account book: what the kernel holds, what this step allocated or freed. */
  book(v, prev, asking) {
    const H = builder(this.doc);
    const { held, freed } = bookRows(v, prev, asking);
    const rows = held.map(({ a, isNew }) => H('tr', { class: isNew ? 'new' : '' },
      H('td', {}, `#${a.id}`), H('td', {}, a.what), H('td', {}, a.by), H('td', {}, String(a.bytes)),
      H('td', { class: 'lgs-badge' }, isNew ? 'new' : '')));
    for (const a of freed) {
      rows.push(H('tr', { class: 'freed' }, H('td', {}, `#${a.id}`), H('td', {}, H('s', {}, a.what)), H('td', {}, a.by), H('td', {}, String(a.bytes)), H('td', { class: 'lgs-badge' }, 'freed')));
    }
    return H('table', { class: 'lgs-book' }, H('caption', {}, `The account book: ${v.snapshot.allocations.length} allocation(s) held`),
      H('thead', {}, H('tr', {}, ['id', 'what', 'by', 'bytes', 'this step'].map((t) => H('th', { scope: 'col' }, t)))),
      H('tbody', {}, rows.length ? rows : H('tr', {}, H('td', { colspan: 5 }, 'nothing allocated'))));
  }
}

// TODO(view): Rust will send `sections: [{ title, rows: [{ key, value, changed, was }] }]` in StepView. Until
// then the page sorts `Snapshot::fields` into structs by the keys' prefixes, and looks up what each key was in
// the view a step before. A key no group claims is shown under "machine".
const GROUPS = [
  ['struct lguest', (k) => k.startsWith('lg.') && !k.startsWith('lg.eventfds')],
  ['struct lg_cpu', (k) => /^cpu\d/.test(k)],
  ['eventfd map (RCU-protected)', (k) => k.startsWith('lg.eventfds')],
  ['tasks', (k) => k.startsWith('task.')],
  ['eventfds', (k) => k.startsWith('eventfd')],
  ['machine', (k) => !/^(lg\.|cpu\d|task\.|eventfd)/.test(k)],
];
/** The view's fields in titled sections, each row with whether this step changed it and what it was. */
function fieldSections(v, prev, asking) {
  const changed = new Set(asking ? [] : v.changed);
  const was = new Map(prev?.fields ?? []);
  return GROUPS.map(([title, mine]) => ({
    title,
    rows: v.fields.filter(([k]) => mine(k)).map(([key, value]) => ({ key, value, changed: changed.has(key), was: was.get(key) })),
  })).filter((s) => s.rows.length);
}

// TODO(view): Rust will send where `struct lguest_data` is with its section; the page reads the
// `lg.lguest_data` field by its key.
/** Where the Guest said its `lguest_data` is, as the state shows it ('?' if the fields do not say). */
function lguestDataAddress(v) {
  return v.fields.find(([k]) => k === 'lg.lguest_data')?.[1] ?? '?';
}

// TODO(view): Rust will send `lguest_data` as a section with `changed` and `was`; the page compares the two views.
/** `struct lguest_data`'s fields, each with whether it differs from the view a step before and what it was. */
function lguestDataRows(v, prev, asking) {
  const before = new Map(prev?.lguestData ?? []);
  return (v.lguestData ?? []).map(([key, value]) => ({ key, value, changed: !asking && prev && before.has(key) && before.get(key) !== value, was: before.get(key) }));
}

// TODO(view): Rust will send what this step did to each version of the map; the page compares the two views.
/** The map's versions, each with what became of it this step: 'new this step', 'was current', or ''. */
function versionRows(g, prev, asking) {
  const before = new Map((prev?.snapshot.guests.at(-1)?.mapVersions ?? []).map((x) => [x.alloc, x.life]));
  return g.mapVersions.map((x) => {
    const was = before.get(x.alloc);
    return { x, badge: asking || !prev ? '' : was === undefined ? 'new this step' : was !== x.life ? `was ${was}` : '' };
  });
}

// TODO(view): Rust will send each pte in words (frame and flags); the page decodes the x86 bits itself.
/** A page-table entry: its frame and flags (P RW U A D), or 'not present'. */
function pteText(e) {
  const flags = [[1, 'P'], [2, 'RW'], [4, 'U'], [0x20, 'A'], [0x40, 'D']].filter(([b]) => e & b).map(([, n]) => n).join(' ') || '-';
  return e & 1 ? `${hex(e >>> 12 << 12)} ${flags}` : 'not present';
}

// TODO(view): Rust will send which allocations this step made and freed; the page compares the two views' ids.
/** The allocations held (each new this step or not) and those the step before held that are gone. */
function bookRows(v, prev, asking) {
  const prevIds = new Map((prev?.snapshot.allocations ?? []).map((a) => [a.id, a]));
  const nowIds = new Set(v.snapshot.allocations.map((a) => a.id));
  const held = v.snapshot.allocations.map((a) => ({ a, isNew: Boolean(!asking && prev && !prevIds.has(a.id)) }));
  const freed = asking ? [] : [...prevIds.values()].filter((a) => !nowIds.has(a.id));
  return { held, freed };
}
