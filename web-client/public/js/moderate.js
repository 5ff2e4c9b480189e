// Moderator console: clock and phases, hide/unhide, live counts and every item. An action is shown as
// done only when the server acknowledges it; the clock and items change only from server updates.

import { t, errorText, phaseName } from './strings.js';
import { h, $, setText, applyStrings, frameScheduler, renderKeyed, show } from './dom.js';
import { Connection, TokenStore } from './conn.js';
import { JamState, KINDS } from './jamstate.js';
import { ticker } from './countdown.js';
import { phaseTitle, phaseOf, clockText, roleText, parentLine, bindConnBanner, toaster } from './ui.js';

applyStrings(t);
const toast = toaster($('#toast'));
const schedule = frameScheduler(render);

// The link is /moderate.html#<code>.<secret>. The secret is moved out of the address bar into this
// tab's sessionStorage at once (a projected or shared screen never shows it; a reload still works).
const fatal = $('#fatal');
const m = /^#(\d[\d-]*)(?:\.(.+))?$/.exec(location.hash || '');
const code = m ? m[1].replace(/-/g, '') : null;
let secret = null;
if (m && m[2]) {
  secret = decodeURIComponent(m[2]);
  try { sessionStorage.setItem(`cojam.modsecret.${code}`, secret); } catch { /* private mode: keep it in the URL */ }
  try { if (sessionStorage.getItem(`cojam.modsecret.${code}`) === secret) history.replaceState(null, '', '#' + code); } catch { /* ignore */ }
} else if (code) {
  try { secret = sessionStorage.getItem(`cojam.modsecret.${code}`); } catch { secret = null; }
}
if (!code || !secret) {
  setText(fatal, t('mod_bad_link'));
  show(fatal, true);
  throw new Error('bad moderator link');
}

const state = new JamState();
const conn = new Connection({
  join: { code, as: 'moderator', secret, nickname: t('moderator_nickname') },
  tokens: new TokenStore(`cojam.modtoken.${code}`, window.sessionStorage),
  state,
});
window.cojam = { conn, state };
bindConnBanner(conn, $('#conn-banner'), { onlineLabelEl: $('#conn-pill') });
setText($('#jam-code'), code);

conn.on('welcome', () => { show($('#main'), true); schedule(); });
conn.on('joinError', (e) => { setText(fatal, errorText(e.code)); show(fatal, true); show($('#main'), false); });
conn.on('change', schedule);
conn.on('pending', schedule);
conn.on('serverError', (e) => toast(errorText(e.code), 'error'));
conn.on('storage', (s) => { if (s === 'degraded') toast(t('conn_storage_degraded'), 'error'); });
conn.start();

// ---------------------------------------------------------------- actions

const pendingKeys = new Set();   // "start", "pause", "hide:12", …
const log = $('#action-log');

function act(key, fields, label) {
  if (pendingKeys.has(key)) return Promise.resolve(null);
  pendingKeys.add(key);
  const li = h('li', { dataset: { state: 'pending' }, text: t('mod_action_pending', { action: label }) });
  log.prepend(li);
  while (log.children.length > 30) log.lastChild.remove();
  schedule();
  return conn.write(fields).then((ack) => {
    li.dataset.state = 'done';
    setText(li, t('mod_action_done', { action: label }));
    return ack;
  }, (err) => {
    li.dataset.state = 'failed';
    setText(li, t('mod_action_failed', { action: label, code: err.code }));
    toast(errorText(err.code), 'error');
    return null;
  }).finally(() => { pendingKeys.delete(key); schedule(); });
}

$('#btn-start').addEventListener('click', () => act('clock', { type: 'start' }, t('act_start')));
$('#btn-pause').addEventListener('click', () => act('clock', { type: 'pause' }, t('act_pause')));
$('#btn-resume').addEventListener('click', () => act('clock', { type: 'resume' }, t('act_resume')));
for (const id of ['#btn-ext1', '#btn-ext5']) {
  const b = $(id);
  const mins = Number(b.dataset.m);
  setText(b, t('mod_extend', { m: mins }));
  b.setAttribute('aria-label', t('mod_extend_label', { m: mins }));
  b.addEventListener('click', () => act('extend', { type: 'extend', seconds: mins * 60 }, t('act_extend', { s: mins * 60 })));
}

const filter = $('#kind-filter');
filter.append(h('option', { value: '', text: t('mod_filter_all') }));
for (const k of KINDS) filter.append(h('option', { value: k, text: t('kinds_' + k) }));
filter.addEventListener('change', schedule);

// ---------------------------------------------------------------- rendering

let phaseSig = '';
function renderClock() {
  const c = state.clock || { state: 'lobby', index: -1 };
  setText($('#jam-title'), state.jam.title);
  setText($('#question'), state.jam.question);
  document.title = `${state.jam.title} · ${t('mod_title')}`;
  setText($('#phase-name'), phaseTitle(state));
  setText($('#phase-of'), phaseOf(state));
  const cs = $('#clock-state');
  cs.dataset.state = c.state;
  setText(cs, c.state === 'paused' ? t('phase_paused') : c.state === 'running' ? t('clock_running') : '');
  const busy = pendingKeys.has('clock');
  show($('#btn-start'), c.state === 'lobby');
  show($('#btn-pause'), c.state === 'running');
  show($('#btn-resume'), c.state === 'paused');
  for (const id of ['#btn-start', '#btn-pause', '#btn-resume']) {
    $(id).disabled = busy;
    $(id).setAttribute('aria-busy', busy ? 'true' : 'false');
  }
  const canExtend = (c.state === 'running' || c.state === 'paused') && c.remaining_ms !== null && c.remaining_ms !== undefined;
  for (const id of ['#btn-ext1', '#btn-ext5']) $(id).disabled = !canExtend || pendingKeys.has('extend');

  const pb = $('#phase-buttons');
  const sig = state.jam.agenda.map((a) => a.phase).join(',');
  if (sig !== phaseSig) {
    pb.textContent = '';
    state.jam.agenda.forEach((a, i) => {
      pb.append(h('button', { type: 'button', dataset: { index: String(i), phase: a.phase }, text: t('mod_set_phase', { phase: phaseName(a.phase) }),
        onclick: () => act('clock', { type: 'set_phase', phase: a.phase }, t('act_set_phase', { phase: phaseName(a.phase) })) }));
    });
    phaseSig = sig;
  }
  for (const b of pb.children) {
    const cur = (c.state === 'running' || c.state === 'paused') && Number(b.dataset.index) === c.index;
    if (cur) b.setAttribute('aria-current', 'step'); else b.removeAttribute('aria-current');
    b.disabled = busy;
  }
}

function renderCounts() {
  const s = state.stats || {};
  for (const k of ['participants', 'online', 'items', 'votes']) setText($('#st-' + k), String(s[k] ?? 0));
}

function createRow() {
  const tr = h('tr', null,
    h('td', { class: 'num id' }),
    h('td', { class: 'kind' }),
    h('td', { class: 'text' }),
    h('td', { class: 'author' }),
    h('td', { class: 'num votes' }),
    h('td', { class: 'state' }),
    h('td', { class: 'actions' }));
  return tr;
}

function itemActions(td, it) {
  const key = 'item:' + it.id;
  const busy = pendingKeys.has(key);
  const mode = it.hidden ? 'unhide' : td.dataset.form === '1' ? 'form' : 'hide';
  const sig = mode + '|' + busy;
  if (td.dataset.sig === sig) return;
  td.dataset.sig = sig;
  td.textContent = '';
  if (mode === 'unhide') {
    td.append(h('button', { type: 'button', class: 'unhide-btn', disabled: busy, 'aria-busy': busy ? 'true' : 'false',
      'aria-label': t('mod_unhide_label', { id: it.id }), text: t('mod_unhide'),
      onclick: () => act(key, { type: 'unhide', item: it.id }, t('act_unhide', { id: it.id })) }));
  } else if (mode === 'form') {
    const input = h('input', { type: 'text', maxlength: '200', 'aria-label': t('mod_hide_reason'), placeholder: t('mod_hide_reason') });
    const form = h('form', { class: 'hide-form', onsubmit: (ev) => {
      ev.preventDefault();
      const reason = input.value.trim();
      const msg = { type: 'hide', item: it.id };
      if (reason) msg.reason = reason;
      td.dataset.form = '';
      act(key, msg, t('act_hide', { id: it.id }));
    } }, input,
    h('button', { type: 'submit', class: 'danger', text: t('mod_hide'), disabled: busy }),
    h('button', { type: 'button', class: 'link-button', text: t('cancel'), onclick: () => { td.dataset.form = ''; td.dataset.sig = ''; schedule(); } }));
    td.append(form);
    setTimeout(() => input.focus(), 0);
  } else {
    td.append(h('button', { type: 'button', class: 'danger hide-btn', disabled: busy, 'aria-busy': busy ? 'true' : 'false',
      'aria-label': t('mod_hide_label', { id: it.id }), text: t('mod_hide'),
      onclick: () => { td.dataset.form = '1'; td.dataset.sig = ''; schedule(); } }));
  }
}

function updateRow(tr, it) {
  tr.dataset.hidden = it.hidden ? 'true' : 'false';
  const c = tr.children;
  setText(c[0], String(it.id));
  c[1].textContent = '';
  c[1].append(t('kind_' + it.kind), h('span', { class: 'sub', text: roleText(it) }));
  c[2].textContent = '';
  c[2].append(it.text || '');
  const pl = parentLine(state, it);
  if (pl) c[2].append(h('span', { class: 'sub', text: pl }));
  c[3].textContent = '';
  c[3].append(it.author || t('anonymous'));
  c[3].append(' ', h('span', { class: it.by === 'moderator' ? 'badge-mod' : 'sub', text: it.by === 'moderator' ? t('moderator_badge') : t('citizen_badge') }));
  setText(c[4], String(it.votes || 0));
  c[5].className = 'state' + (it.hidden ? ' state-hidden' : '');
  setText(c[5], it.hidden ? t('mod_state_hidden') : t('mod_state_visible'));
  itemActions(c[6], it);
}

function renderItems() {
  const kind = filter.value;
  const items = Array.from(state.items.values()).filter((it) => it.kind && (!kind || it.kind === kind));
  items.sort((a, b) => b.id - a.id);
  renderKeyed($('#items-body'), items, (it) => it.id, createRow, updateRow);
  show($('#no-items'), items.length === 0);
}

function render() {
  if (!state.ready) return;
  renderClock();
  renderCounts();
  renderItems();
}

ticker(() => { if (state.ready) setText($('#clock'), clockText(state)); }, 250);
