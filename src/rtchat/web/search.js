// Message search: the box in the sidebar asks the server (`search`, in every room the
// account is a member of), and a panel over the timeline lists the results, newest
// first, a page at a time, with the words found marked. A result opens its room. The
// user's text only ever becomes text nodes and <mark> elements built here.

import { formatTime, isoOrNow } from './time.js';
import { el, errorText, node, setSidebarOpen } from './ui.js';

const SEARCH_PAGE = 20; // the server's page (service.limits)
// Letters and digits make words; anything else separates them, as on the server.
const WORD = /[\p{L}\p{N}]+/gu;

/** The query's words, for marking them in the results. */
function wordsOf(query) {
  return [...new Set(String(query).toLowerCase().match(WORD) ?? [])];
}

/** `text` as nodes, each whole-word match of `words` in a <mark>. */
function marked(text, words) {
  const out = [];
  let at = 0;
  for (const found of text.matchAll(WORD)) {
    if (!words.includes(found[0].toLowerCase())) continue;
    if (found.index > at) out.push(document.createTextNode(text.slice(at, found.index)));
    out.push(node('mark', 'search-hit', found[0]));
    at = found.index + found[0].length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/**
 * deps: {request, rooms, openRoom(name), afterOpen(name, id)}. Returns {close(), reset()}:
 * close the panel (Escape); forget the results (another account signed in).
 */
export function wireSearch(deps) {
  let query = '';
  let next = null;
  let asked = 0; // answers to older searches than the newest are dropped

  function roomTitle(name) {
    const room = deps.rooms.get(name);
    if (room?.isDm) return `@${room.title}`;
    return `#${room?.title ?? name}`;
  }

  function resultNode(m, words) {
    const li = node('li');
    const btn = node('button', 'search-result');
    btn.type = 'button';
    btn.dataset.room = String(m.room);
    btn.dataset.id = String(m.id);
    const meta = node('span', 'search-result__meta');
    const time = node('time', null, formatTime(m.timestamp));
    time.dateTime = isoOrNow(m.timestamp);
    meta.append(
      node('span', 'search-result__room', roomTitle(m.room)),
      node('span', 'search-result__author', String(m.username ?? '')),
      time,
    );
    const text = node('span', 'search-result__text');
    text.append(...marked(String(m.message ?? ''), words));
    btn.append(meta, text);
    li.append(btn);
    return li;
  }

  function setStatus(text) {
    el.searchStatus.textContent = text;
    el.searchStatus.hidden = !text;
  }

  async function ask(before) {
    const mine = ++asked;
    const payload = { query, limit: SEARCH_PAGE };
    if (before != null) payload.before = before;
    el.searchMore.hidden = true;
    if (before == null) setStatus('Searching…');
    const res = await deps.request('search', payload);
    if (mine !== asked || el.searchPanel.hidden) return;
    if (!res.ok) {
      setStatus(res.timeout ? 'No answer from the server. Try again.' : errorText(res.error, 'Search failed.'));
      return;
    }
    const messages = Array.isArray(res.data?.messages) ? res.data.messages : [];
    next = res.data?.next ?? null;
    const words = wordsOf(query);
    el.searchResults.append(...messages.map((m) => resultNode(m, words)));
    const shown = el.searchResults.childElementCount;
    setStatus(shown === 0 ? `Nothing found for “${query}”.` : '');
    el.searchMore.hidden = next == null;
  }

  function open(text) {
    query = text;
    next = null;
    el.searchResults.replaceChildren();
    el.searchHeading.textContent = `Results for “${text}”`;
    el.searchPanel.hidden = false;
    setSidebarOpen(false); // on a phone the results are behind the drawer
    el.searchHeading.focus();
    ask(null);
  }

  function close() {
    if (el.searchPanel.hidden) return false;
    asked += 1;
    el.searchPanel.hidden = true;
    return true;
  }

  el.searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = el.searchInput.value.trim();
    if (wordsOf(text).length === 0) {
      el.searchInput.focus();
      return;
    }
    open(text);
  });

  el.searchMore.addEventListener('click', () => {
    if (next != null) ask(next);
  });

  el.searchClose.addEventListener('click', () => {
    close();
    el.searchInput.focus();
  });

  el.searchResults.addEventListener('click', async (event) => {
    const btn = event.target.closest('button.search-result');
    if (!btn) return;
    close();
    await deps.openRoom(btn.dataset.room);
    deps.afterOpen(btn.dataset.room, btn.dataset.id);
  });

  return {
    close,
    reset() {
      close();
      el.searchInput.value = '';
      el.searchResults.replaceChildren();
    },
  };
}
