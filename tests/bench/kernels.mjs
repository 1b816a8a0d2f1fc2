// The benchmark kernels (tests/bench/kernels/*.S) and how to build them: GNU as and ld from binutils, three
// ways from one source (see bench.inc): `guest` (an lguest Guest for our core), `multiboot` (for v86) and
// `linux` (a 32-bit Linux program, so the real processor can check the checksum each prints).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KERNEL_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kernels');

/** Every kernel, in the order the suite reports them. */
export const KERNELS = ['alu', 'shift', 'muldiv', 'bits', 'string', 'control', 'addressing', 'bcd', 'calls', 'memory',
  'selfmod', 'interrupts'];

const FLAVOURS = { guest: ['--defsym', 'GUEST=1'], multiboot: ['--defsym', 'MULTIBOOT=1'], linux: [] };

/**
 * Build `name` as `flavour` into `outDir`; returns the ELF's path. `iters` (optional) overrides the kernel's
 * own amount of work.
 */
export function buildKernel(name, flavour, outDir, iters) {
  fs.mkdirSync(outDir, { recursive: true });
  const tag = iters ? `${name}-${flavour}-${iters}` : `${name}-${flavour}`;
  const obj = path.join(outDir, `${tag}.o`);
  const elf = path.join(outDir, `${tag}.elf`);
  const defs = [...FLAVOURS[flavour], ...(iters ? ['--defsym', `ITERS=${iters}`] : [])];
  execFileSync('as', ['--32', '-I', KERNEL_DIR, ...defs, '-o', obj, path.join(KERNEL_DIR, `${name}.S`)], { stdio: 'inherit' });
  execFileSync('ld', ['-m', 'elf_i386', '-static', '--no-warn-rwx-segments', '-Ttext', '0x100000', '-e', 'start', '-o', elf, obj],
    { stdio: 'inherit' });
  return elf;
}

/** Build every kernel in `names` the ways in `flavours`: { name: { flavour: path } }. */
export function buildAll(outDir, names = KERNELS, flavours = Object.keys(FLAVOURS)) {
  const out = {};
  for (const n of names) {
    out[n] = {};
    for (const f of flavours) out[n][f] = buildKernel(n, f, outDir);
  }
  return out;
}
