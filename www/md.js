// A tiny Markdown renderer for lesson prose, building DOM nodes (never innerHTML), so nothing in a lesson can
// become markup or script. It knows what lessons use: headings, paragraphs, fenced code, lists, tables
// (which scroll sideways when wide), images on a line of their own (`![what it shows](images/x.png)`, the
// path relative to the lesson; `![...](diagram:map)` draws one of the step's pictures there), and inline
// `code`, **strong**, *emphasis* and [links](https://...) (http, https and relative links only).

/** A figure line: `![alt](src)` alone on its line. */
const IMAGE = /^!\[([^\]]*)\]\(([^)\s]+)\)\s*$/;

/**
 * Render `text` into a DocumentFragment. `doc` is the document to create nodes in; `base`: the URL an
 * image's relative path is resolved against (the lesson's folder); `diagram(name, caption)`: the element of
 * the step's picture `name` (`system`, `map`, `memory`, `ptes`) under the lesson's caption, or null.
 */
export function renderMarkdown(text, doc = document, { base = 'lessons/', diagram = () => null } = {}) {
  const frag = doc.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  const el = (tag, ...kids) => {
    const e = doc.createElement(tag);
    for (const k of kids) e.append(k);
    return e;
  };
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    const fence = line.match(/^```\s*([\w-]*)/);
    if (fence) {
      const code = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) code.push(lines[i++]);
      i++;
      const c = el('code', code.join('\n'));
      if (fence[1]) c.className = `lang-${fence[1]}`;
      frag.append(el('pre', c));
      continue;
    }
    const head = line.match(/^(#{1,6})\s+(.*)$/);
    if (head) {
      // Lesson headings inside a step are ### and deeper; shift so they sit under the step's own heading.
      const level = Math.min(6, head[1].length + 1);
      frag.append(el(`h${level}`, inline(head[2], doc)));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = doc.createElement(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        let item = lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, '');
        i++;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) item += ' ' + lines[i++].trim();
        list.append(el('li', inline(item, doc)));
      }
      frag.append(list);
      continue;
    }
    const img = line.match(IMAGE);
    if (img) {
      i++;
      const [, alt, src] = img;
      if (src.startsWith('diagram:')) {
        const d = diagram(src.slice(8), alt);
        frag.append(d ?? el('p', `(${alt}: not drawn at this step)`));
        continue;
      }
      // Relative paths only, resolved against the lesson's folder: no scheme, so nothing off the site.
      if (/^[\w./-]+$/.test(src) && !src.includes('..')) {
        const im = doc.createElement('img');
        im.src = new URL(src, new URL(base, doc.baseURI)).href;
        im.alt = alt;
        const cap = el('figcaption', inline(alt, doc));
        frag.append(wide(doc, el('figure', im, cap), alt));
      }
      continue;
    }
    if (line.startsWith('|')) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith('|')) rows.push(lines[i++]);
      frag.append(table(doc, rows, inline));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|\s*([-*+]|\d+[.)])\s+|\|)/.test(lines[i]) && !IMAGE.test(lines[i])) para.push(lines[i++].trim());
    frag.append(el('p', inline(para.join(' '), doc)));
  }
  return frag;
}

/** A box that scrolls sideways when `child` is wider than the column (and the keyboard can scroll it). */
function wide(doc, child, label) {
  const d = doc.createElement('div');
  d.className = 'lgs-wide';
  d.tabIndex = 0;
  d.setAttribute('role', 'region');
  d.setAttribute('aria-label', label);
  d.append(child);
  return d;
}

/** A Markdown table (`| a | b |`, then `|---|:--:|`, then rows) as a `<table>`, in a box that scrolls. */
function table(doc, rows, inl) {
  const cells = (r) => r.replace(/^\|/, '').replace(/\|\s*$/, '').split('|').map((c) => c.trim());
  const t = doc.createElement('table');
  t.className = 'lgs-md-table';
  const sep = rows.length > 1 && /^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/.test(rows[1]);
  const align = sep ? cells(rows[1]).map((c) => (/^:-+:$/.test(c) ? 'mid' : /-+:$/.test(c) ? 'end' : '')) : [];
  const add = (parent, tag, r) => {
    const tr = doc.createElement('tr');
    cells(r).forEach((c, k) => {
      const td = doc.createElement(tag);
      if (tag === 'th') td.scope = 'col';
      if (align[k]) td.className = align[k];
      td.append(inl(c, doc));
      tr.append(td);
    });
    parent.append(tr);
  };
  if (sep) {
    const head = doc.createElement('thead');
    add(head, 'th', rows[0]);
    t.append(head);
  }
  const body = doc.createElement('tbody');
  for (const r of rows.slice(sep ? 2 : 0)) add(body, 'td', r);
  t.append(body);
  return wide(doc, t, 'Table');
}

/** Inline Markdown: `code`, **strong**, *em* / _em_, [text](url). */
export function inline(text, doc = document) {
  const frag = doc.createDocumentFragment();
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\b_([^_]+)_\b|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    if (m[1] !== undefined) {
      const c = doc.createElement('code');
      c.textContent = m[1];
      frag.append(c);
    } else if (m[2] !== undefined) {
      const s = doc.createElement('strong');
      s.append(inline(m[2], doc));
      frag.append(s);
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const e = doc.createElement('em');
      e.append(inline(m[3] ?? m[4], doc));
      frag.append(e);
    } else {
      const url = m[6];
      if (/^(https?:\/\/|\.{0,2}\/|#)/.test(url) || /^[\w./-]+$/.test(url)) {
        const a = doc.createElement('a');
        a.href = url;
        if (/^https?:/.test(url)) { a.target = '_blank'; a.rel = 'noopener'; }
        a.append(inline(m[5], doc));
        frag.append(a);
      } else {
        frag.append(m[5]);
      }
    }
    last = re.lastIndex;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}
