// The pictures: a `Figure` from Rust (crate/ui/diagram.rs: boxes, arrows and labels already placed, and the
// same in words) painted as SVG, with its text equivalent beside it. Nothing is laid out or decided here.
// Colours come from walk.css classes; the path's arrows draw themselves in order unless the reader asks
// for reduced motion.

import { builder, uid } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

/** An SVG element in `doc` with attributes and children. */
function s(doc, tag, attrs = {}, ...kids) {
  const el = doc.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const k of kids.flat()) if (k !== null && k !== undefined) el.append(k);
  return el;
}

/**
 * Figure `f` as a `<figure>`: its title, the picture (scrolling sideways when narrower than it is drawn) and
 * its text equivalent (open when short). `plain`: without the step's path (a question is being asked);
 * `title`: a caption of its own (a lesson's words for the picture it draws in its prose).
 */
export function figure(doc, f, { plain = false, title = f.title } = {}) {
  const H = builder(doc);
  const n = uid();
  const mark = `lgs-arrow-${n}`;
  const svg = s(doc, 'svg', { viewBox: `0 0 ${f.width} ${f.height}`, width: f.width, height: f.height, role: 'img', 'aria-labelledby': `lgs-fc-${n}`, 'aria-describedby': `lgs-ft-${n}`, class: 'lgs-svg' },
    s(doc, 'defs', {}, s(doc, 'marker', { id: mark, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: 'lgs-mark-head' },
      s(doc, 'path', { d: 'M0,0 L10,5 L0,10 z' }))));
  for (const b of f.boxes) {
    const cls = plain ? b.cls.replace(/\b(on|changed)\b/g, '') : b.cls;
    const g = s(doc, 'g', { class: `box ${cls}`, 'data-id': b.id });
    g.append(s(doc, 'rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 4 }));
    const center = /\bbit\b/.test(b.cls);
    if (b.title) g.append(s(doc, 'text', { x: center ? b.x + b.w / 2 : b.x + 6, y: b.y + (center ? b.h / 2 + 4 : 15), class: center ? 'mid title' : 'title' }, b.title));
    b.lines.forEach((l, i) => g.append(s(doc, 'text', { x: b.x + 6, y: b.y + 31 + i * 14 }, l)));
    svg.append(g);
  }
  const hops = f.arrows.filter((a) => a.n.length);
  for (const a of f.arrows) {
    if (plain && a.n.length) continue;
    const first = a.n[0];
    const g = s(doc, 'g', { class: `arrow ${a.cls}${first ? ` d${Math.min(first, 9)}` : ''}`, 'data-n': a.n.join(',') || null });
    g.append(s(doc, 'polyline', { points: a.points.map((p) => p.join(',')).join(' '), 'marker-end': `url(#${mark})` }));
    if (a.n.length || a.label) {
      const [[x1, y1], [x2, y2]] = [a.points[0], a.points.at(-1)];
      // A way back (a return, a wake) carries its number further along and its label on the other side, so
      // a call and its return drawn side by side keep theirs apart.
      const back = /\b(return|wake)\b/.test(a.cls);
      const t = back ? 0.62 : 0.38;
      const [x, y] = [x1 + (x2 - x1) * t, y1 + (y2 - y1) * t];
      // The hop's number on a pill as wide as it (an arrow taken more than four times shows its first, and …).
      const label = a.n.length > 4 ? `${a.n[0]}…` : a.n.join(',');
      const w = 10 + 6 * label.length;
      if (a.n.length) g.append(s(doc, 'rect', { x: x - w / 2, y: y - 8, width: w, height: 16, rx: 8, class: 'badge' }), s(doc, 'text', { x, y: y + 4, class: 'mid badge-n' }, label));
      // Labels only where they fit: a few arrows, each named.
      // (about 6.5 units a character: a label that would leave the picture on the left goes on the right)
      const left = back && x - w / 2 - 3 - 6.5 * a.label.length > 0;
      // and on an arrow long enough to stand beside
      if (a.label && hops.length <= 6 && Math.hypot(x2 - x1, y2 - y1) >= 40) g.append(s(doc, 'text', { x: left ? x - w / 2 - 3 : x + w / 2 + 3, y: y + 4, class: left ? 'arrow-label end' : 'arrow-label' }, a.label));
    }
    svg.append(g);
  }
  for (const l of f.labels) svg.append(s(doc, 'text', { x: l.x, y: l.y, class: `label ${l.cls}` }, l.text));
  const text = plain ? ['The step has not run yet: its path is drawn once you have answered or stepped.'] : f.text;
  const list = H('ul', { class: 'lgs-fig-text', id: `lgs-ft-${n}` }, text.map((t) => H('li', {}, t)));
  return H('figure', { class: `lgs-fig lgs-fig-${f.kind}`, 'data-kind': f.kind },
    H('figcaption', {}, H('span', { id: `lgs-fc-${n}` }, title), f.legend ? H('span', { class: 'lgs-legend' }, f.legend) : ''),
    H('div', { class: 'lgs-fig-scroll', tabindex: 0, role: 'group', 'aria-label': `${title} (picture; the same in words follows)` }, svg),
    H('details', { class: 'lgs-fig-words', open: text.length <= 8 }, H('summary', {}, `In words (${text.length} ${text.length === 1 ? 'line' : 'lines'})`), list));
}
