// UI pieces shared by the pages: connection banner, phase labels, item metadata.

import { t, phaseName } from './strings.js';
import { formatMs } from './countdown.js';
import { h, setText } from './dom.js';

// Short text of the jam's state: "Explore", "Paused", "Waiting to start", "Ended".
export function phaseTitle(state) {
  const c = state.clock;
  if (!c || c.state === 'lobby') return t('phase_lobby');
  if (c.state === 'ended') return t('phase_ended');
  return phaseName(c.phase);
}

export function phaseHelp(state) {
  const c = state.clock;
  if (!c || c.state === 'lobby') return t('phase_help_lobby');
  if (c.state === 'ended') return t('phase_help_ended');
  if (c.state === 'paused') return t('phase_help_paused');
  return t('phase_help_' + c.phase);
}

export function phaseOf(state) {
  const c = state.clock;
  if (!c || !state.jam || c.index < 0 || c.state === 'ended') return '';
  return t('phase_of', { i: c.index + 1, n: state.jam.agenda.length });
}

// The jam has reached its end: a results phase or the end of the agenda. Pages then show the
// final ranking with its lineage and no clock.
export function isOver(state) {
  const c = state.clock;
  return !!c && (c.state === 'ended' || c.phase === 'results');
}

// Countdown text ("4:59", "no time limit", "" in lobby, results and ended).
export function clockText(state) {
  const c = state.clock;
  if (!c || c.state === 'lobby' || isOver(state)) return '';
  const ms = state.remainingMs();
  if (ms === null) return t('phase_no_deadline');
  return formatMs(ms);
}

export function authorText(item) {
  if (item.by === 'scribe') return t('scribe_by', { name: item.author || t('from_the_floor'), scribe: item.scribe || t('moderator_badge') });
  if (item.by === 'moderator') return (item.author || t('anonymous')) + ' · ' + t('moderator_badge');
  return item.author || t('anonymous');
}

export function roleText(item) {
  return item.role ? t('role_' + item.role) : '';
}

// A moderator's reason in words: the preset's label and the free text, e.g. "abusive: shouting".
export function whyText(m) {
  if (!m) return '';
  return [m.preset ? t('preset_' + m.preset) : '', m.reason || ''].filter(Boolean).join(': ');
}

export function truncate(s, n) {
  const cps = Array.from(s || '');
  return cps.length > n ? cps.slice(0, n - 1).join('') + '…' : cps.join('');
}

export function parentLine(state, item) {
  if (!item.parent) return null;
  const p = state.items.get(item.parent);
  const text = p && p.text ? truncate(p.text, 90) : t('unknown_item', { id: item.parent });
  return t('builds_on', { text });
}

// A merge (proto/messages.md, "Merging duplicates"): a duplicate says "merged into #N"; a target
// names the duplicates merged into it ("#2, #3 merged into #1"). null when neither.
export function mergeLine(state, item) {
  if (item.merged_into) return t('merged_into', { n: item.merged_into });
  const dups = state.duplicatesOf ? state.duplicatesOf(item.id) : [];
  if (!dups.length) return null;
  return t('merged_here', { ids: dups.map((d) => '#' + d.id).join(', '), n: item.id });
}

// In design and diffuse the new contributions (refinements, pledges) belong to an idea: pages show
// them under it rather than in a list of their own; once the jam is over, both. The child kinds.
export function lineageKinds(state) {
  if (isOver(state)) return ['refinement', 'pledge'];
  const r = state.rules;
  return r.parent === 'idea' && (r.post === 'refinement' || r.post === 'pledge') ? [r.post] : [];
}

// The visible items of the lineage kinds grouped by their idea (parent id -> items: each kind's
// best first, refinements before pledges).
export function lineageByParent(state) {
  const by = new Map();
  for (const kind of lineageKinds(state)) {
    for (const [parent, list] of childrenByParent(state, kind)) by.set(parent, (by.get(parent) || []).concat(list));
  }
  return by;
}

// The visible items of 'kind' grouped by the item they build on (parent id -> items, best first).
export function childrenByParent(state, kind) {
  const by = new Map();
  for (const it of state.rankedItems(kind)) {
    if (!by.has(it.parent)) by.set(it.parent, []);
    by.get(it.parent).push(it);
  }
  return by;
}

// Keeps a banner element in step with the connection status. Once the page has been live, any
// other state says so in plain words ("Connection lost — reconnecting…"); the pill is green only
// while the heartbeat is answered.
export function bindConnBanner(conn, banner, { onlineLabelEl } = {}) {
  if (banner._unbind) banner._unbind();
  banner.textContent = '';
  let live = true;
  const label = h('span', { class: 'conn-label' });
  const btn = h('button', { type: 'button', class: 'link-button', text: t('conn_reconnect_now'), onclick: () => conn.reconnectNow() });
  banner.append(label, btn);
  let status = { state: 'connecting' };
  const paint = () => {
    const s = status.state;
    const offline = navigator.onLine === false;
    banner.dataset.state = s;
    banner.hidden = s === 'online' || s === 'idle' || s === 'failed';
    btn.hidden = s !== 'waiting';
    // Tries come every few seconds at most (conn.js): one steady sentence, no countdown to flicker.
    if (s === 'connecting') setText(label, t('conn_connecting'));
    else if (s === 'reconnecting' || s === 'waiting') setText(label, t(offline ? 'conn_offline_lost' : 'conn_lost'));
    if (onlineLabelEl) {
      onlineLabelEl.dataset.state = s;
      setText(onlineLabelEl, s === 'online' ? t('conn_online') : s === 'connecting' ? t('conn_connecting') : t('conn_offline'));
    }
  };
  conn.on('status', (st) => { if (live) { status = st; paint(); } });
  banner._unbind = () => { live = false; };
  paint();
}

// A transient message at the bottom of the page (role=status).
export function toaster(el) {
  let timer = null;
  return (text, kind = 'info') => {
    el.dataset.kind = kind;
    setText(el, text);
    el.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => { el.hidden = true; }, 4000);
  };
}
