// The author's page checks the lesson here, off the page's thread: the same Rust checker as
// `lguest-sim check` (a replay of every step, the RCU explorer's runs included, which can take a while),
// so typing never waits for it. Messages: { id, text, file, guests } in, { id, result } out, where result is
// check::TextCheck ({ ok, parses, id, title, steps, lines, problems, warnings }).

import init, { checkLesson } from './pkg/lguest_sim.js';

const ready = init();
self.onmessage = async (e) => {
  const { id, text, file, guests } = e.data;
  try {
    await ready;
    self.postMessage({ id, result: checkLesson(text, file, guests) });
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};
