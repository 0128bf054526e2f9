// A message's text as DOM nodes: http(s) links and a small markdown (**bold**,
// *italic* or _italic_, `code`, ``` code blocks ```). Everything is built with
// createElement and text nodes: the user's text never reaches innerHTML, so a
// `<img onerror>` or a `javascript:` URL stays text.

const FENCE = /```(?:[^\n`]*\n)?([\s\S]*?)```/g;
// One pass over inline spans; the first alternative that matches at a place wins.
const INLINE =
  /(`[^`\n]+`)|(\*\*(?=\S)[\s\S]+?\*\*)|(\*(?=\S)[^*\n]+?\*)|((?<![\w])_(?=\S)[^_\n]+?_(?![\w]))|(https?:\/\/[^\s<>"']+)/g;
const LINK_PROTOCOLS = new Set(['http:', 'https:']);
// A sentence's own punctuation after a URL is not part of it.
const TRAILING = /[.,;:!?'")\]]+$/;

function textNode(text) {
  return document.createTextNode(text);
}

function element(tag, className, children) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  n.append(...children);
  return n;
}

/** A link if `raw` is an http(s) URL, else null. */
function linkNode(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!LINK_PROTOCOLS.has(url.protocol)) return null;
  const a = document.createElement('a');
  a.href = url.href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.className = 'msg__link';
  a.textContent = raw;
  return a;
}

function inline(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push(textNode(text.slice(at, m.index)));
    const [whole, code, bold, star, under, url] = m;
    if (code) out.push(element('code', 'md-code', [textNode(code.slice(1, -1))]));
    else if (bold) out.push(element('strong', null, inline(bold.slice(2, -2))));
    else if (star || under) out.push(element('em', null, inline(whole.slice(1, -1))));
    else if (url) {
      const trail = url.match(TRAILING)?.[0] ?? '';
      const link = linkNode(url.slice(0, url.length - trail.length));
      out.push(link ?? textNode(url.slice(0, url.length - trail.length)));
      if (trail) out.push(textNode(trail));
    }
    at = m.index + whole.length;
  }
  if (at < text.length) out.push(textNode(text.slice(at)));
  return out;
}

/** The nodes that show `text`; newlines stay (the container is pre-wrap). */
export function richText(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(FENCE)) {
    if (m.index > at) out.push(...inline(text.slice(at, m.index)));
    const code = m[1].replace(/\n$/, '');
    out.push(element('pre', 'md-block', [element('code', null, [textNode(code)])]));
    at = m.index + m[0].length;
    // The line break after a block is the block's own edge.
    if (text[at] === '\n') at += 1;
  }
  if (at < text.length) out.push(...inline(text.slice(at)));
  return out;
}
