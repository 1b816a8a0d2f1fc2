// The browser half of suite.mjs: the same measurements as its Node half (measure.mjs, v86.mjs), on files the
// suite serves: /pkg-z and /pkg-o3 (our builds), /v86 (v86's build folder), /bios.bin and /kernels.
import { measureElf } from './measure.mjs';
import { runV86 } from './v86.mjs';

const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());

async function loadOurs(dir) {
  const lib = await import(`${dir}/lguest_sim.js`);
  await lib.default({ module_or_path: `${dir}/lguest_sim_bg.wasm` });
  return lib;
}

/** Run `plan` ([{ kernel, engine }]) in order; engines: ours-z, ours-o3, v86-jit, v86-nojit. */
window.runPlan = async (plan) => {
  const libs = { 'ours-z': await loadOurs('/pkg-z'), 'ours-o3': await loadOurs('/pkg-o3') };
  const { V86 } = await import('/v86/libv86.mjs');
  const bios = (await bytes('/bios.bin')).buffer;
  const v86wasm = await WebAssembly.compile(await bytes('/v86/v86.wasm'));
  const wasmFn = (env) => WebAssembly.instantiate(v86wasm, env).then((instance) => instance.exports);
  const out = [];
  for (const step of plan) {
    if (step.engine.startsWith('ours')) {
      const elf = await bytes(`/kernels/${step.kernel}-guest.elf`);
      const r = measureElf(libs[step.engine], elf, 32);
      out.push({ ...step, output: r.stdout, instructions: r.instructions, seconds: r.seconds });
    } else {
      const kernel = (await bytes(`/kernels/${step.kernel}-multiboot.elf`)).buffer;
      const r = await runV86(V86, { wasmFn, bios: bios.slice(0), kernel, jit: step.engine === 'v86-jit' });
      out.push({ ...step, output: r.output, instructions: r.instructions, seconds: r.seconds });
    }
    document.getElementById('log').textContent += `${step.kernel} ${step.engine} ${out.at(-1).seconds.toFixed(3)} s\n`;
  }
  return out;
};
window.benchReady = true;
