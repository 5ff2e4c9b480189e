// The projector screen's layout guarantees, shared by screen.test.mjs and a11y.test.mjs: run in the
// page (page.evaluate(measure)); returns what is wrong ('bad') and what was measured.

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
