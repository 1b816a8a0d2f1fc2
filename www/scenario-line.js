// What a scenario line says, read back from its text. The wasm sends each line as the lesson or the student
// wrote it (`Step.source`: `write IRQ 1 => 0   # the comment`), not the parts the scenario parser found in
// it, so the page re-reads the text here and nowhere else: the action without its expected result, without
// its comment, and whether it is a check (`expect …`) or a Guest action (`guest …`). Each function is a
// stand-in for a field the view will carry (review problem 6: `Step { call, action_text, expect_text,
// is_check }`, filled from the parsed Action in `Runner::run_line`); when it does, each caller reads the field
// and this file goes.

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
