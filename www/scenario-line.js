// What a scenario line says, read back from its text. The wasm sends a line as written (`Step.source`), not
// the parts the parser found, so the page re-reads it here and nowhere else; each function stands in for a
// field the Step view will carry (review problem 6), and goes when it does.

// TODO(view): Rust will send each step's action text (`actionText`): the line without ` => expected`.
/** `read => 4 notify=0x8000` is `read`. (The first `=>` ends the action, as the parser splits it.) */
export const actionText = (source) => String(source).replace(/\s*=>.*$/, '');

// TODO(view): Rust will send each step's action text without its comment, as it parsed it.
/** `write IRQ 1   # the timer` is `write IRQ 1`. */
export const withoutComment = (text) => String(text).replace(/\s+#.*$/, '');

// TODO(view): Rust will send each step's call kind (`isCheck`): an `expect name = value` line, not an action.
/** True for a check of the state (`expect lg.nr_cpus = 1`), which runs no system call. */
export const isCheck = (source) => /^expect\s/.test(String(source));

// TODO(view): Rust will send each step's call kind (`call: 'guest'`): the Guest acts, not the Launcher.
/** True for a line that tells the Guest what to do next (`guest notify 0x8000`). */
export const isGuestAction = (source) => /^guest\b/.test(String(source));
