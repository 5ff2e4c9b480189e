// Tiny DOM helpers. Text is only ever inserted as text nodes (never innerHTML).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function $(sel, root = document) { return root.querySelector(sel); }
export function $$(sel, root = document) { return Array.from(root.querySelectorAll(sel)); }

export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

export function show(el, yes) { if (el) el.hidden = !yes; }

// Replace the children of `parent` by `nodes`, reusing nothing (simple lists only).
export function replaceChildren(parent, nodes) {
  clear(parent);
  append(parent, nodes);
}

// Fill every element with data-t="key" with its string (static labels in the HTML pages).
export function applyStrings(t, root = document) {
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-placeholder]')) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of root.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
  for (const el of root.querySelectorAll('[data-t-title]')) el.title = t(el.dataset.tTitle);
}

// Batches renders to one per animation frame.
export function frameScheduler(fn) {
  let queued = false;
  return function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}

// Keyed list rendering: reuses one element per key, updates it, and moves only the elements that are
// out of place (so focus and animations survive re-renders). `create(item)` returns a new element,
// `update(el, item, index)` refreshes it. Returns the map key -> element of the rendered list.
export function renderKeyed(container, items, keyOf, create, update) {
  const old = container._keyed || new Map();
  const next = new Map();
  items.forEach((item, i) => {
    const k = keyOf(item);
    let el = old.get(k);
    if (!el) { el = create(item); el.dataset.key = String(k); }
    update(el, item, i);
    next.set(k, el);
  });
  for (const [k, el] of old) if (!next.has(k) && el.parentNode === container) container.removeChild(el);
  let i = 0;
  for (const el of next.values()) {
    const at = container.children[i];
    if (at !== el) container.insertBefore(el, at || null);
    i++;
  }
  container._keyed = next;
  return next;
}

// Re-renders `list` with `render()` and lets the children that moved glide from where they were
// seen to their new place (FLIP: First, Last, Invert, Play, with CSS transforms; none when the user
// asks for reduced motion). Returns the children that are new.
export function flipList(list, render, ms) {
  const first = new Map();
  for (const el of list.children) first.set(el, el.getBoundingClientRect().top);
  render();
  const added = [];
  const moved = [];
  const still = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  for (const el of list.children) {
    el.style.transition = 'none';
    el.style.transform = '';
  }
  for (const el of list.children) {
    if (!first.has(el)) { added.push(el); continue; }
    const dy = first.get(el) - el.getBoundingClientRect().top;
    if (!still && Math.abs(dy) > 0.5) {
      el.style.transform = `translateY(${dy}px)`;
      moved.push(el);
    }
  }
  if (moved.length) {
    requestAnimationFrame(() => {
      for (const el of moved) {
        el.style.transition = `transform ${ms}ms cubic-bezier(.2,.8,.2,1)`;
        el.style.transform = '';
      }
    });
  }
  return added;
}

// Fetches 'url' with 'headers' and saves the reply as the file 'name' (a blob URL on a transient
// link: the request carries its credentials in a header, never in the URL). Throws an Error whose
// message is the server's error code, or the HTTP status when the body has none.
export async function downloadFrom(url, name, headers = {}) {
  const r = await fetch(url, { headers, cache: 'no-store' });
  if (!r.ok) {
    const body = await r.json().catch(() => null);
    throw new Error((body && body.error && body.error.code) || String(r.status));
  }
  const href = URL.createObjectURL(await r.blob());
  const a = h('a', { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}
