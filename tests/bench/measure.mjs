// Timing an ELF Guest on a build of our wasm (its `runElf()`), the same way in Node and in the browser:
// the wall time of one `runElf()` call less that of a Guest that stops at once (the Launcher's boot, which
// every run pays: memory, the ELF load, the first trip into the Guest), and the instructions it retired
// less that Guest's. Nothing here imports Node, so a page can use it as it is.

/**
 * The smallest Guest: an ELF32 executable whose one instruction of work is a hypercall, made here byte by
 * byte so the measurement needs no file: `mov $2, %eax; xor %ebx, %ebx; int $0x1f; jmp .` at 0x100054.
 * The Host refuses a hypercall before LHCALL_LGUEST_INIT and the run ends there, after the full boot.
 */
export function nullGuest() {
  const code = [0xb8, 0x02, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xcd, 0x1f, 0xeb, 0xfe];
  const size = 52 + 32 + code.length;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELFCLASS32, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, 0x100000 + 84, true); // e_entry: the code after the headers
  v.setUint32(28, 52, true); // e_phoff
  v.setUint16(40, 52, true); // e_ehsize
  v.setUint16(42, 32, true); // e_phentsize
  v.setUint16(44, 1, true); // e_phnum
  const ph = 52;
  v.setUint32(ph, 1, true); // PT_LOAD of the whole file at 0x100000
  v.setUint32(ph + 8, 0x100000, true);
  v.setUint32(ph + 12, 0x100000, true);
  v.setUint32(ph + 16, size, true);
  v.setUint32(ph + 20, size, true);
  v.setUint32(ph + 24, 5, true); // R + X
  v.setUint32(ph + 28, 0x1000, true);
  b.set(code, 84);
  return b;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const boots = new WeakMap();

/** One `runElf()` call: its result and wall seconds. */
function timed(lib, bytes, memMb) {
  const t0 = performance.now();
  const r = lib.runElf(bytes, memMb, new Uint8Array(0));
  return { r, seconds: (performance.now() - t0) / 1000 };
}

/** The start-up every run pays on `lib` (median of five null Guests), measured once per library. */
export function bootCost(lib, memMb) {
  const key = boots.get(lib) ?? {};
  if (!(memMb in key)) {
    const runs = [];
    for (let k = 0; k < 5; k++) runs.push(timed(lib, nullGuest(), memMb));
    key[memMb] = { seconds: median(runs.map((x) => x.seconds)), instructions: runs[0].r.instructions };
    boots.set(lib, key);
  }
  return key[memMb];
}

/**
 * Run `bytes` (an ELF Guest) to its end on `lib` (an initialised wasm-bindgen module with `runElf`):
 * { stdout, stderr, exitCode, instructions, seconds, mips } with the start-up taken out.
 */
export function measureElf(lib, bytes, memMb = 32) {
  const boot = bootCost(lib, memMb);
  const { r, seconds } = timed(lib, bytes, memMb);
  const instructions = r.instructions - boot.instructions;
  const s = Math.max(seconds - boot.seconds, 1e-6);
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, instructions, seconds: s, mips: instructions / s / 1e6,
    bootSeconds: boot.seconds };
}
