// Run the benchmark and the fingerprint in Node: node run.mjs path/to/cpu_wasm_bench.wasm [scale]
import fs from 'fs';
const mod = await WebAssembly.compile(fs.readFileSync(process.argv[2]));
const imports = {};
for (const imp of WebAssembly.Module.imports(mod)) {
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = imp.name === 'now_ms' ? () => performance.now() : () => { throw new Error('unexpected import ' + imp.name); };
}
const { exports } = await WebAssembly.instantiate(mod, imports);
const scale = Number(process.argv[3] ?? 20);
console.log(`node ${process.version}: wasm fingerprint 0x${BigInt.asUintN(64, exports.fp()).toString(16)}`);
for (let k = 0; k < 3; k++) console.log(`mix (cache on) alone: ${exports.mix_only(3000).toFixed(1)} M instr/s`);
const names = ['mix cache on', 'tight loop cache on', 'mix cache off', 'tight loop cache off'];
names.forEach((n, k) => console.log(`run_bench(${scale}) ${n}: ${exports.bench_figure(scale, k).toFixed(1)} M instr/s`));
