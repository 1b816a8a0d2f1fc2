// Breakpoints: on a modelled host function (Play stops before a step whose events run it) or on a Guest
// address or label (Play stops inside the step, where the Guest is about to run it). Holds the two sets,
// draws the form and the list with Remove buttons, and answers what a step view hits. Needs the host
// functions' names and `symbol(name)`, a label's address in the lesson's Guest program.

import { builder, hex, uid } from './dom.js';

export class Breakpoints {
  /** `announce(text)`: the live region; `form: false` (a compact embed): no form, only the script API. */
  constructor(doc, { funcNames, symbol, announce, form = true }) {
    this.doc = doc;
    this.funcNames = funcNames;
    this.symbol = symbol;
    this.announce = announce;
    this.funcs = new Set(); // host functions: stop before a step whose kernel events run one
    this.addrs = new Map(); // Guest addresses -> how the student named them: stop in a step where the Guest reaches one
    this.el = form ? this.build() : null;
  }

  /** "Stop before a step that runs: [function]", and the breakpoints set, each removable. */
  build() {
    const H = builder(this.doc);
    const n = uid();
    const list = H('datalist', { id: `lgs-funcs-${n}` }, this.funcNames.map((f) => H('option', { value: f })));
    this.input = H('input', { class: 'lgs-bp-func', list: list.id, autocomplete: 'off', spellcheck: 'false', placeholder: 'add_eventfd, start, 0x100010',
      'aria-describedby': `lgs-bp-err-${n}` });
    this.err = H('span', { class: 'lgs-bp-err', id: `lgs-bp-err-${n}` });
    this.list = H('ul', { class: 'lgs-bps', 'aria-label': 'Breakpoints set' });
    const form = H('form', { class: 'lgs-bp-form' },
      H('label', {}, 'Stop at a host function or a Guest address: ', this.input), list,
      H('button', { type: 'submit', class: 'lgs-bp-add' }, 'Add breakpoint'), this.err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.add(this.input.value)) this.input.value = '';
    });
    this.render();
    return H('section', { class: 'lgs-bpbox', 'aria-label': 'Breakpoints on host functions and Guest addresses' }, form, this.list);
  }

  /**
   * A breakpoint on a modelled host function (play stops before a step that runs it) or on a Guest address or
   * label of the lesson's program (play stops in the step where the Guest is about to run it, with the Guest
   * CPU pane at that instruction). True if it is set now.
   */
  add(name) {
    const f = String(name ?? '').trim().replace(/\(\)$/, '');
    let addr = null;
    if (f && !this.funcNames.includes(f)) {
      if (/^0x[0-9a-f]{1,8}$/i.test(f)) addr = parseInt(f, 16) >>> 0;
      else if (/^[A-Za-z_.$][\w.$]*$/.test(f)) addr = this.symbol(f);
    }
    const err = !f ? 'Type the name of a host function, or a Guest address or label, first.'
      : !this.funcNames.includes(f) && (addr === null || addr === undefined)
        ? `${f} is not a host function the simulator models, nor a Guest address (0x…) or a label of this lesson's Guest program.` : '';
    if (this.err) {
      this.err.textContent = err;
      if (err) this.input.setAttribute('aria-invalid', 'true'); else this.input.removeAttribute('aria-invalid');
    }
    if (err) { this.announce(err); return false; }
    if (addr !== null && addr !== undefined) {
      const label = /^0x/i.test(f) ? hex(addr) : `${f} (${hex(addr)})`;
      if (this.addrs.has(addr)) { this.announce(`A breakpoint on Guest address ${label} is already set.`); return true; }
      this.addrs.set(addr, label);
      this.render();
      this.announce(`Breakpoint set: play stops where the Guest is about to run ${label}.`);
      return true;
    }
    if (this.funcs.has(f)) { this.announce(`A breakpoint on ${f}() is already set.`); return true; }
    this.funcs.add(f);
    this.render();
    this.announce(`Breakpoint set: play stops before a step that runs ${f}().`);
    return true;
  }

  /** Remove the breakpoint on host function `f`, or on Guest address `f` (a number). */
  remove(f) {
    const guest = typeof f === 'number';
    const label = guest ? this.addrs.get(f) : `${f}()`;
    if (!(guest ? this.addrs.delete(f) : this.funcs.delete(f))) return;
    const items = [...(this.list?.querySelectorAll('.lgs-bp-remove') ?? [])];
    const i = items.findIndex((b) => (guest ? b.dataset.addr === String(f) : b.dataset.func === f));
    this.render();
    // The focus goes to the next breakpoint's Remove button, else the previous one's, else the field.
    const left = [...(this.list?.querySelectorAll('.lgs-bp-remove') ?? [])];
    (left[i] ?? left[i - 1] ?? this.input)?.focus();
    this.announce(`Breakpoint on ${guest ? `Guest address ${label}` : label} removed.`);
  }

  /** The list of breakpoints set (when there is a form to show it in). */
  render() {
    if (!this.list) return;
    const H = builder(this.doc);
    const item = (text, what, data, f) => H('li', { class: 'lgs-bp' },
      H('span', { class: 'lgs-bp-mark', 'aria-hidden': 'true' }, '● '), H('code', {}, text), ' ',
      H('button', { type: 'button', class: 'lgs-bp-remove', ...data, onclick: () => this.remove(f) }, 'Remove',
        H('span', { class: 'vh' }, ` the breakpoint on ${what}`)));
    const all = [...[...this.funcs].map((f) => item(`${f}()`, `${f}()`, { 'data-func': f }, f)),
      ...[...this.addrs].map(([a, label]) => item(`Guest ${label}`, `Guest address ${label}`, { 'data-addr': String(a) }, a))];
    this.list.replaceChildren(...(all.length ? all : [H('li', { class: 'lgs-bp-none' }, 'No breakpoints set.')]));
  }

  /** The field, for the `b` key. */
  focus() { this.input?.focus(); }

  /** The breakpoint functions a step view's kernel events ran in. */
  hits(v) { return v.funcs.filter((f) => this.funcs.has(f)); }

  /** Functions as a sentence names them: `add_eventfd(), kfree()`. */
  names(fs) { return fs.map((f) => `${f}()`).join(', '); }

  /** Whether any breakpoint is set, on a function or an address. */
  get any() { return this.funcs.size > 0 || this.addrs.size > 0; }

  /** The Guest-address breakpoints, for the wasm's search (`guestFindInStep`). */
  addresses() { return Uint32Array.from(this.addrs.keys()); }

  /** How the student named Guest address `a` (`sent (0x100042)`), else its hex. */
  label(a) { return this.addrs.get(a) ?? hex(a); }
}
