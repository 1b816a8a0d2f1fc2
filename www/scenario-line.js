// What a scenario line says, read back from its text: only for the lab page (app.js), which tests a line's
// kind on its text. Every step the wasm sends now carries its kind (`call`: 'expect', 'guest', 'read', ...)
// and its action without `=> expected` (`action`); the walkthrough's panes use those, and these two go when
// app.js does too.

// TODO(view): app.js can read `step.call === 'expect'`.
/** True for a check of the state (`expect lg.nr_cpus = 1`), which runs no system call. */
export const isCheck = (source) => /^expect\s/.test(String(source));

// TODO(view): app.js can read `step.call === 'guest'`.
/** True for a line that tells the Guest what to do next (`guest notify 0x8000`). */
export const isGuestAction = (source) => /^guest\b/.test(String(source));
