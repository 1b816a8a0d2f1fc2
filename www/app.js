// The lab page (lab.html): a newcomer is the Launcher and drives /dev/lguest by hand. Buttons (each with
// its small inputs) and a console send scenario lines to a wasm Simulator, run by a LineRunner as free play
// runs them (a `read` or `wait` the Guest keeps asleep goes on in slices, with a Stop button). After each
// line the page renders the Simulator's view: the line's result (results.js) in the live region and the
// log, the kernel events of the line with each function linked to the 2.6.39 source, and the state after
// it (a StatePane with its Guest CPU pane), where Rust has marked each change with its old value.
//
// JS renders, Rust decides: nothing here names a field, words a value or compares two states; the page only
// fills in a button's line from its inputs and says what its own buttons did (stepped back, reset).
// No innerHTML: every text goes in through textContent, so nothing typed can become markup.

import init, { Simulator, version } from './pkg/lguest_sim.js';
import { builder, sharedKey } from './dom.js';
import { resultItem, parseErrorItem } from './results.js';
import { StatePane, eventList } from './state-pane.js';
import { guestCpu } from './guest-pane.js';
import { LineRunner } from './line-runner.js';

const $ = (sel) => document.querySelector(sel);

/** Build an element in this page: h('p', { class: 'x' }, 'text', child...). */
const h = builder(document);

let sim = null;
/** The lines run and the Simulator's view after each (views[0]: the fresh Launcher). */
const lines = new LineRunner({ going, progress, ended });
let state = null; // the StatePane in #panels
let insn = null; // the Guest instruction the Guest CPU pane shows (null: the end of the line's Guest work)

// ---- rendering -----------------------------------------------------------------------------------------

/** ✓/✗ here hold a result to the line typed (and its `=> expected`, if it has one), not to a lesson. */
const item = (r) => resultItem(document, r, { who: 'the line', meaning: (e) => Simulator.errnoMeaning(e) });

/** The live region: what the last line returned and why (`before`: a note of the page's own first). */
function showLast(before = null) {
  const v = lines.view;
  const r = lines.prev ? v.results[0] : null;
  const last = $('#last');
  last.className = `last ${r ? (r.ok ? (r.sys?.errno ? 'err' : 'ok') : 'bad') : ''}`;
  if (!r) {
    last.replaceChildren(before ?? h('p', {}, 'Nothing has happened yet. Press ', h('strong', {}, '1. open /dev/lguest'), ' on the left.'),
      h('p', { class: 'why' }, 'Each result appears here, with why the kernel returned it; the kernel\'s data after it is on the right.'));
    return;
  }
  last.replaceChildren(before ?? '', h('ul', { class: 'lgs-reslist' }, item(r)), v.hint ? h('p', { class: 'lgs-hint' }, `Hint: ${v.hint}`) : '');
}

/** The kernel events of the last line, each function linked to the kernel's source. */
function showEvents(v) {
  $('#events').replaceChildren(v.events.length ? eventList(document, v.events, 'Kernel events of the last line', v.eventsLeftOut)
    : h('p', { class: 'empty' }, 'No kernel events in the last line.'));
}

/** The state after the last line; its events are shown beside the log, so not again among the panels. */
function showState(v) {
  const g = guestCpu(document, v, { src: sim, pos: insn, onMove: (pos) => { insn = pos; }, announce: say });
  state.render({ ...v, panels: v.panels.filter((p) => p.id !== 'events') }, { guest: g.el });
}

/** Say `text` in the live region after what it holds (the Guest CPU pane's moves). */
function say(text) {
  $('#last .said')?.remove();
  $('#last').append(h('p', { class: 'said' }, text));
}

/** Redraw what depends on the last view (`before`: a note of the page's own, shown first). */
function render(before = null) {
  const v = lines.view;
  showLast(before);
  showEvents(v);
  showState(v);
  $('#back').disabled = lines.views.length < 2;
  // A newcomer's first press: marked beside the button until a line has run.
  for (const el of document.querySelectorAll('.next')) el.remove();
  if (lines.views.length < 2 && !$('#log li')) $('button[data-line="open"]').after(h('span', { class: 'next' }, '← start here'));
}

/** Log the last line's result. */
function logLast() {
  const r = lines.view.results[0];
  if (!r) return;
  const li = item(r);
  $('#log').append(li);
  li.scrollIntoView?.({ block: 'nearest' });
}

// ---- a line going on in slices (the LineRunner's hooks) ------------------------------------------------

function going(text, stop) {
  $('#app').dataset.going = 'true';
  $('#going').replaceChildren(h('p', { 'aria-busy': 'true' }, h('span', { class: 'going-text' }, text), ' ',
    h('button', { type: 'button', class: 'stop', onclick: stop }, 'Stop')));
}

function progress(text) {
  const t = $('#going .going-text');
  if (t) t.textContent = text;
}

function ended(said) {
  delete $('#app').dataset.going;
  $('#going').replaceChildren(h('p', {}, said));
  insn = null;
  $('#log').lastElementChild?.remove(); // the line's result as its last slice left it
  logLast();
  render();
}

function quiet() {
  lines.stop();
  delete $('#app').dataset.going;
  $('#going').replaceChildren();
}

// ---- actions ---------------------------------------------------------------------------------------------

function run(line) {
  quiet();
  const r = lines.line(line);
  if (r === null) return; // blank or comment
  if (r.source === undefined) { // does not parse: nothing ran, nothing changed
    $('#log').append(parseErrorItem(document, line, r.message));
    const last = $('#last');
    last.className = 'last bad';
    last.replaceChildren(h('ul', { class: 'lgs-reslist' }, parseErrorItem(document, line, r.message)),
      h('p', { class: 'why' }, 'It was not run, and changed nothing. The console\'s hint below lists lines to try.'));
    return;
  }
  insn = null;
  logLast();
  render();
}

function back() {
  const undone = lines.view.results[0]?.action;
  quiet();
  if (!lines.back()) return;
  insn = null;
  // Lines that did not parse never ran: they go too, then the line undone.
  const log = $('#log');
  while (log.lastElementChild?.classList.contains('lgs-parse-err')) log.lastElementChild.remove();
  log.lastElementChild?.remove();
  render(h('p', { class: 'undone' }, `Stepped back: undid "${undone}". Now showing the line before it.`));
}

function reset() {
  quiet();
  sim.reset();
  lines.use(sim);
  insn = null;
  $('#log').replaceChildren();
  render(h('p', {}, 'Reset: a fresh Launcher. Press ', h('strong', {}, '1. open /dev/lguest'), '.'));
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
        $('#last').className = 'last bad';
        $('#last').replaceChildren(h('p', {}, `Fill in "${label}" with one number (like 1 or 0x7000) first.`));
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
  // The keys every page shares (dom.js): ? these keys, / the console, Escape out of a field, ← b p back.
  document.addEventListener('keydown', (ev) => sharedKey(ev, {
    help: () => { $('#keys').focus(); say($('#keys').textContent.trim()); },
    field: () => $('#console-line'),
    leave: (t) => { t.blur(); $('#app').focus({ preventScroll: true }); },
    back,
  }));
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
  lines.use(sim);
  state = new StatePane(document, $('#panels'));
  $('#version').textContent = `lguest-sim ${version()}.`;
  wire();
  updateLines();
  render();
  for (const b of document.querySelectorAll('button')) b.disabled = false;
  $('#back').disabled = true;
  document.body.dataset.ready = 'true';
}

main();
