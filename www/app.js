// The first page of lguest-sim: buttons and a console send scenario lines to the wasm Simulator; after each
// line the page renders the step (result, errno, why), the kernel events it produced, and the snapshot of
// struct lguest, lg_cpu, the eventfd map, the tasks and the allocations, marking what changed.
//
// JS renders, Rust decides: everything shown comes from Simulator.exec / snapshot / events / functions.
// Not yet quite: this page still words the snapshot and diffs it itself, and reads a line's kind from its
// text; each such place is a function marked TODO(view), to go when it renders the walkthrough's view.
// No innerHTML: every text goes in through textContent, so nothing typed can become markup.

import init, { Simulator, version } from './pkg/lguest_sim.js';
import { builder, hex } from './dom.js';
import { isCheck, isGuestAction } from './scenario-line.js';

const $ = (sel) => document.querySelector(sel);

/** Build an element in this page: h('td', { class: 'x' }, 'text', child...). */
const h = builder(document);

// ---- the simulator and its history of snapshots (one per executed line, so back() can re-diff) -----------

let sim = null;
let funcs = new Map();
/** snaps[i] is the snapshot after i lines; snaps[0] is the fresh Launcher. */
let snaps = [];
/** The note for the step being shown (parse errors are not steps, so they are kept here). */
let note = null;

// ---- what the state panels show, as key -> text, so two snapshots can be compared ------------------------
// TODO(view): Rust will send `sections: [{ title, rows: [{ key, value, changed, was }] }]` in the step view
// the walkthrough renders (review problem 3), and this page will render that view. Until then `fields()`
// rebuilds the state from the snapshot as key -> text, with keys and wording of its own (`map.0`, `ctx.0`,
// `lock`, where the walkthrough and `expect` lines say `lg.eventfds.map0`, `eventfd0.count`, `lguest_lock`);
// guestOf() ... fileKind() are its helpers, and mark() and gone() below diff two of its maps.

function guestOf(snap) {
  return snap.guests.length ? snap.guests[snap.guests.length - 1] : null;
}

function fdsOfCtx(snap, ctx) {
  return snap.files.filter((f) => f.kind.kind === 'eventfd' && f.kind.ctx === ctx).flatMap((f) => f.fds);
}

function dead(d) {
  if (!d) return 'NULL (alive)';
  if (d.kind === 'reason') return `"${d.text}" (kasprintf'd, allocation #${d.alloc})`;
  return `ERR_PTR(-${d.errno})`;
}

function taskState(t) {
  if (t.blocked) return `blocked: ${t.blocked}`;
  if (t.state === 'exited') return 'exited';
  if (t.state === 'inRead') return 'in read()';
  return 'in user space, ready';
}

function fileKind(k) {
  if (k.kind === 'lguest') {
    const pd = k.privateData ?? k.private_data;
    return pd === null || pd === undefined ? '/dev/lguest, private_data = NULL' : `/dev/lguest, private_data = Guest ${pd}`;
  }
  if (k.kind === 'eventfd') return `eventfd, ctx ${k.ctx}`;
  return 'terminal';
}

/** Every value a panel shows, by a stable key. */
function fields(snap) {
  const f = new Map();
  f.set('lock', snap.lguestLock ? `held by ${snap.lguestLock} (the global mutex)` : 'free (the global mutex)');
  const g = guestOf(snap);
  if (g) {
    f.set('lg.index', String(g.index));
    f.set('lg.nr_cpus', String(g.nrCpus));
    f.set('lg.mem_base', hex(g.memBase));
    f.set('lg.pfn_limit', `${hex(g.pfnLimit)} pages (${(g.pfnLimit * 4096) / (1024 * 1024)} MB)`);
    f.set('lg.lguest_data', g.lguestData === null ? 'NULL (the Guest has not made LGUEST_INIT yet)' : hex(g.lguestData));
    f.set('lg.noirq', `[${hex(g.noirqStart)}, ${hex(g.noirqEnd)})`);
    f.set('lg.dead', dead(g.dead));
    f.set('lg.eventfds', `version #${g.eventfds.alloc}, num = ${g.eventfds.num}`);
    g.eventfds.map.forEach((e, i) => {
      const fds = fdsOfCtx(snap, e.event);
      f.set(`map.${i}`, `${hex(e.addr)} → eventfd ctx ${e.event}${fds.length ? ` (fd ${fds.join(', ')})` : ''}`);
    });
    const c = g.cpus[0];
    if (c) {
      f.set('cpu0.tsk', `${c.tsk} (only it may read())`);
      f.set('cpu0.pending_notify', c.pendingNotify ? hex(c.pendingNotify) : '0 (none)');
      f.set('cpu0.halted', c.halted ? '1 (halted: waiting for an interrupt)' : '0');
      f.set('cpu0.irqs_pending', hex(c.irqsPending));
      f.set('cpu0.hcall', c.hcall ? `call ${c.hcall[0]} (${c.hcall.slice(1).map(hex).join(', ')})` : 'NULL (none pending)');
      f.set('cpu0.hrt', c.hrtExpires === null ? 'off' : `${c.hrtExpires} ns`);
      for (const [r, v] of Object.entries(c.regs)) f.set(`cpu0.regs.${r}`, hex(v));
    }
  }
  for (const e of snap.eventfds) {
    const fds = fdsOfCtx(snap, e.ctx);
    f.set(`ctx.${e.ctx}`, `count = ${e.count}, refs = ${e.refs}${fds.length ? `, fd ${fds.join(', ')}` : ', no fd'}`);
  }
  for (const t of snap.tasks) {
    f.set(`task.${t.name}`, taskState(t) + (t.signalPending ? '; a signal is pending' : ''));
  }
  for (const file of snap.files) {
    f.set(`file.${file.fds.join(',') || 'none'}`, `${fileKind(file.kind)}, f_count = ${file.fCount}`);
  }
  for (const a of snap.allocations) {
    f.set(`alloc.${a.id}`, `${a.what}, ${a.bytes} bytes (${a.kind}) by ${a.by}()`);
  }
  return f;
}

// ---- rendering -----------------------------------------------------------------------------------------

// TODO(view): Rust will send `changed` and `was` with each row; the page compares two of its fields() maps.
/** How a key moved between the previous snapshot and this one: 'changed', 'new' or null. */
function mark(cur, prev, key) {
  if (!prev) return null;
  if (!prev.has(key)) return 'new';
  return prev.get(key) !== cur.get(key) ? 'changed' : null;
}

function marker(kind) {
  return kind ? h('span', { class: `chg ${kind}` }, kind) : '';
}

/** A panel: a heading with a count of changes, then its body. */
function panel(id, title, body, nChanged, extra) {
  const hid = `h-${id}`;
  return h('section', { class: 'panel', id, 'aria-labelledby': hid },
    h('h3', { id: hid }, title, nChanged ? h('span', { class: 'count' }, ` ${nChanged} changed`) : ''),
    extra || '', body);
}

/** A two-column table of fields; returns [table, number changed]. */
function fieldTable(cur, prev, rows) {
  let n = 0;
  const tbody = h('tbody');
  for (const [key, label, extraCell] of rows) {
    if (!cur.has(key)) continue;
    const m = mark(cur, prev, key);
    if (m) n++;
    tbody.append(h('tr', { class: m ? 'changed' : '', 'data-key': key },
      h('th', { scope: 'row' }, label),
      h('td', {}, h('span', { class: 'val' }, cur.get(key)), extraCell || '', marker(m))));
  }
  return [h('table', { class: 'fields' }, tbody), n];
}

// TODO(view): Rust will send what a step closed or freed; the page looks for keys of a prefix that went.
/** The keys starting with `prefix` that the previous snapshot had and this one has not, with their text. */
function gone(cur, prev, prefix) {
  if (!prev) return [];
  return [...prev.keys()].filter((k) => k.startsWith(prefix) && !cur.has(k)).map((k) => [k, prev.get(k)]);
}

function irqBits(value) {
  // 32 bits, high to low, in groups of 8, as 1s and 0s (text, not colour only); the list below says it in words.
  const wrap = h('span', { class: 'bits', 'aria-hidden': 'true' }, h('span', { class: 'bitno' }, '31'));
  for (let byte = 3; byte >= 0; byte--) {
    const grp = h('span', { class: 'byte' });
    for (let b = byte * 8 + 7; b >= byte * 8; b--) {
      const on = (value >>> b) & 1;
      grp.append(h('span', { class: on ? 'bit on' : 'bit', title: `irq ${b}` }, on ? '1' : '0'));
    }
    wrap.append(grp);
  }
  wrap.append(h('span', { class: 'bitno' }, '0'));
  const set = [];
  for (let b = 0; b < 32; b++) if ((value >>> b) & 1) set.push(b);
  return h('span', { class: 'bitwrap' }, wrap, h('span', { class: 'bitlist' }, set.length ? `pending: irq ${set.join(', irq ')}` : 'none pending'));
}

function renderPanels(snap, prevSnap) {
  const cur = fields(snap);
  const prev = prevSnap ? fields(prevSnap) : null;
  const out = [];
  const g = guestOf(snap);

  // struct lguest
  if (g) {
    const [t, n] = fieldTable(cur, prev, [
      ['lg.index', 'Guest'],
      ['lg.nr_cpus', 'nr_cpus'],
      ['lg.mem_base', 'mem_base'],
      ['lg.pfn_limit', 'pfn_limit'],
      ['lg.lguest_data', 'lguest_data'],
      ['lg.noirq', 'noirq_start/end'],
      ['lg.dead', 'dead'],
      ['lg.eventfds', 'eventfds'],
      ['lock', 'lguest_lock'],
    ]);
    out.push(panel('p-lguest', 'struct lguest', t, n));
  } else {
    const [t, n] = fieldTable(cur, prev, [['lock', 'lguest_lock']]);
    const lost = prev && prev.has('lg.index');
    out.push(panel('p-lguest', 'struct lguest', t, n + (lost ? 1 : 0),
      h('p', { class: lost ? 'empty changed' : 'empty' },
        lost ? 'Freed: the Guest is gone (close() released struct lguest). ' : 'None yet: the file\'s private_data stays NULL until write INITIALIZE succeeds. ',
        lost ? marker('changed') : '')));
  }

  // lg_cpu 0
  if (g && g.cpus[0]) {
    const c = g.cpus[0];
    const [t, n] = fieldTable(cur, prev, [
      ['cpu0.tsk', 'tsk'],
      ['cpu0.pending_notify', 'pending_notify'],
      ['cpu0.irqs_pending', 'irqs_pending', irqBits(c.irqsPending)],
      ['cpu0.halted', 'halted'],
      ['cpu0.hcall', 'hcall'],
      ['cpu0.hrt', 'hrtimer'],
      ['cpu0.regs.eip', 'regs->eip'],
      ['cpu0.regs.eax', 'regs->eax'],
      ['cpu0.regs.trapnum', 'regs->trapnum'],
    ]);
    const others = Object.keys(c.regs).filter((r) => !['eip', 'eax', 'trapnum'].includes(r));
    const [rt, rn] = fieldTable(cur, prev, others.map((r) => [`cpu0.regs.${r}`, `regs->${r}`]));
    const det = h('details', {}, h('summary', {}, `all registers${rn ? ` (${rn} changed)` : ''}`), rt);
    out.push(panel('p-cpu', 'struct lg_cpu 0', h('div', {}, t, det), n + rn));
  } else {
    out.push(panel('p-cpu', 'struct lg_cpu 0', h('p', { class: 'empty' }, 'No cpu yet: lg_cpu_start() runs inside INITIALIZE.'), 0));
  }

  // the eventfd map
  {
    const rows = [];
    if (g) {
      rows.push(['lg.eventfds', 'lg->eventfds']);
      g.eventfds.map.forEach((_, i) => rows.push([`map.${i}`, `map[${i}]`]));
    }
    const [t, n] = fieldTable(cur, prev, rows);
    const [ct, cn] = fieldTable(cur, prev, snap.eventfds.map((e) => [`ctx.${e.ctx}`, `eventfd ctx ${e.ctx}`]));
    const body = h('div', {},
      g ? t : h('p', { class: 'empty' }, 'No Guest, so no map.'),
      g && g.eventfds.map.length === 0 ? h('p', { class: 'empty' }, 'The map is empty: no NOTIFY address has an eventfd yet.') : '',
      snap.eventfds.length ? h('h4', {}, 'eventfd counters') : '',
      snap.eventfds.length ? ct : '');
    out.push(panel('p-eventfds', 'eventfd map (RCU: each change makes a new version)', body, n + cn));
  }

  // tasks and files
  {
    const [tt, tn] = fieldTable(cur, prev, snap.tasks.map((t) => [`task.${t.name}`, `${t.name} (${t.process})`]));
    const [ft, fnum] = fieldTable(cur, prev, snap.files.map((f) => [`file.${f.fds.join(',') || 'none'}`, `fd ${f.fds.map((d) => d.split(':')[1]).join(', ')}`]));
    const closed = gone(cur, prev, 'file.');
    const body = h('div', {}, tt, h('h4', {}, 'open files'), ft,
      closed.length ? h('ul', { class: 'gone' }, closed.map(([k, v]) => h('li', {}, `fd ${k.slice(5).split(',').map((d) => d.split(':')[1]).join(', ')}: ${v} `, marker('closed')))) : '');
    out.push(panel('p-tasks', 'Launcher tasks and files', body, tn + fnum + closed.length));
  }

  // allocations: the account book
  {
    const [t, n] = fieldTable(cur, prev, snap.allocations.map((a) => [`alloc.${a.id}`, `#${a.id}`]));
    const freed = gone(cur, prev, 'alloc.');
    const leak = !g && snap.allocations.length > 0;
    const body = h('div', {},
      snap.allocations.length ? t : h('p', { class: 'empty' }, 'Nothing allocated.'),
      freed.length ? h('ul', { class: 'gone' }, freed.map(([k, v]) => h('li', {}, `#${k.slice(6)} ${v} `, marker('freed')))) : '',
      leak ? h('p', { class: 'leak', role: 'note' }, h('strong', {}, 'Leaked: '),
        `no Guest exists, yet ${snap.allocations.length} allocation${snap.allocations.length > 1 ? 's are' : ' is'} still held. Nothing will ever free ${snap.allocations.length > 1 ? 'them' : 'it'}.`) : '');
    out.push(panel('p-alloc', `Allocations (${snap.allocations.length} live)`, body, n + freed.length));
  }

  $('#panels').replaceChildren(...out);
}

/** The step's result in words: [headline, explanation lines]. */
function describe(step) {
  if (!step) return null;
  if (!('source' in step)) {
    return { cls: 'bad', result: 'not run', text: [`The line does not parse: ${step.message}`], source: null };
  }
  const lines = [];
  let cls = 'ok';
  let result = step.result;
  if (step.sys && step.sys.errno) {
    cls = 'err';
    const meaning = Simulator.errnoMeaning(step.sys.errno);
    lines.push(`${step.sys.errno} (${step.sys.ret}): ${meaning ?? 'an error'}.`);
    lines.push(`Why: ${step.sys.why}.`);
  } else if (step.sys) {
    lines.push(`Why: ${step.sys.why}.`);
  } else if (result === 'blocked') {
    cls = 'blocked';
    lines.push(`${step.task} is asleep in the kernel: ${step.message}.`);
    lines.push('Give the Guest something to do (a Guest button), send a signal, or press "wait".');
  } else if (isCheck(step.source)) {
    cls = step.ok ? 'ok' : 'bad';
    result = step.ok ? 'holds' : 'does not hold';
    lines.push(step.ok ? 'The state is as the line says.' : step.message);
  } else if (!step.ok) {
    cls = 'bad';
    result = 'not carried out';
    lines.push(step.message ?? 'the line could not be carried out');
  } else {
    result = 'done';
    const evs = sim.events(step.events[0], step.events[1]);
    if (isGuestAction(step.source)) {
      result = evs.length ? 'ran' : 'queued';
      lines.push(evs.length ? 'The Guest ran it at once (a read() was waiting for it):' : 'Queued: the Guest does this the next time read() runs it.');
    }
    if (evs.length) lines.push(evs[evs.length - 1].text);
  }
  if (step.expected) lines.push(step.ok ? `As expected (${step.expected}).` : `Not as expected: ${step.message}.`);
  return { cls, result, text: lines, source: step.source, task: step.task };
}

function renderLast(step, extra) {
  const last = $('#last');
  if (!step && !extra) {
    last.className = 'last';
    last.replaceChildren(h('p', {}, 'Nothing has happened yet. Press "1. open /dev/lguest" on the left.'),
      h('p', { class: 'why' }, 'Each result appears here; the kernel\'s data structures after it are on the right.'));
    return;
  }
  if (extra) {
    last.className = 'last bad';
    last.replaceChildren(h('p', { class: 'result-line' }, extra));
    return;
  }
  const d = describe(step);
  last.className = `last ${d.cls}`;
  last.replaceChildren(
    h('p', { class: 'result-line' },
      d.source ? h('code', { class: 'src' }, (d.task && d.task !== 'main' ? `${d.task}: ` : '') + d.source) : '',
      d.source ? ' → ' : '',
      h('strong', { class: 'result', id: 'last-result' }, d.result)),
    ...d.text.map((t) => h('p', { class: 'why' }, t)));
}

function renderLog(steps) {
  const ol = $('#log');
  ol.replaceChildren(...steps.map((s, i) => {
    const d = describe(s);
    const errno = s.sys && s.sys.errno;
    return h('li', { class: `entry ${d.cls}${s.result !== null ? ' sys' : ''}`, 'data-result': s.result ?? '' },
      h('span', { class: 'n' }, `${i + 1}.`), ' ',
      h('code', { class: 'src' }, (s.task !== 'main' ? `${s.task}: ` : '') + s.source), ' → ',
      h('strong', { class: 'result' }, d.result),
      errno ? h('span', { class: 'meaning' }, ` ${Simulator.errnoMeaning(errno) ?? ''}`) : '',
      s.sys ? h('span', { class: 'why' }, ` — ${s.sys.why}`) : h('span', { class: 'why' }, ` — ${d.text.join(' ')}`));
  }));
  if (!steps.length) ol.append(h('li', { class: 'empty' }, 'No calls yet.'));
  ol.scrollTop = ol.scrollHeight; // the newest call in view, without moving the page
}

function renderEvents(step) {
  const tbody = $('#events tbody');
  const evs = step && step.events ? sim.events(step.events[0], step.events[1]) : [];
  tbody.replaceChildren(...evs.map((e) => {
    const f = funcs.get(e.func);
    const fn = f && f.link
      ? h('a', { href: f.link, target: '_blank', rel: 'noopener noreferrer', title: `${f.file}: ${f.summary}` }, e.func)
      : h('span', {}, e.func);
    return h('tr', {},
      h('td', { class: 'num' }, String(e.seq)),
      h('td', {}, e.task),
      h('td', {}, h('code', {}, fn)),
      h('td', {}, e.tag),
      h('td', {}, e.text, e.changed.length ? h('span', { class: 'paths' }, ` changed: ${e.changed.join(', ')}`) : ''));
  }));
  if (!evs.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No kernel events for this step.')));
}

// TODO(view): Rust will say which tasks have a blocked call's result waiting; the page compares two snapshots.
/** A task that was blocked before this step and is not now has a result waiting: say how to collect it. */
function woke(prev, cur, step) {
  if (!prev || !cur || !step) return;
  for (const t of cur.tasks) {
    const before = prev.tasks.find((p) => p.name === t.name);
    if (before && before.blocked && !t.blocked && !(step.task === t.name && step.sys)) {
      const wait = t.name === 'main' ? 'wait' : `wait ${t.name}`;
      $('#last').append(h('p', { class: 'woke' }, h('strong', {}, `${t.name}'s blocked call has returned. `),
        `Press "wait for a blocked read" (or type `, h('code', {}, wait), ') to see what it returned.'));
    }
  }
}

/** Redraw everything from the simulator's state. */
function render() {
  const steps = sim.steps();
  const step = note ?? (steps.length ? steps[steps.length - 1] : null);
  renderLast(step);
  if (!note) woke(snaps[snaps.length - 2], snaps[snaps.length - 1], step);
  renderLog(steps);
  renderEvents(note ? null : step);
  const n = snaps.length - 1;
  renderPanels(snaps[n], n > 0 ? snaps[n - 1] : null);
  $('#back').disabled = steps.length === 0;
  updateLines();
  suggest(snaps[n]);
}

// TODO(view): Rust will send the line a newcomer should try next; the page reads it off the snapshot's files.
/** Point a newcomer at the next button: open first, then INITIALIZE. */
function suggest(snap) {
  for (const el of document.querySelectorAll('.next')) el.remove();
  for (const b of document.querySelectorAll('button.suggest')) b.classList.remove('suggest');
  const lguestFiles = snap.files.filter((f) => f.kind.kind === 'lguest');
  let line = null;
  if (!lguestFiles.length) line = 'open';
  else if (!snap.guests.length && lguestFiles.every((f) => (f.kind.privateData ?? f.kind.private_data) == null)) line = 'write INITIALIZE';
  if (!line) return;
  const b = document.querySelector(`button[data-line="${line}"]`);
  b.classList.add('suggest');
  b.after(h('span', { class: 'next' }, line === 'open' ? '← start here' : '← next'));
}

// ---- actions ---------------------------------------------------------------------------------------------

function run(line) {
  note = null;
  const step = sim.exec(line);
  if (step === null) return; // blank or comment
  if (!('source' in step)) {
    note = step; // a parse error: nothing ran, nothing changed
  } else {
    snaps.push(sim.snapshot());
  }
  render();
}

function back() {
  note = null;
  const steps = sim.steps();
  const undone = steps.length ? steps[steps.length - 1].source : null;
  if (!sim.back()) return;
  snaps.pop();
  render();
  // Say what was undone; the panels now show what the step before it changed.
  const last = $('#last');
  last.prepend(h('p', { class: 'undone' }, `Stepped back: undid "${undone}". Now showing the step before it.`));
}

function reset() {
  note = null;
  sim.reset();
  snaps = [sim.snapshot()];
  render();
  $('#last').replaceChildren(h('p', {}, 'Reset: a fresh Launcher. Press "1. open /dev/lguest".'));
}

/** Fill {input-id} placeholders of a button's line from its inputs (trimmed; one word each). */
function lineFor(template) {
  let bad = null;
  const line = template.replace(/\{([a-z-]+)\}/g, (_, id) => {
    const v = document.getElementById(id).value.trim();
    if (!v || /[\s#"=]/.test(v)) bad = id;
    return v || '?';
  });
  return { line, bad };
}

function updateLines() {
  for (const code of document.querySelectorAll('code.line[data-for]')) {
    code.textContent = lineFor(code.dataset.for).line;
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------

function wire() {
  for (const b of document.querySelectorAll('button[data-line]')) {
    b.addEventListener('click', () => {
      const { line, bad } = lineFor(b.dataset.line);
      if (bad) {
        const label = document.querySelector(`label[for="${bad}"]`)?.textContent ?? bad;
        renderLast(null, `Fill in "${label}" with one number (like 1 or 0x7000) first.`);
        document.getElementById(bad).focus();
        return;
      }
      run(line);
    });
  }
  for (const i of document.querySelectorAll('.inputs input')) i.addEventListener('input', updateLines);
  $('#back').addEventListener('click', back);
  $('#reset').addEventListener('click', reset);
  $('#console').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('#console-line');
    const line = input.value;
    if (!line.trim()) return;
    run(line);
    input.value = '';
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    if (ev.key === 'b') {
      ev.preventDefault();
      back();
    } else if (ev.key === '/') {
      ev.preventDefault();
      $('#console-line').focus();
    }
  });
}

async function main() {
  try {
    await init();
  } catch (e) {
    $('#last').className = 'last bad';
    $('#last').replaceChildren(h('p', {}, `The simulator could not start: ${e}`));
    document.body.dataset.ready = 'failed';
    return;
  }
  sim = new Simulator(0);
  funcs = new Map(Simulator.functions().map((f) => [f.func, f]));
  snaps = [sim.snapshot()];
  $('#version').textContent = `lguest-sim ${version()}.`;
  wire();
  render();
  for (const b of document.querySelectorAll('button')) b.disabled = false;
  $('#back').disabled = true;
  document.body.dataset.ready = 'true';
}

main();
