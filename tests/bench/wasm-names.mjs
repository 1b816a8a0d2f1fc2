// Reading a wasm module: its sections and, where a name section survives (a build with strip = false), the
// size of every function's body by name. What twiggy's `top` shows, in a few lines with no install.

const leb = (b, p) => { let v = 0, s = 0, x; do { x = b[p++]; v += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80); return [v, p]; };

/** { sections: [{ id, name, size }], functions: [{ index, name, size }] } (functions sized by body). */
export function inspect(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const sections = [], bodies = [], names = new Map();
  let imported = 0;
  let p = 8;
  while (p < b.length) {
    const id = b[p++];
    let size; [size, p] = leb(b, p);
    const start = p, end = p + size;
    let name = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'][id] ?? `#${id}`;
    if (id === 0) {
      let n; [n, p] = leb(b, p);
      name = new TextDecoder().decode(b.subarray(p, p + n));
      p += n;
      if (name === 'name') {
        while (p < end) {
          const sub = b[p++]; let len; [len, p] = leb(b, p); const subEnd = p + len;
          if (sub === 1) {
            let count; [count, p] = leb(b, p);
            for (let k = 0; k < count; k++) { let idx, l; [idx, p] = leb(b, p); [l, p] = leb(b, p); names.set(idx, new TextDecoder().decode(b.subarray(p, p + l))); p += l; }
          }
          p = subEnd;
        }
      }
    } else if (id === 2) {
      let count; [count, p] = leb(b, p);
      for (let k = 0; k < count; k++) {
        let l; [l, p] = leb(b, p); p += l; [l, p] = leb(b, p); p += l;
        const kind = b[p++];
        if (kind === 0) { imported++; [, p] = leb(b, p); } else if (kind === 1) { p += 1; const f = b[p++]; [, p] = leb(b, p); if (f & 1) [, p] = leb(b, p); }
        else if (kind === 2) { const f = b[p++]; [, p] = leb(b, p); if (f & 1) [, p] = leb(b, p); } else if (kind === 3) { p += 2; }
      }
    } else if (id === 10) {
      let count; [count, p] = leb(b, p);
      for (let k = 0; k < count; k++) { let l; [l, p] = leb(b, p); bodies.push(l); p += l; }
    }
    sections.push({ id, name, size });
    p = end;
  }
  const functions = bodies.map((size, k) => ({ index: imported + k, name: names.get(imported + k) ?? `func[${imported + k}]`, size }));
  return { sections, functions, named: names.size > 0 };
}
