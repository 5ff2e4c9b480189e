// What screen.test.mjs and a11y.test.mjs share: the jams they show (a question of the longest length,
// a busy jam) and the projector screen's layout guarantees, run in the page
// (page.evaluate(measure)), which return what is wrong ('bad') and what was measured.

import { ADMIN, client } from './servers.mjs';
import { assert } from './tap.mjs';

// 500 code points: the longest question a jam may have (proto/messages.md).
export const LONG_Q = ('How could our city keep its streets, squares, bus stops and school yards cool during ever longer '
  + 'summer heat waves, ').repeat(5).slice(0, 499) + '?';
export const LONG_ITEM = 'Plant large shade trees along every bus line and give each stop a green roof, a drinking fountain '
  + 'and benches that stay cool, paid for by the transport budget and cared for by the neighbours themselves';

export async function createJam(base, question, agenda, settings = undefined) {
  const r = await fetch(base + '/api/jams', {
    method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Cooler streets for everybody in the city', question, agenda, settings }),
  });
  assert(r.status === 201, 'create jam: ' + r.status);
  return r.json();
}

// A running jam with a moderator, three citizens and twelve problems with votes: more rows than fit.
export async function busyJam(base, question) {
  const jam = await createJam(base, question, [{ phase: 'explore', duration_s: 600 }, { phase: 'ideate', duration_s: 600 }]);
  const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
  const cits = [];
  for (const nick of ['Ana', 'Ben', 'Chloé']) cits.push(await client(base, { code: jam.code, as: 'citizen', nickname: nick }));
  await mod.write({ type: 'start' });
  const ids = [];
  for (let i = 0; i < 12; i++) {
    const text = i % 3 === 0 ? LONG_ITEM : `Problem number ${i + 1}: too little shade on the way to school`;
    ids.push((await cits[i % 3].write({ type: 'post', kind: 'problem', text })).item);
  }
  for (const [k, c] of cits.entries()) for (const id of ids.slice(k, k + 4)) await c.write({ type: 'vote', item: id });
  return { jam, mod, cits, ids };
}


// Everything the screen shows must lie inside the viewport and show its content whole.
export function measure() {
  const W = innerWidth, H = innerHeight;
  const bad = [];
  const visible = (el) => el && !el.hidden && el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden';
  const inside = (el, name) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) bad.push(`${name} has no size`);
    if (r.left < -0.5 || r.top < -0.5 || r.right > W + 0.5 || r.bottom > H + 0.5) {
      bad.push(`${name} [${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.right)},${Math.round(r.bottom)}] leaves the ${W}x${H} viewport`);
    }
    return r;
  };
  const whole = (el, name) => { // a box that clips (overflow not visible) shows its text whole
    const cs = getComputedStyle(el);
    if (cs.overflowX === 'visible' && cs.overflowY === 'visible') return;
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
      bad.push(`${name} is cut: content ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
    }
  };
  const over = document.body.dataset.over === 'true'; // the results: no clock
  const must = ['#s-title', '#s-question', '#s-phase', ...(over ? [] : ['#s-clock']), '#s-join-at', '#s-code', '#s-qr', '#s-rank-title', '#s-chain'];
  for (const k of ['participants', 'online', 'items', 'votes']) must.push('#s-' + k, `#s-${k} + dt`);
  if (document.body.dataset.clock === 'paused') must.push('#s-paused');
  const rects = {};
  for (const sel of must) {
    const el = document.querySelector(sel);
    if (!visible(el)) { bad.push(`${sel} is not shown`); continue; }
    rects[sel] = inside(el, sel);
    if (sel !== '#s-qr' && sel !== '#s-title') whole(el, sel);
  }
  const overlap = (a, b) => a && b && a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const pairs = [['#s-qr', '#s-code'], ['#s-qr', '#s-participants'], ['#s-qr', '#s-votes + dt'], ['#s-qr', '#s-join-at'],
    ['#s-question', '#s-clock'], ['#s-question', '#s-code'], ['#s-qr', '#s-rank-title'], ['#s-code', '#s-rank-title'], ['#s-rank-title', '#s-chain']];
  for (const [a, b] of pairs) if (overlap(rects[a], rects[b])) bad.push(`${a} overlaps ${b}`);
  const qr = document.querySelector('#s-qr');
  if (rects['#s-qr'] && rects['#s-qr'].width < 120) bad.push(`the QR code is only ${Math.round(rects['#s-qr'].width)} px wide`);
  // The ranking: the rows shown are a prefix of the list and lie whole inside it and the viewport.
  const list = document.querySelector('#s-list').getBoundingClientRect();
  const rows = Array.from(document.querySelectorAll('#s-list > li'));
  const shown = rows.filter(visible);
  shown.forEach((li, i) => {
    if (li !== rows[i]) bad.push(`row ${i + 1} is shown after a hidden one`);
    const r = inside(li, `row ${i + 1}`);
    if (r.bottom > list.bottom + 0.5) bad.push(`row ${i + 1} is cut by the list's bottom (${Math.round(r.bottom)} > ${Math.round(list.bottom)})`);
  });
  const doc = document.documentElement;
  if (doc.scrollWidth > W || doc.scrollHeight > H) bad.push(`the page scrolls: ${doc.scrollWidth}x${doc.scrollHeight}`);
  return { bad, rows: rows.length, shown: shown.length, qr: rects['#s-qr'] ? Math.round(rects['#s-qr'].width) : 0,
    host: document.querySelector('#s-host').textContent, qrText: qr.dataset.qrText,
    paused: visible(document.querySelector('#s-paused')) ? document.querySelector('#s-paused').textContent : null,
    participants: document.querySelector('#s-participants').textContent, online: document.querySelector('#s-online').textContent };
}
