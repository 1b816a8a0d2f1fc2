// A tiny Markdown renderer for lesson prose, building DOM nodes (never innerHTML), so nothing in a lesson can
// become markup or script. It knows what lessons use: headings, paragraphs, fenced code, lists, and inline
// `code`, **strong**, *emphasis* and [links](https://...) (http, https and relative links only).

/** Render `text` into a DocumentFragment. `doc` is the document to create nodes in. */
export function renderMarkdown(text, doc = document) {
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
    if (line.startsWith('|')) {
      // A table: kept as preformatted text (lessons rarely use them; this keeps them readable).
      const rows = [];
      while (i < lines.length && lines[i].startsWith('|')) rows.push(lines[i++]);
      frag.append(el('pre', el('code', rows.join('\n'))));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|\s*([-*+]|\d+[.)])\s+|\|)/.test(lines[i])) para.push(lines[i++].trim());
    frag.append(el('p', inline(para.join(' '), doc)));
  }
  return frag;
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
