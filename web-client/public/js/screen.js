// Projector screen: read-only. Join code + QR, phase and countdown, live counters and the animated top
// of the ranking. Renders at most once per animation frame from the coalesced server updates; items
// that overtake each other glide to their new place (FLIP with CSS transforms).

import { t, errorText } from './strings.js';
import { h, $, setText, applyStrings, frameScheduler, renderKeyed, flipList, show } from './dom.js';
import { Connection } from './conn.js';
import { JamState } from './jamstate.js';
import { ticker } from './countdown.js';
import { drawQR } from './qr.js';
import { phaseTitle, phaseOf, clockText, authorText, parentLine, bindConnBanner } from './ui.js';

applyStrings(t);
const TOP_N = 6;
const MOVE_MS = 650;

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

// Join code and QR code (generated here: no network service).
const joinUrl = `${location.origin}/#${code}`;
setText($('#s-host'), location.host);
setText($('#s-code'), code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code);
$('#s-code').setAttribute('aria-label', code);
function sizeQR() {
  const px = Math.round(Math.min(window.innerHeight * 0.34, window.innerWidth * 0.2));
  drawQR($('#s-qr'), joinUrl, px);
  $('#s-qr').setAttribute('aria-label', joinUrl);
}
sizeQR();
window.addEventListener('resize', () => { sizeQR(); schedule(); });

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
    h('div', { class: 's-body' }, h('div', { class: 's-text' }), h('div', { class: 's-sub' })),
    h('div', { class: 's-votes' }, h('span', { class: 's-vcount' }), h('small', { text: t('screen_votes') })));
}

function updateItem(li, it, i, maxVotes) {
  setText(li.querySelector('.s-pos'), String(i + 1));
  setText(li.querySelector('.s-text'), it.text || '');
  const pl = parentLine(state, it);
  setText(li.querySelector('.s-sub'), [authorText(it), pl].filter(Boolean).join(' · '));
  const v = it.votes || 0;
  const vEl = li.querySelector('.s-vcount');
  if (vEl.textContent !== String(v)) {
    if (vEl.textContent !== '') {
      li.classList.remove('bump');
      void li.offsetWidth; // restart the animation
      li.classList.add('bump');
    }
    vEl.textContent = String(v);
  }
  li.querySelector('.s-bar').style.width = maxVotes ? `${Math.round((v / maxVotes) * 100)}%` : '0%';
}

// Pinned items of this kind first (in pin order), then the ranking.
function listed(kind) {
  const pinned = state.pinned.map((id) => state.items.get(id)).filter((it) => it && it.kind === kind && !it.hidden);
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
  const added = flipList(list, () => renderKeyed(list, items, (it) => it.id, createItem, (li, it, i) => updateItem(li, it, i, maxVotes)), MOVE_MS);
  for (const el of added) {
    el.classList.add('enter');
    el.addEventListener('animationend', () => el.classList.remove('enter'), { once: true });
  }
  show($('#s-empty'), items.length === 0);
}

function render() {
  if (!state.ready) return;
  const jam = state.jam;
  setText($('#s-title'), jam.title);
  setText($('#s-question'), jam.question);
  document.title = `${jam.title} · cojam`;
  setText($('#s-phase'), phaseTitle(state));
  setText($('#s-phase-of'), phaseOf(state));
  document.body.dataset.clock = state.clockState;
  const s = state.stats || {};
  for (const k of ['participants', 'online', 'items', 'votes']) setText($('#s-' + k), String(s[k] ?? 0));
  // The published head of the event chain (proto/messages.md), small: the first 16 hex digits.
  setText($('#s-chain'), s.chain ? `#${s.events} ${s.chain.slice(0, 16)}` : '');
  $('#s-chain').title = s.chain || '';
  const kind = screenKind();
  setText($('#s-rank-title'), t('screen_top', { kinds: t('kinds_' + kind) }));
  renderList(kind);
  renderStage();
}

ticker(() => {
  if (!state.ready) return;
  setText($('#s-clock'), clockText(state));
  renderAnnouncement(); // a timed announcement ends by itself
}, 250);
