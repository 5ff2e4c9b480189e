// Projector screen: read-only. Join code + QR, phase and countdown, live counters and the animated top
// of the ranking. Renders at most once per animation frame from the coalesced server updates; items
// that overtake each other glide to their new place (FLIP with CSS transforms). It fills any
// projector shape (16:9, 16:10, 4:3, portrait): the question, the code and the QR code are sized to the
// room they have, and the ranking shows only the rows that fit whole. A high-contrast and an
// extra-large mode (keys c and x, or ?contrast=high&size=xl) serve a washed-out projector and the
// back rows; a polite live region tells a screen reader of a new leader and of phase changes.

import { t, errorText, votesText, plural, applyLanguage } from './strings.js';
import { h, $, setText, applyStrings, frameScheduler, renderKeyed, flipList, show } from './dom.js';
import { Connection } from './conn.js';
import { JamState } from './jamstate.js';
import { ticker } from './countdown.js';
import { drawQR } from './qr.js';
import { phaseTitle, phaseOf, clockText, authorText, parentLine, mergeLine, bindConnBanner, isOver, lineageByParent } from './ui.js';

applyStrings(t);
applyLanguage();
const params = new URLSearchParams(location.search);
document.body.dataset.contrast = params.get('contrast') === 'high' ? 'high' : 'normal';
document.body.dataset.size = params.get('size') === 'xl' ? 'xl' : 'normal';
// Rows rendered at most; fewer are shown when fewer fit whole (a tall portrait screen fits ten).
const TOP_N = 10;
// Refinements or pledges shown under each idea in design and diffuse.
const KIDS_N = 2;
const WORDS_N = 30; // words in the cloud (the server sends up to 40)
const THEMES_N = 6;
const MOVE_MS = 650;
// The question gets at most this share of the screen's height before its font shrinks (down to
// QUESTION_MIN_VMIN): 500 characters, the longest question, fit in it at 1024x768.
const QUESTION_MAX_SHARE = 0.24;
const QUESTION_MIN_VMIN = 2.2;
const QUESTION_MAX_VMIN = 4.6;
// The extra-large mode lets the question grow by the same factor as the ranking's text in
// css/screen.css (3.1 to 4.2 vmin); it still shrinks to its share of the height.
const QUESTION_MAX_VMIN_XL = 6.2;

const m = /^#(\d[\d\s-]*)$/.exec(decodeURIComponent(location.hash || ''));
if (!m) {
  setText($('#fatal'), t('screen_bad_link'));
  show($('#fatal'), true);
  show($('#stage'), false);
  throw new Error('bad screen link');
}
const code = m[1].replace(/[\s-]/g, '');
const state = new JamState();
const conn = new Connection({ join: { code, as: 'screen' }, state });
window.cojam = { conn, state };
bindConnBanner(conn, $('#conn-banner'));
const schedule = frameScheduler(render);
conn.on('change', schedule);
conn.on('joinError', (e) => { setText($('#fatal'), errorText(e.code)); show($('#fatal'), true); });
conn.start();

// Join code, address and QR code (generated here: no network service). The address is the server's
// --public-url (join_url of GET /api/jams/<code>), never the one this screen was opened on: a laptop
// on the hall's network or behind a proxy would otherwise show an address phones cannot reach.
let joinUrl = null;
setText($('#s-code'), code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code);
$('#s-code').setAttribute('aria-label', code);

// "host/path" of the join address, without the scheme and the code.
function shownAddress(url) {
  const u = new URL(url);
  return u.host + u.pathname.replace(/\/$/, '');
}

// Retries every few seconds until the server answers (it says 503 while it recovers).
async function loadJoinUrl() {
  for (let wait = 1000; !joinUrl; wait = Math.min(wait * 2, 15000)) {
    try {
      const r = await fetch(`/api/jams/${encodeURIComponent(code)}`, { headers: { Accept: 'application/json' } });
      if (r.ok) {
        const j = await r.json();
        if (typeof j.join_url === 'string' && j.join_url) { joinUrl = j.join_url; break; }
      }
    } catch { /* offline: try again */ }
    await new Promise((res) => setTimeout(res, wait));
  }
  setText($('#s-host'), shownAddress(joinUrl));
  show($('#s-join-at'), true);
  $('#s-qr').setAttribute('aria-label', joinUrl);
  layout();
}
loadJoinUrl();

// The QR code takes the square its box has left after the texts and counters (the box is a flex
// item; the canvas is positioned inside it, so it never pushes anything off screen).
function sizeQR() {
  if (!joinUrl) return;
  const box = $('#s-qr-box');
  const px = Math.floor(Math.min(box.clientWidth, box.clientHeight));
  const qr = $('#s-qr');
  show(qr, px >= 48); // smaller than that no phone reads it from the hall
  if (px >= 48 && (qr.dataset.px !== String(px) || qr.dataset.qrText !== joinUrl)) {
    drawQR(qr, joinUrl, px);
    qr.dataset.px = String(px);
  }
}

// Largest font size (px, from max down to min in 6 % steps) at which 'fits()' holds.
function fitFont(el, maxPx, minPx, fits) {
  let px = maxPx;
  el.style.fontSize = px + 'px';
  while (px > minPx && !fits()) {
    px = Math.max(minPx, px * 0.94);
    el.style.fontSize = px + 'px';
  }
}

function vmin() { return Math.min(window.innerWidth, window.innerHeight) / 100; }

function fitQuestion() {
  const q = $('#s-question');
  const maxH = window.innerHeight * QUESTION_MAX_SHARE;
  const max = document.body.dataset.size === 'xl' ? QUESTION_MAX_VMIN_XL : QUESTION_MAX_VMIN;
  fitFont(q, max * vmin(), QUESTION_MIN_VMIN * vmin(), () => q.scrollHeight <= maxH);
}

function fitCode() {
  const c = $('#s-code');
  fitFont(c, 10 * vmin(), 3 * vmin(), () => c.scrollWidth <= c.clientWidth);
}

// Rows that do not fit whole are hidden, so that no half row peeks out at the bottom (their layout
// box, offsetTop/offsetHeight, is measured: a running FLIP transform does not count).
function clipRows() {
  const list = $('#s-list');
  const room = list.clientHeight;
  for (const li of list.children) li.classList.toggle('s-cut', li.offsetTop + li.offsetHeight > room + 0.5);
}

function layout() {
  fitQuestion();
  fitCode();
  sizeQR();
  clipRows();
}
window.addEventListener('resize', () => { layout(); schedule(); });
// Whatever changes the room of the QR code or of the list (the clock's first tick, a "Paused" line,
// a question that wraps anew) re-fits them.
new ResizeObserver(sizeQR).observe($('#s-qr-box'));
new ResizeObserver(clipRows).observe($('#s-list'));

// Which kind the screen ranks in each phase.
function screenKind() {
  const p = state.phase;
  const st = state.clockState;
  const hasIdeas = state.countVisible('idea') > 0;
  if (st === 'lobby' || !p) {
    const first = state.jam && state.jam.agenda[0] ? state.jam.agenda[0].phase : 'explore';
    return first === 'explore' ? 'problem' : 'idea';
  }
  if (p === 'explore') return 'problem';
  if (p === 'results' || st === 'ended') return hasIdeas ? 'idea' : 'problem';
  return 'idea';
}

function createItem() {
  return h('li', { class: 's-item' },
    h('div', { class: 's-bar' }),
    h('div', { class: 's-pos' }),
    h('div', { class: 's-body' }, h('div', { class: 's-text', dir: 'auto' }), h('div', { class: 's-sub' }), h('ul', { class: 's-kids' })),
    h('div', { class: 's-votes' }, h('span', { class: 's-vcount' }), h('small', { text: t('screen_votes') })));
}

// The best refinements or pledges of an idea, one line each, under its text.
function updateKids(li, kids) {
  const ul = li.querySelector('.s-kids');
  renderKeyed(ul, kids.slice(0, KIDS_N), (k) => k.id,
    () => h('li', { class: 's-kid' }, h('span', { class: 's-kid-text', dir: 'auto' }), h('span', { class: 's-kid-votes' })),
    (el, k) => {
      setText(el.querySelector('.s-kid-text'), k.text || '');
      setText(el.querySelector('.s-kid-votes'), String(k.votes || 0));
    });
  show(ul, kids.length > 0);
}

function updateItem(li, it, i, maxVotes, kids) {
  setText(li.querySelector('.s-pos'), String(i + 1));
  setText(li.querySelector('.s-text'), it.text || '');
  const pl = parentLine(state, it);
  // Once the jam is over an idea says how many pledges back it (they may not all be listed).
  const pledges = isOver(state) && it.kind === 'idea' ? (kids || []).filter((k) => k.kind === 'pledge').length : 0;
  const pledgeText = pledges ? plural('res_pledges', pledges) : null;
  setText(li.querySelector('.s-sub'), [authorText(it), pl, pledgeText, mergeLine(state, it)].filter(Boolean).join(' · '));
  const withheld = state.countsHidden(it.kind); // reveal control: no count until revealed
  const v = withheld ? '–' : it.votes || 0;
  const vEl = li.querySelector('.s-vcount');
  if (vEl.textContent !== String(v)) {
    if (vEl.textContent !== '') {
      li.classList.remove('bump');
      void li.offsetWidth; // restart the animation
      li.classList.add('bump');
    }
    vEl.textContent = String(v);
  }
  li.querySelector('.s-bar').style.width = maxVotes && !withheld ? `${Math.round((v / maxVotes) * 100)}%` : '0%';
  updateKids(li, kids || []);
}

// Pinned items of this kind first (in pin order), then the ranking.
function listed(kind) {
  const pinned = state.pinned.map((id) => state.items.get(id)).filter((it) => it && it.kind === kind && JamState.listedItem(it));
  const rest = state.rankedItems(kind).filter((it) => !state.pinned.includes(it.id));
  return pinned.concat(rest).slice(0, TOP_N);
}

// The spotlighted item large, with its lineage and live votes; the announcement along the bottom.
function renderStage() {
  const it = state.spotlight ? state.items.get(state.spotlight) : null;
  show($('#s-spot'), !!(it && it.text));
  if (it && it.text) {
    setText($('#s-spot-text'), it.text);
    setText($('#s-spot-sub'), [authorText(it), parentLine(state, it)].filter(Boolean).join(' · '));
    setText($('#s-spot-votes'), String(it.votes || 0));
  }
  renderAnnouncement();
}

function renderAnnouncement() {
  const text = state.announcementText();
  show($('#s-announce'), !!text);
  setText($('#s-announce'), text || '');
}

function renderList(kind) {
  const list = $('#s-list');
  const items = listed(kind);
  const maxVotes = items.reduce((a, it) => Math.max(a, it.votes || 0), 0);
  const kids = kind === 'idea' ? lineageByParent(state) : new Map();
  const added = flipList(list, () => {
    renderKeyed(list, items, (it) => it.id, createItem, (li, it, i) => updateItem(li, it, i, maxVotes, kids.get(it.id)));
    clipRows();
  }, MOVE_MS);
  for (const el of added) {
    el.classList.add('enter');
    el.addEventListener('animationend', () => el.classList.remove('enter'), { once: true });
  }
  show($('#s-empty'), items.length === 0);
  show($('#s-reveal'), state.countsHidden(kind));
}

function render() {
  if (!state.ready) return;
  const jam = state.jam;
  setText($('#s-title'), jam.title);
  if ($('#s-question').textContent !== jam.question) {
    setText($('#s-question'), jam.question);
    layout();
  }
  document.title = `${jam.title} · cojam`;
  setText($('#s-phase'), phaseTitle(state));
  setText($('#s-phase-of'), phaseOf(state));
  document.body.dataset.clock = state.clockState;
  document.body.dataset.over = isOver(state) ? 'true' : 'false';
  show($('#s-paused'), state.clockState === 'paused');
  const s = state.stats || {};
  for (const k of ['participants', 'online', 'items', 'votes']) setText($('#s-' + k), String(s[k] ?? 0));
  // The published head of the event chain (proto/messages.md), small: the first 16 hex digits.
  setText($('#s-chain'), s.chain ? `#${s.events} ${s.chain.slice(0, 16)}` : '');
  $('#s-chain').title = s.chain || '';
  const kind = screenKind();
  setText($('#s-rank-title'), t(isOver(state) ? 'screen_final' : 'screen_top', { kinds: t('kinds_' + kind) }));
  renderList(kind);
  renderView();
  renderStage();
  announce(kind);
  sizeQR(); // the header may have grown (a "Paused" line): the QR code's box with it
}

// The word cloud and the live themes: the server's `words` frame (screens and moderators only, at most
// once a second). Key w switches between them and the ranking; ?view=words opens the screen on them.
let words = null;
let view = params.get('view') === 'words' ? 'words' : 'ranking';
conn.on('words', (msg) => { words = msg; schedule(); });

// Keys: w the word cloud, c high contrast, x extra large. The modes change every size: re-fit.
const TOGGLES = {
  c: ['contrast', 'high'],
  x: ['size', 'xl'],
};
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === 'w') {
    view = view === 'words' ? 'ranking' : 'words';
  } else if (TOGGLES[e.key]) {
    const [name, on] = TOGGLES[e.key];
    const ds = document.body.dataset;
    ds[name] = ds[name] === on ? 'normal' : on;
    layout();
  } else {
    return;
  }
  schedule();
});

// The live region says what changed, not every vote: the phase (or its pause) and the item at the
// top of the ranking. The first render only remembers, so that opening the screen is not announced
// as a change.
let spoken = null;
function announce(kind) {
  const top = state.rankedItems(kind)[0];
  const now = {
    phase: state.clockState === 'paused' ? t('screen_sr_paused', { phase: phaseTitle(state) }) : phaseTitle(state),
    leader: top && (top.votes || 0) > 0 ? top.id : null,
  };
  const said = [];
  if (spoken && now.phase !== spoken.phase) said.push(t('screen_sr_phase', { phase: now.phase }));
  if (spoken && now.leader && now.leader !== spoken.leader) {
    said.push(t('screen_sr_leader', { text: top.text || '', votes: votesText(top.votes || 0) }));
  }
  spoken = now;
  if (said.length) setText($('#s-live'), said.join(' '));
}

function renderWords() {
  const list = words ? words.words : [];
  const max = list.reduce((a, [, n]) => Math.max(a, n), 1);
  renderKeyed($('#s-cloud'), list.slice(0, WORDS_N), ([w]) => w,
    () => h('li', { class: 's-word', dir: 'auto' }),
    (li, [w, n]) => {
      setText(li, w);
      li.style.fontSize = `${(2.4 + (5.6 * n) / max).toFixed(2)}vmin`;
      li.title = plural('screen_theme', n);
    });
  const themes = words ? words.themes : [];
  renderKeyed($('#s-themes'), themes.slice(0, THEMES_N), (th) => th.word,
    () => h('li', { class: 's-theme' },
      h('span', { class: 's-theme-word', dir: 'auto' }), h('span', { class: 's-theme-n' }),
      h('div', { class: 's-theme-top', dir: 'auto' })),
    (li, th) => {
      setText(li.querySelector('.s-theme-word'), th.label || th.word);
      setText(li.querySelector('.s-theme-n'), plural('screen_theme', th.items));
      const top = state.items.get(th.top);
      setText(li.querySelector('.s-theme-top'), top && top.text ? top.text : '');
    });
  show($('.s-themes-title'), themes.length > 0);
  show($('#s-words-empty'), list.length === 0);
}

function renderView() {
  show($('.s-rank'), view === 'ranking');
  show($('#s-words'), view === 'words');
  document.body.dataset.view = view;
  if (view === 'words') renderWords();
}

ticker(() => {
  if (!state.ready) return;
  setText($('#s-clock'), clockText(state));
  renderAnnouncement(); // a timed announcement ends by itself
}, 250);
