// Running a multiboot kernel in v86 and timing the part between the kernel's two markers on the serial port
// ('{' when its work starts, '.' when it is done), in Node or in a page: the same code for both, given the
// V86 constructor and the bytes of the BIOS, the kernel and v86's wasm.

/**
 * Run `kernel` (an ArrayBuffer) in a fresh v86; resolves to { output, instructions (v86's own count),
 * seconds, mips }. `jit` false runs v86's interpreter only.
 */
export function runV86(V86, { wasmPath, wasmFn, bios, kernel, jit, timeoutMs = 300_000 }) {
  return new Promise((resolve, reject) => {
    const opts = { bios: { buffer: bios }, multiboot: { buffer: kernel }, memory_size: 64 << 20, autostart: true,
      disable_keyboard: true, disable_mouse: true, disable_speaker: true, disable_jit: !jit };
    if (wasmFn) opts.wasm_fn = wasmFn; else opts.wasm_path = wasmPath;
    const e = new V86(opts);
    let out = '', t0 = 0, ic0 = 0, started = false;
    const timer = setTimeout(() => { e.destroy(); reject(new Error(`v86 timed out; output so far ${JSON.stringify(out)}`)); }, timeoutMs);
    e.add_listener('serial0-output-byte', (b) => {
      const c = String.fromCharCode(b);
      if (!started && c === '{') {
        started = true;
        ic0 = e.get_instruction_counter();
        t0 = performance.now();
        return;
      }
      if (started && c === '.') {
        const seconds = (performance.now() - t0) / 1000;
        const instructions = e.get_instruction_counter() - ic0;
        clearTimeout(timer);
        e.destroy();
        resolve({ output: out, instructions, seconds, mips: instructions / seconds / 1e6 });
        return;
      }
      out += c;
    });
  });
}
