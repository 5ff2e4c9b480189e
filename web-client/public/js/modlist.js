// The console's contributions list as data: which items a moderator's filters keep, in which order,
// and which page of them is shown. No DOM here; one pass over the items per render, so that 10,000
// items filter and sort in a few milliseconds (the figure is printed by tests/console.test.mjs).

export const PAGE_SIZE = 100; // rows in the DOM at once: a screenful or two at 1920×1080, cheap to rebuild

export const SORTS = ['newest', 'votes', 'oldest'];
export const STATES = ['', 'visible', 'hidden', 'new'];

const fold = (s) => String(s || '').toLowerCase();

// Items of `items` (an iterable of protocol items) that pass `f` = {q, kind, state, author, seen}:
// `q` a substring of the text or the author, `author` a substring of the author, `state` one of
// STATES ('new': posted after the id `seen`), all case-insensitive; empty fields keep everything.
// Items without a kind (vote totals of items never seen in full) are never listed.
export function filterItems(items, f) {
  const q = fold(f.q).trim();
  const author = fold(f.author).trim();
  const out = [];
  for (const it of items) {
    if (!it.kind) continue;
    if (f.kind && it.kind !== f.kind) continue;
    if (f.state === 'visible' && it.hidden) continue;
    if (f.state === 'hidden' && !it.hidden) continue;
    if (f.state === 'new' && !(it.id > (f.seen || 0))) continue;
    if (author && !fold(it.author).includes(author)) continue;
    if (q && !fold(it.text).includes(q) && !fold(it.author).includes(q)) continue;
    out.push(it);
  }
  return out;
}

// Sorts in place: 'newest' (id descending), 'oldest', 'votes' (the ranking rule: votes descending,
// then id ascending).
export function sortItems(list, sort) {
  if (sort === 'votes') list.sort((a, b) => (b.votes || 0) - (a.votes || 0) || a.id - b.id);
  else if (sort === 'oldest') list.sort((a, b) => a.id - b.id);
  else list.sort((a, b) => b.id - a.id);
  return list;
}

// The page holding index `i` of a list of `n` (0-based), and that page's bounds.
export function pageOf(i, n, size = PAGE_SIZE) {
  const pages = Math.max(1, Math.ceil(n / size));
  const page = Math.min(Math.max(0, Math.floor(i / size)), pages - 1);
  return { page, pages, from: page * size, to: Math.min(n, (page + 1) * size) };
}

// Number of items posted after `seen` (the "new since you looked" count).
export function countNew(items, seen) {
  let n = 0;
  for (const it of items) if (it.kind && it.id > (seen || 0)) n++;
  return n;
}
