// The Guest CPU pane: registers, flags, the instructions around EIP, the source line, the stack and memory.
// A step that ran Guest code gets a `GuestPane` over its recorded work, one instruction at a time, each
// position a replay in Rust (`src.guestAt(pos)`, src being the Walkthrough or free play's Simulator). It has
// two renderings because the wasm sends two views: `GuestAt`, a position of that work with what its last
// instruction changed, and the step view's `cpu` (`GuestCpuView`), the CPU at rest in a step that ran none,
// drawn by `cpuAtRest` and marked against the step before. One shape from Rust would make them one.

import { builder, hex, uid } from './dom.js';

/**
 * The Guest CPU for step view `v`, as its composer places it: `{ pane, el }`, a `GuestPane` when the step
 * ran Guest code (and is not a question being asked), else the CPU at rest if there is a Guest, else nothing
 * (`el` null). `src`, `pos`, `onMove` and `announce` go to the `GuestPane`.
 */
export function guestCpu(doc, v, { asking = false, src, pos, onMove, announce }) {
  if (v.guestUnits !== null && v.guestUnits !== undefined && !asking) {
    const pane = new GuestPane(doc, { src, total: v.guestUnits, pos, onMove, announce });
    return { pane, el: pane.el };
  }
  return { pane: null, el: v.cpu ? cpuAtRest(doc, v.cpu, asking) : null };
}

export class GuestPane {
  /**
   * `src`: the wasm object that replays (`guestAt`, `guestFind`, `guestMemory`, `guestSymbol`); `total`: the
   * step's units of Guest work; `pos`: where to open (default the end, as the rest of the page shows the
   * step); `onMove(pos, pane)` after every move; `announce(text)` for the live region.
   */
  constructor(doc, { src, total, pos, onMove, announce }) {
    this.doc = doc;
    this.src = src;
    this.total = total;
    this.onMove = onMove ?? (() => {});
    this.announce = announce ?? (() => {});
    const H = builder(doc);
    const n = uid();
    this.el = H('div', { class: 'lgs-cpu lgs-guest', role: 'group', 'aria-labelledby': `lgs-gh-${n}` });
    this.head = H('h3', { id: `lgs-gh-${n}` });
    const btn = (cls, label, title, f) => H('button', { type: 'button', class: cls, title, onclick: f }, label);
    this.bFirst = btn('lgs-insn-first', 'First', 'First Guest instruction of this step', () => this.goTo(0));
    this.bBack = btn('lgs-insn-back', '◀ Instruction', 'Back one Guest instruction ([)', () => this.goTo(this.pos - 1));
    this.bNext = btn('lgs-insn-next', 'Instruction ▶', 'One Guest instruction on (])', () => this.goTo(this.pos + 1));
    this.bLast = btn('lgs-insn-last', 'Last', 'Last Guest instruction of this step', () => this.goTo(this.total));
    this.range = H('input', { type: 'range', class: 'lgs-insn-range', min: 0, max: total, value: 0, 'aria-label': 'Guest instruction in this step' });
    this.range.addEventListener('input', () => this.goTo(Number(this.range.value)));
    this.num = H('input', { type: 'number', class: 'lgs-insn-num', min: 0, max: total, inputmode: 'numeric', 'aria-label': 'Go to Guest instruction number' });
    this.num.addEventListener('change', () => this.goTo(Number(this.num.value)));
    this.addr = H('input', { class: 'lgs-insn-addr', autocomplete: 'off', spellcheck: 'false', placeholder: 'label or 0x…', 'aria-describedby': `lgs-ge-${n}` });
    this.err = H('span', { class: 'lgs-bp-err', id: `lgs-ge-${n}`, role: 'alert' });
    const find = H('form', { class: 'lgs-insn-find' }, H('label', {}, 'Run to Guest address ', this.addr), H('button', { type: 'submit' }, 'Run to it'), this.err);
    find.addEventListener('submit', (e) => { e.preventDefault(); this.runTo(this.addr.value); });
    this.body = H('div', { class: 'lgs-guest-body' });
    this.memAddr = H('input', { class: 'lgs-mem-addr', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. 0x100000 or hello' });
    this.memOut = H('div', { class: 'lgs-mem-out' });
    const mem = H('form', { class: 'lgs-mem-form' }, H('label', {}, 'Memory at ', this.memAddr), H('button', { type: 'submit' }, 'Show'));
    mem.addEventListener('submit', (e) => { e.preventDefault(); this.showMemory(this.memAddr.value); });
    this.el.append(this.head,
      H('div', { class: 'lgs-insn-bar', role: 'toolbar', 'aria-label': 'Guest instructions of this step' },
        this.bFirst, this.bBack, this.bNext, this.bLast, H('label', { class: 'lgs-insn-scrub' }, this.range), H('label', {}, '# ', this.num)),
      find, this.body, mem, this.memOut);
    this.goTo(pos ?? total, true);
  }

  /** A typed address: hex (0x100010), decimal, or a label of the program; `null` with the error shown. */
  parse(text) {
    const t = String(text ?? '').trim();
    let a = null;
    if (/^0x[0-9a-f]{1,8}$/i.test(t)) a = parseInt(t, 16);
    else if (/^\d{1,10}$/.test(t)) a = Number(t);
    else if (t) a = this.src.guestSymbol(t);
    if (a === null || a === undefined || a > 0xffffffff) {
      this.err.textContent = t ? `${t} is not an address or a label of this Guest program.` : 'Type a label or an address first.';
      return null;
    }
    this.err.textContent = '';
    return a >>> 0;
  }

  /** Run on from here to the next instruction at `text` (an address or a label), if the step reaches it. */
  runTo(text) {
    const a = this.parse(text);
    if (a === null) { this.announce(this.err.textContent); return; }
    const hit = this.src.guestFind(this.pos, [a]);
    if (typeof hit === 'number') {
      this.goTo(hit, true);
      this.announce(`Stopped at Guest instruction ${hit} of ${this.total}: the Guest is about to run ${hex(a)}. ${this.said}`);
    } else {
      this.err.textContent = hit?.message ?? `The Guest does not reach ${hex(a)} again in this step.`;
      this.announce(this.err.textContent);
    }
  }

  /** Eight rows of Guest memory at `text` (an address or a label), as the Guest sees it at this position. */
  showMemory(text) {
    const H = builder(this.doc);
    const a = this.parse(text);
    if (a === null) { this.memOut.replaceChildren(); this.announce(this.err.textContent); return; }
    const rows = this.src.guestMemory(this.pos, a, 8);
    this.memOut.replaceChildren(Array.isArray(rows) ? hexTable(this.doc, rows, `Guest memory at ${hex(a)} (as the Guest sees it here)`) : H('p', { class: 'bad' }, rows?.message ?? 'nothing to show'));
  }

  /** Show Guest instruction `n` of the step (clamped to the step's work); `quiet`: say nothing. */
  goTo(n, quiet = false) {
    this.pos = Math.max(0, Math.min(this.total, Number(n) || 0));
    const g = this.src.guestAt(this.pos);
    if (!g) return;
    this.render(g);
    this.onMove(this.pos, this);
    if (!quiet) this.announce(`Guest instruction ${this.pos} of ${this.total}. ${this.said}`);
  }

  /** Draw `g`, the wasm's `GuestAt` view of position `this.pos`. */
  render(g) {
    const H = builder(this.doc);
    this.range.value = String(this.pos);
    this.range.setAttribute('aria-valuetext', `instruction ${this.pos} of ${this.total}`);
    this.num.value = String(this.pos);
    this.bFirst.disabled = this.bBack.disabled = this.pos === 0;
    this.bNext.disabled = this.bLast.disabled = this.pos >= this.total;
    this.head.textContent = `Guest CPU${g.program ? ` (${g.program})` : ''}: instruction ${this.pos} of ${this.total} in this step`;
    const trip = g.tripInfo;
    const parts = [];
    if (g.error) parts.push(H('p', { class: 'bad', role: 'alert' }, `The replay went wrong: ${g.error}`));
    if (trip) parts.push(H('p', { class: 'lgs-trip' }, `Run ${g.trip + 1} of ${g.tripCount} into the Guest (instructions ${trip.start}–${trip.start + trip.len}); it ended: ${trip.ended || 'still running'}.`));
    if (g.note) parts.push(H('p', { class: 'lgs-hint' }, g.note));
    const last = g.last;
    const moved = new Map((last?.changed ?? []).map(([r, b]) => [r, b]));
    if (last) {
      const regs = last.changed.map(([r, b, a]) => `${r} ${hex(b)} → ${hex(a)}`).join(', ');
      const wrote = last.mem.filter((m) => m.write).map((m) => `${m.size} bytes at ${hex(m.addr)} (${hex(m.old)} → ${hex(m.new)})`).join(', ');
      this.said = `Just ran ${last.text} at ${hex(last.eip)}${last.repeating ? ' (one iteration; it repeats)' : ''}${regs ? `; ${regs}` : ''}${wrote ? `; wrote ${wrote}` : ''}.`;
      parts.push(H('p', { class: 'lgs-last' }, H('strong', {}, 'Just ran: '), H('code', {}, last.text), ` at ${hex(last.eip)}`,
        last.repeating ? ' (one iteration of the rep; EIP stays on it)' : '', regs ? ` — ${regs}` : '', wrote ? ` — wrote ${wrote}` : ''));
    } else {
      this.said = 'Nothing has run yet in this step: this is the state the Host hands to the Guest.';
      parts.push(H('p', { class: 'lgs-last' }, this.said));
    }
    parts.push(H('table', { class: 'lgs-regs' }, H('caption', {}, 'Registers'), H('tbody', {}, g.regs.map(([n, val]) => {
      const ch = moved.has(n);
      return H('tr', { class: ch ? 'chg' : '' }, H('th', { scope: 'row' }, n), H('td', {}, hex(val)), H('td', { class: 'lgs-badge' }, ch ? `changed (was ${hex(moved.get(n))})` : ''));
    }))));
    parts.push(H('p', {}, `eip ${hex(g.eip)}  eflags ${hex(g.eflags)}: `, flagList(H, g.flags, g.undefinedFlags), ` (ring ${g.cpl})`));
    parts.push(H('pre', { class: 'lgs-disasm', 'aria-label': 'Instructions around EIP' }, g.listing.map((l) => [
      l.label ? H('span', { class: 'lgs-label' }, `${l.label}:`) : '',
      H('span', { class: l.current ? 'cur' : '' }, l.current ? '→ ' : '  ', hex(l.addr), '  ', l.text, l.current ? '   ← next' : '')])));
    if (g.sourceLine) parts.push(H('p', {}, `Source line ${g.sourceLine}: `, H('code', {}, g.sourceText ?? '')));
    if (g.stack.length) parts.push(hexTable(this.doc, g.stack, g.stackTitle));
    this.body.replaceChildren(...parts);
  }
}

/** CF PF … OF: a set flag in capitals, a clear one in small letters (text, not colour alone); a flag the last
 *  instruction left architecturally undefined (`undefined`: [flag, sentence] from Rust) as `OF?`, greyed, with
 *  Rust's sentence as its title and its text, since the value the simulator holds is one vendor's. */
function flagList(H, flags, undefined = []) {
  const why = new Map(undefined);
  return [H('span', { class: 'vh' }, '(capital: set, small: clear) '),
    flags.map(([f, on]) => [why.has(f)
      ? H('abbr', { class: 'flag undef', title: why.get(f) }, `${f}?`, H('span', { class: 'vh' }, ` (${why.get(f)})`))
      : H('abbr', { class: on ? 'flag on' : 'flag', title: `${FLAGS[f] ?? f}: ${on ? 'set' : 'clear'}` }, on ? f : f.toLowerCase()), ' '])];
}

/** What each flag letter of eflags stands for. */
const FLAGS = { CF: 'carry', PF: 'parity', AF: 'adjust (BCD carry)', ZF: 'zero', SF: 'sign', TF: 'trap (single-step)', IF: 'interrupts enabled', DF: 'direction', OF: 'overflow' };

/** The Guest CPU of a step that ran no Guest code: `c` is the step view's `cpu` (a `GuestCpuView`); a register
 *  Rust says this step changed is marked "changed" (not while a question is `asking`). */
export function cpuAtRest(doc, c, asking) {
  const H = builder(doc);
  const moved = new Set(asking ? [] : c.changed);
  return H('div', { class: 'lgs-cpu' }, H('h3', {}, `Guest CPU (${c.program})`),
    H('table', { class: 'lgs-regs' }, H('tbody', {}, c.regs.map(([n, val]) => {
      const ch = moved.has(n);
      return H('tr', { class: ch ? 'chg' : '' }, H('th', { scope: 'row' }, n), H('td', {}, hex(val)), H('td', { class: 'lgs-badge' }, ch ? 'changed' : ''));
    }))),
    H('p', {}, `eip ${hex(c.eip)}  eflags ${hex(c.eflags)}: `, flagList(H, c.flags, c.undefinedFlags)),
    H('pre', { class: 'lgs-disasm' }, c.disasm.map(([a, t, cur]) => H('span', { class: cur ? 'cur' : '' }, cur ? '→ ' : '  ', hex(a), '  ', t, '\n'))),
    c.sourceLine ? H('p', {}, `Source line ${c.sourceLine}: `, H('code', {}, c.sourceText ?? '')) : '',
    c.lguestData.length ? H('p', {}, 'lguest_data: ', c.lguestData.map(([n, val]) => `${n}=${hex(val)}`).join(', ')) : '');
}

/** Rows of bytes: those the last instruction wrote are bold and underlined, those it read underlined with
 *  dots (and a screen reader hears "written" or "read"); `--` where nothing is mapped. */
function hexTable(doc, rows, title) {
  const H = builder(doc);
  const byte = (b, k, r) => {
    const t = b === null ? '--' : b.toString(16).padStart(2, '0');
    const how = r.written[k] ? 'written' : r.read[k] ? 'read' : '';
    return [k ? ' ' : '', how ? H('span', { class: how === 'written' ? 'w' : 'r' }, t, H('span', { class: 'vh' }, ` (${how})`)) : t];
  };
  const touched = rows.some((r) => r.written.some(Boolean) || r.read.some(Boolean));
  return H('table', { class: 'lgs-hex' }, H('caption', {}, title,
    touched ? H('span', { class: 'lgs-hint' }, ' — bold underlined: written by the last instruction; dotted: read') : ''),
    H('tbody', {}, rows.map((r) => H('tr', {}, H('th', { scope: 'row' }, hex(r.addr)), H('td', {}, r.bytes.map((b, k) => byte(b, k, r))), H('td', { class: 'lgs-ascii' }, r.ascii)))));
}
