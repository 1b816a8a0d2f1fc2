#!/usr/bin/env node
// lguest-sim-check: check lesson files as `lguest-sim check` does, with nothing but Node: it loads the
// package's wasm and runs the same Rust checker (parse, then replay every step against what the lesson
// says). Each `guest:` or `load` program a lesson names is read beside the lesson file (a name not found
// there is the course's own). Prints `file:line: message` for every problem and warning, a line per lesson,
// and exits 0 if every lesson checks, 1 if any has a problem, 2 on a usage error.
//
//   npx lguest-sim-check week3/my.lesson lessons/      (files, or directories of .lesson files)

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, checkLesson, lessonGuests, version } from '../pkg/lguest_sim.js';

const USAGE = 'usage: lguest-sim-check [--quiet] PATH...   check lesson files (or directories of .lesson files)';
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const quiet = args.includes('--quiet');
const bad = args.find((a) => a.startsWith('-') && a !== '--quiet');
const paths = args.filter((a) => !a.startsWith('-'));
if (bad || paths.length === 0) {
  console.error(bad ? `unknown option ${bad}\n${USAGE}` : USAGE);
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
initSync({ module: fs.readFileSync(path.join(here, '../pkg/lguest_sim_bg.wasm')) });

/** The .lesson files of `p` (itself, if it is a file), sorted, or an error message. */
function lessonFiles(p) {
  let st;
  try { st = fs.statSync(p); } catch (e) { return { error: `${p}:0: cannot read: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}` }; }
  if (st.isFile()) return { files: [p] };
  const files = fs.readdirSync(p).filter((f) => f.endsWith('.lesson')).sort().map((f) => path.join(p, f));
  return files.length ? { files } : { error: `${p}:0: no .lesson files here` };
}

let problems = 0;
let lessons = 0;
for (const p of paths) {
  const { files, error } = lessonFiles(p);
  if (error) {
    console.error(error);
    problems++;
    continue;
  }
  for (const file of files) {
    lessons++;
    const text = fs.readFileSync(file, 'utf8');
    const guests = {};
    for (const name of lessonGuests(text, file)) {
      const beside = path.resolve(path.dirname(file), name);
      if (fs.existsSync(beside)) guests[name] = fs.readFileSync(beside, 'utf8');
    }
    const r = checkLesson(text, file, guests);
    const all = [...r.problems, ...r.warnings].sort((a, b) => a.line - b.line);
    for (const d of all) console.error(`${d.file || file}:${d.line}: ${d.message}`);
    problems += r.problems.length;
    if (!quiet) {
      const verdict = r.ok ? 'ok' : `${r.problems.length} problem(s)`;
      console.log(r.parses ? `${file}: ${r.steps} steps, ${r.lines} lines: ${verdict}` : `${file}: does not parse: ${verdict}`);
    }
  }
}
if (problems === 0) {
  if (!quiet) console.log(`${lessons} lesson(s) checked: every step as the lessons say (lguest-sim ${version()})`);
  process.exit(0);
}
console.error(`${problems} problem(s) in ${lessons} lesson(s)`);
process.exit(1);
