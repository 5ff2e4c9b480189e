// Moderator console: the clock bar, the moderation panels, the public moderation log and every
// contribution, searchable and keyboard-driven. An action is shown as done only when the server
// acknowledges it; the clock and items change only from server updates.

import { t, plural, errorText, phaseName, votesText, timeText, applyLanguage } from './strings.js';
import { h, $, setText, applyStrings, frameScheduler, renderKeyed, show, downloadFrom } from './dom.js';
import { Connection, TokenStore } from './conn.js';
import { JamState, KINDS } from './jamstate.js';
import { ticker, formatMs } from './countdown.js';
import { phaseTitle, phaseOf, clockText, roleText, parentLine, mergeLine, bindConnBanner, toaster, truncate } from './ui.js';
import { resolveModLink, parseModLink, forgetModLink, inviteLink } from './modlink.js';
import { filterItems, sortItems, pageOf, countNew, SORTS, STATES, PAGE_SIZE } from './modlist.js';

applyStrings(t);
applyLanguage();
const toast = toaster($('#toast'));
const schedule = frameScheduler(render);

// Reason presets offered when hiding (issue 11); the text sent is the preset's words.
const REASONS = ['off_topic', 'duplicate', 'abusive', 'personal_data'];
// How long "Undo" stays offered after a hide: long enough to notice a wrong key, short enough not
// to undo something a co-moderator has since looked at.
const UNDO_MS = 10000;
// The public log is fetched again at most this often while moderation events arrive.
const LOG_REFRESH_MS = 1500;

function storage(name) { try { return window[name]; } catch { return null; } }
const stores = [storage('localStorage'), storage('sessionStorage')];
const local = stores[0];
function localGet(key) { try { return local ? local.getItem(key) : null; } catch { return null; } }
function localSet(key, v) { try { if (local) local.setItem(key, v); } catch { /* private mode */ } }

// ---------------------------------------------------------------- the moderator link

const fatal = $('#fatal');
const link = resolveModLink(location.hash, stores);
if (link.code && link.clean && location.hash !== '#' + link.code) history.replaceState(null, '', '#' + link.code);

let code = link.code;
let secret = link.secret;
let conn = null;
const state = new JamState();
window.cojam = { conn: null, state, render: () => render() }; // render: a synchronous render, for tests

// The moderator's display name, one per browser: the join's nickname (proto/messages.md, team
// moderation), so a new name needs a new join, without the old session token.
const NAME_KEY = 'cojam.modname';

function askSecret(why) {
  show($('#main'), false);
  setText($('#secret-why'), t(why));
  show($('#secret-form'), true);
  $('#secret-input').value = '';
  $('#secret-input').focus();
}

$('#secret-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const got = parseModLink($('#secret-input').value);
  if (!got.secret || !(got.code || code)) { setText($('#secret-why'), t('mod_bad_link')); return; }
  const name = $('#secret-name').value.trim();
  if (name) localSet(NAME_KEY, name);
  const next = resolveModLink(`#${got.code || code}.${encodeURIComponent(got.secret)}`, stores);
  code = next.code;
  secret = next.secret;
  history.replaceState(null, '', '#' + code);
  show($('#secret-form'), false);
  connect();
});

if (!code || !secret) {
  askSecret('mod_bad_link_form');
} else {
  connect();
}

function connect() {
  setText($('#jam-code'), code);
  const nickname = localGet(NAME_KEY) || t('moderator_nickname');
  conn = new Connection({
    join: { code, as: 'moderator', secret, nickname },
    tokens: new TokenStore(`cojam.modtoken.${code}`, window.sessionStorage),
    state,
  });
  window.cojam.conn = conn;
  bindConnBanner(conn, $('#conn-banner'), { onlineLabelEl: $('#conn-pill') });
  conn.on('welcome', () => { show(fatal, false); show($('#main'), true); refreshLog(); schedule(); });
  conn.on('joinError', (e) => {
    show($('#main'), false);
    if (e.code === 'bad_secret') { forgetModLink(code, stores); askSecret('mod_secret_refused'); return; }
    if (e.code === 'invite_revoked') { inviteRevoked(); return; }
    setText(fatal, errorText(e.code));
    show(fatal, true);
  });
  conn.on('change', schedule);
  conn.on('snapshot', ({ msg }) => {
    takeModeration(msg, true);
    invites.mine = (msg.you && msg.you.invite) || null;
    takeInvites(msg.invites);
  });
  conn.on('invites', (msg) => { takeInvites(msg.invites); refreshLogSoon(); });
  conn.on('words', takeWords);
  conn.on('moderation', (n) => { if (n.notice === 'invite_revoked') inviteRevoked(); });
  conn.on('queued', (msg) => { state.applyQueued(msg.items); schedule(); });
  conn.on('update', ({ msg, newItems }) => {
    takeModeration(msg, false);
    if (msg.clock || msg.log || (msg.items && msg.items.length > newItems.length)) refreshLogSoon();
  });
  conn.on('pending', schedule);
  conn.on('serverError', (e) => toast(errorText(e.code), 'error'));
  conn.on('storage', (s) => { if (s === 'degraded') toast(t('conn_storage_degraded'), 'error'); });
  conn.start();
}

// ---------------------------------------------------------------- actions

const pendingKeys = new Set();   // "clock", "extend", "item:12", …
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
    refreshLogSoon();
    return ack;
  }, (err) => {
    li.dataset.state = 'failed';
    setText(li, t('mod_action_failed', { action: label, code: err.code }));
    toast(errorText(err.code), 'error');
    return null;
  }).finally(() => { pendingKeys.delete(key); schedule(); });
}

// Resolves true when the moderator confirms in the dialog; Cancel is the default button.
function confirmAction(title, text, ok) {
  const d = $('#confirm-dialog');
  setText($('#confirm-h'), title);
  setText($('#confirm-text'), text);
  setText($('#confirm-ok'), ok);
  d.returnValue = '';
  d.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
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

// Reveal control: what screens and phones show of the counts (the console always sees them).
const REVEALS = ['live', 'hidden', 'per_phase'];
const revealLabel = (mode) => t(mode === 'hidden' ? 'reveal_hidden_mode' : 'reveal_' + mode);
$('#reveal-mode').setAttribute('aria-label', t('mod_reveal'));
$('#reveal-mode').append(...REVEALS.map((x) => h('option', { value: x, text: revealLabel(x) })));
$('#reveal-mode').addEventListener('change', (ev) => {
  const mode = ev.target.value;
  act('reveal', { type: 'set_reveal', mode }, t('act_reveal', { mode: revealLabel(mode) }));
});

// The order of screens and phones (issue 12.1): "top" by votes, or "fair" by votes per showing.
const ORDERS = ['top', 'fair'];
const orderLabel = (order) => t('order_' + order);
$('#order-mode').setAttribute('aria-label', t('mod_order'));
$('#order-mode').append(...ORDERS.map((x) => h('option', { value: x, text: orderLabel(x) })));
$('#order-mode').addEventListener('change', (ev) => {
  const order = ev.target.value;
  act('order', { type: 'set_order', order }, t('act_order', { order: orderLabel(order) }));
});

// Going to Results freezes the jam and going to the current phase restarts its timer: both ask first.
async function setPhase(phase, index) {
  const c = state.clock || { state: 'lobby', index: -1 };
  const name = phaseName(phase);
  if ((c.state === 'running' || c.state === 'paused') && index === c.index) {
    if (!await confirmAction(t('mod_confirm_restart_title', { phase: name }), t('mod_confirm_restart_text', { phase: name }), t('mod_confirm_restart_ok'))) return;
  } else if (phase === 'results') {
    if (!await confirmAction(t('mod_confirm_results_title'), t('mod_confirm_results_text'), t('mod_confirm_results_ok'))) return;
  }
  act('clock', { type: 'set_phase', phase }, t('act_set_phase', { phase: name }));
}

// ---------------------------------------------------------------- hide, undo, remove

let formFor = null;              // id of the item whose hide (or reject) form is open
let formKind = 'hide';           // 'hide' | 'reject'
let undo = null;                 // {id, timer}: the last hide, while it can be undone from the bar

// A server with the moderation messages takes the preset as `preset` (the author's phone words it);
// an older one only has the free-text reason, so the preset's words go there.
function hide(it, preset, reason) {
  const msg = { type: 'hide', item: it.id };
  if (preset && mod.supported) msg.preset = preset;
  const text = mod.supported ? reason : [preset && t('reason_' + preset), reason].filter(Boolean).join(' — ');
  if (text) msg.reason = text;
  formFor = null;
  act('item:' + it.id, msg, t('act_hide', { id: it.id })).then((ack) => { if (ack) offerUndo(it.id); });
}

function unhide(id) {
  act('item:' + id, { type: 'unhide', item: id }, t('act_unhide', { id }));
}

// Merging duplicates (proto/messages.md, "Merging duplicates"): the ticked items merge into the
// earliest of them (the first one posted is usually the one people already vote for).
function mergeSelected() {
  const ids = Array.from(itemSel).sort((x, y) => x - y);
  if (ids.length < 2) return;
  const into = ids[0], items = ids.slice(1);
  act('merge:' + into, { type: 'merge', items, into }, t('act_merge', { n: items.length, into }));
  itemSel.clear();
}

function unmerge(id) {
  act('item:' + id, { type: 'unmerge', item: id }, t('act_unmerge', { id }));
}

function offerUndo(id) {
  if (undo) clearTimeout(undo.timer);
  undo = { id, timer: setTimeout(dropUndo, UNDO_MS) };
  setText($('#undo-text'), t('mod_undo_hide', { id }));
  show($('#undo-bar'), true);
}

function dropUndo() {
  if (undo) clearTimeout(undo.timer);
  undo = null;
  show($('#undo-bar'), false);
}

function undoLast() {
  if (!undo) return false;
  const { id } = undo;
  dropUndo();
  // Not judged by the local `hidden`: the ack of the hide comes before the update that says so.
  unhide(id);
  return true;
}
$('#undo-btn').addEventListener('click', undoLast);

async function removeAuthor(it) {
  const who = it.author || t('anonymous');
  if (!await confirmAction(t('mod_confirm_remove_title', { who }), t('mod_confirm_remove_text'), t('mod_confirm_remove_ok'))) return;
  // Named by the item (proto/messages.md): the console knows items, the server finds their author.
  act('author:' + it.id, { type: 'remove', item: it.id, hide_posts: true }, t('act_remove', { id: it.id }));
}

function muteAuthor(it) {
  act('author:' + it.id, { type: 'mute', item: it.id }, t('act_mute', { id: it.id }));
}

function openForm(id, kind) {
  formFor = id;
  formKind = kind;
  focusForm = true;
  schedule();
}

// ---------------------------------------------------------------- invite, help

// Exports (GET .../export, .../export.csv) with the secret this console holds, in a header: never
// in a URL. The download is a blob of the reply.
async function exportAs(path, name) {
  try {
    await downloadFrom(`/api/jams/${encodeURIComponent(code)}${path}`, name, { Authorization: 'Bearer ' + secret });
  } catch (e) {
    toast(t('res_export_failed', { code: errorText(e.message) }), 'error');
  }
}
$('#btn-export-json').addEventListener('click', () => exportAs('/export', `cojam-${code}.json`));
$('#btn-export-csv').addEventListener('click', () => exportAs('/export.csv', `cojam-${code}.csv`));
// This jam's exports for anyone (set_exports), without opening every jam of the server.
$('#public-exports').addEventListener('change', (ev) => {
  const on = ev.target.checked;
  act('exports', { type: 'set_exports', public: on }, t('act_exports', { on: on ? '✓' : '✗' }))
    .then((ack) => { if (ack && state.jam.settings) state.jam.settings.public_exports = on; schedule(); });
});

$('#btn-invite').addEventListener('click', () => {
  const d = $('#invite-dialog');
  // A console opened with a named invite does not hand its own link on: it is its holder's.
  const invited = !!invites.mine;
  show($('#invite-link'), !invited);
  show($('#invite-copy'), !invited);
  show($('#my-name').closest('.name-line'), !invited); // its name is the invite's
  show($('label[for="my-name"]'), !invited);
  $('#invite-link').value = invited ? '' : inviteLink(location.origin, code, secret);
  renderInvites();
  $('#my-name').value = localGet(NAME_KEY) || t('moderator_nickname');
  setText($('#invite-status'), '');
  d.showModal();
  $('#invite-link').select();
});
$('#invite-copy').addEventListener('click', async () => {
  const input = $('#invite-link');
  try {
    await navigator.clipboard.writeText(input.value);
    setText($('#invite-status'), t('mod_invite_copied'));
  } catch {
    input.select();
    setText($('#invite-status'), t('mod_invite_select'));
  }
});
$('#my-name-save').addEventListener('click', () => {
  const name = $('#my-name').value.trim();
  if (!name) return;
  localSet(NAME_KEY, name);
  conn.tokens.clear();
  location.reload();
});
$('#invite-forget').addEventListener('click', () => {
  forgetModLink(code, stores);
  setText($('#invite-status'), t('mod_forgotten'));
});

// ---------------------------------------------------------------- themes

// The live themes of the server's `words` frame and the moderators' rules (proto/messages.md,
// "Themes"): rename one (an empty label gives the word back), tick several and merge them into
// one, hide one; the rules list undoes each (a hidden word is in no theme, so only the rules name
// it). Rows are keyed by word, so a frame arriving while a label is typed keeps the input.
const themes = { list: [], rules: [], picked: new Set() };
window.cojam.themes = themes;

function takeWords(msg) {
  themes.list = Array.isArray(msg.themes) ? msg.themes : [];
  themes.rules = Array.isArray(msg.theme_rules) ? msg.theme_rules : [];
  for (const w of [...themes.picked]) if (!themes.list.some((th) => th.word === w)) themes.picked.delete(w);
  renderThemes();
}

function themeName(th) {
  return th.label && th.label !== th.word ? `${th.label} (${th.word})` : th.word;
}

function renderThemes() {
  show($('#themes-none'), themes.list.length === 0);
  renderKeyed($('#themes-list'), themes.list, (th) => th.word, (th) => {
    const input = h('input', { type: 'text', class: 'theme-label', maxlength: '40', 'aria-label': t('mod_theme_label', { word: th.word }), placeholder: t('mod_theme_label_placeholder') });
    const form = h('form', { class: 'theme-rename', onsubmit: (ev) => {
      ev.preventDefault();
      const label = input.value.trim();
      act('theme:' + th.word, { type: 'rename_theme', word: th.word, label }, t('act_theme_rename', { word: th.word }));
      input.value = '';
    } }, input, h('button', { type: 'submit', class: 'small', text: t('mod_theme_rename') }));
    const pick = h('input', { type: 'checkbox', class: 'theme-pick', 'aria-label': t('mod_theme_pick', { word: th.word }), onchange: (ev) => {
      if (ev.target.checked) themes.picked.add(th.word); else themes.picked.delete(th.word);
      renderMergeForm();
    } });
    return h('li', { class: 'theme-row' }, pick, h('span', { class: 'theme-name', dir: 'auto' }),
      h('span', { class: 'theme-n muted' }), form,
      h('button', { type: 'button', class: 'small theme-hide', text: t('mod_theme_hide'), onclick: () => act('theme:' + th.word, { type: 'hide_theme', word: th.word }, t('act_theme_hide', { word: th.word })) }));
  }, (li, th) => {
    setText(li.querySelector('.theme-name'), themeName(th));
    const merged = Array.isArray(th.merged) && th.merged.length ? ' · ' + t('mod_theme_merged', { words: th.merged.join(', ') }) : '';
    setText(li.querySelector('.theme-n'), plural('screen_theme', th.items) + merged);
    li.querySelector('.theme-pick').checked = themes.picked.has(th.word);
  });
  renderMergeForm();
  const rules = $('#theme-rules');
  rules.textContent = '';
  show($('#theme-rules-none'), themes.rules.length === 0);
  for (const r of themes.rules) {
    const parts = [];
    if (r.label) parts.push([t('mod_theme_rule_label', { word: r.word, label: r.label }), t('mod_theme_clear_label'), { type: 'rename_theme', word: r.word, label: '' }, 'act_theme_rename']);
    if (r.into) parts.push([t('mod_theme_rule_into', { word: r.word, into: r.into }), t('mod_theme_unmerge'), { type: 'unmerge_theme', word: r.word }, 'act_theme_unmerge']);
    if (r.hidden) parts.push([t('mod_theme_rule_hidden', { word: r.word }), t('mod_theme_unhide'), { type: 'unhide_theme', word: r.word }, 'act_theme_unhide']);
    for (const [text, button, fields, label] of parts) {
      rules.append(h('li', { class: 'theme-rule', dataset: { word: r.word } }, h('span', { dir: 'auto', text }), ' ',
        h('button', { type: 'button', class: 'small', text: button, onclick: () => act('theme:' + r.word, fields, t(label, { word: r.word })) })));
    }
  }
}

function renderMergeForm() {
  const picked = [...themes.picked];
  show($('#theme-merge-form'), picked.length >= 2);
  const sel = $('#theme-into');
  const keep = sel.value;
  sel.textContent = '';
  for (const w of picked) {
    const th = themes.list.find((x) => x.word === w);
    sel.append(h('option', { value: w, text: th ? themeName(th) : w, selected: w === keep }));
  }
}

$('#theme-merge-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const into = $('#theme-into').value;
  const words = [...themes.picked].filter((w) => w !== into);
  if (!into || !words.length) return;
  act('theme:' + into, { type: 'merge_themes', words, into }, t('act_theme_merge', { words: words.join(', '), into }));
  themes.picked.clear();
  renderThemes();
});

// ---------------------------------------------------------------- named invites

// Named moderator invites (proto/messages.md, "Named moderator invites"): the organiser mints one
// link per co-moderator, under the name every console and the public log then show, and revokes it
// when needed. The server hands the secret out once, in the ack; this console keeps the links it
// minted in memory only (a reload forgets them), so "Copy link" is offered for those. A console
// opened with an invite sees the list but mints and revokes nothing (`you.invite`).
const invites = { list: [], links: new Map(), mine: null };
window.cojam.invites = invites;

function takeInvites(list) {
  invites.list = Array.isArray(list) ? list : [];
  renderInvites();
}
function inviteName(id) {
  const inv = invites.list.find((x) => x.id === id);
  return inv ? inv.name : `#${id}`;
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast(t('mod_invite_copied')); } catch { toast(t('mod_invite_select'), 'error'); }
}

function renderInvites() {
  const invited = !!invites.mine;
  show($('#invites-organiser-only'), invited);
  show($('#invite-create'), !invited);
  show($('#invites-none'), invites.list.length === 0);
  const ul = $('#invites-list');
  ul.textContent = '';
  for (const inv of invites.list) {
    const state = t(inv.revoked ? 'mod_invite_revoked' : 'mod_invite_active');
    const who = h('span', { class: 'who', text: inv.name });
    who.append(h('span', { class: 'sub', text: `${state} · ${inv.by || t('moderator_nickname')} · ${timeText(inv.at)}` }));
    const li = h('li', { dataset: { invite: String(inv.id), revoked: String(!!inv.revoked) } }, who);
    const url = invites.links.get(inv.id);
    if (!inv.revoked && url) {
      const b = h('button', { type: 'button', class: 'small', dataset: { act: 'copy' }, text: t('mod_invite_copy') });
      b.addEventListener('click', () => copyText(url));
      li.append(b);
    } else if (!inv.revoked && !invited) {
      li.append(h('span', { class: 'muted sub', text: t('mod_invite_no_link') }));
    }
    if (!inv.revoked && !invited) {
      const b = h('button', { type: 'button', class: 'small danger', dataset: { act: 'revoke' }, text: t('mod_invite_revoke') });
      b.addEventListener('click', () => revokeInvite(inv));
      li.append(b);
    }
    ul.append(li);
  }
}

async function revokeInvite(inv) {
  const ok = await confirmAction(t('mod_invite_revoke_q', { name: inv.name }), t('mod_invite_revoke_text', { name: inv.name }), t('mod_invite_revoke'));
  if (!ok) return;
  const ack = await act(`invite:${inv.id}`, { type: 'revoke_invite', invite: inv.id }, t('act_revoke_invite', { name: inv.name }));
  if (ack) invites.links.delete(inv.id);
  renderInvites();
}

$('#invite-create-btn').addEventListener('click', async () => {
  const name = $('#invite-name').value.trim();
  if (!name) { $('#invite-name').focus(); return; }
  const ack = await act('invite', { type: 'invite', name }, t('act_invite', { name }));
  if (!ack || !ack.secret) return;
  const url = inviteLink(location.origin, code, ack.secret);
  invites.links.set(ack.invite, url);
  $('#invite-name').value = '';
  $('#invite-new-link').value = url;
  show($('#invite-new'), true);
  $('#invite-new-link').select();
  renderInvites();
});
$('#invite-name').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter') { ev.preventDefault(); $('#invite-create-btn').click(); }
});
$('#invite-new-copy').addEventListener('click', () => copyText($('#invite-new-link').value));

// The invite this console joined with was revoked (told before the close 4005, or refused at a
// rejoin): its secret and token are forgotten, and another link is asked for.
function inviteRevoked() {
  if (conn) { conn.stop(); conn.tokens.clear(); }
  if ($('#invite-dialog').open) $('#invite-dialog').close();
  forgetModLink(code, stores);
  secret = null;
  askSecret('mod_invite_revoked_fatal');
}

function helpKeys() {
  const keys = [['j', 'key_next'], ['k', 'key_prev'], ['h', 'key_hide'], ['u', 'key_unhide']];
  if (mod.supported) keys.push(['s', 'key_spot'], ['p', 'key_pin']);
  if (queueAvailable()) keys.push(['a', 'key_approve'], ['r', 'key_reject'], ['c', 'key_claim']);
  keys.push(['x', 'key_select']);
  keys.push(['/', 'key_search'], ['m', 'key_seen'], ['Esc', 'key_esc'], ['?', 'key_help']);
  const dl = $('#help-keys');
  dl.textContent = '';
  for (const [k, what] of keys) dl.append(h('dt', { text: k }), h('dd', { text: t(what) }));
}
function toggleHelp() {
  const d = $('#help-dialog');
  if (d.open) { d.close(); return; }
  helpKeys();
  d.showModal();
}
$('#btn-help').addEventListener('click', toggleHelp);

// ---------------------------------------------------------------- the public moderation log

let logTimer = null;
let logAt = 0;

function refreshLogSoon() {
  if (logTimer) return;
  const wait = Math.max(0, LOG_REFRESH_MS - (Date.now() - logAt));
  logTimer = setTimeout(() => { logTimer = null; refreshLog(); }, wait);
}

async function refreshLog() {
  logAt = Date.now();
  let entries;
  try {
    const r = await fetch(`/api/jams/${encodeURIComponent(code)}/log`, { cache: 'no-store' });
    if (!r.ok) return;
    entries = await r.json();
  } catch { return; }
  if (!Array.isArray(entries)) return;
  const ul = $('#public-log');
  ul.textContent = '';
  for (const e of entries.slice(-50).reverse()) {
    const items = Array.isArray(e.items) ? e.items.join(', ') : e.item;
    const action = e.action === 'hidden' && Array.isArray(e.items) ? 'hidden_items' : e.action;
    const what = t('log_' + action, { word: e.word, label: e.label || e.word, words: Array.isArray(e.words) ? e.words.join(', ') : '', item: e.item, items, name: e.invite ? inviteName(e.invite) : '', into: e.into, mode: e.mode ? revealLabel(e.mode) : '', order: e.order ? orderLabel(e.order) : '', on: e.public ? '✓' : '✗', phase: e.phase ? phaseName(e.phase) : '', seconds: e.seconds, pid: e.pid });
    const who = e.by === 'clock' ? t('mod_log_clock') : (e.moderator || t('moderator_nickname'));
    const li = h('li', { text: t('mod_log_entry', { who, what }) + (e.reason ? ` — ${e.reason}` : '') });
    if (e.at) li.title = timeText(e.at);
    ul.append(li);
  }
}

// ---------------------------------------------------------------- spotlight, pins, announcement

// Spotlight, pins and announcements are in the jam state of a server that has the moderation
// messages (proto/messages.md: `snapshot.spotlight`, `pinned`, `announcement`); against an older
// server the snapshot lacks them, and the panels say so and stay disabled. The review queue
// (pre-moderation) is designed in the protocol but served by no cojamd yet: its panel only says so.
const mod = { supported: false, spotlight: null, pinned: [], announcement: null, announcedAt: 0, claims: {} };
const ANNOUNCE_MINUTES = [0, 1, 5, 10, 30]; // 0: until cleared
window.cojam.mod = mod;

function takeModeration(msg, isSnapshot) {
  if (isSnapshot) mod.supported = 'spotlight' in msg;
  if (isSnapshot) mod.claims = { ...(msg.claims || {}) };
  else if (msg.claims) for (const [id, c] of Object.entries(msg.claims)) { if (c) mod.claims[id] = c; else delete mod.claims[id]; }
  if ('spotlight' in msg) mod.spotlight = msg.spotlight;
  if ('pinned' in msg) mod.pinned = msg.pinned || [];
  if ('announcement' in msg) { mod.announcement = msg.announcement; mod.announcedAt = performance.now(); }
}

// The announcement still shown, with its ms left (null: until cleared), or null.
function announcementNow() {
  const a = mod.announcement;
  if (!a) return null;
  if (a.remaining_ms === null || a.remaining_ms === undefined) return { text: a.text, left: null };
  const left = a.remaining_ms - (performance.now() - mod.announcedAt);
  return left > 0 ? { text: a.text, left } : null;
}

// ---------------------------------------------------------------- the review queue

// Pre-moderation is a jam setting; its items wait with `pending: true` until approved or rejected.
// Claims (`snapshot.claims`, `update.claims`) hold for 120 s after the claim (proto/messages.md).
function queueAvailable() { return !!(state.jam && state.jam.settings && state.jam.settings.premoderation); }
function myPid() { return state.you ? state.you.id : null; }
function claimOf(id) {
  const c = mod.claims[String(id)];
  return c && c.until > Date.now() ? c : null;
}
function claimedByOther(id) { const c = claimOf(id); return !!c && c.by !== myPid(); }
function pendingItems() {
  const list = [];
  for (const it of state.items.values()) if (it.pending && it.kind) list.push(it);
  return list.sort((x, y) => x.id - y.id);
}

// The item a/r/c act on: the selected one when it waits, else the oldest nobody else has claimed.
function queueTarget() {
  const it = selected();
  if (it && it.pending) return it;
  return pendingItems().find((p) => !claimedByOther(p.id)) || null;
}

// After a decision the selection moves on to the next waiting item nobody else has claimed.
function nextPending(afterId) {
  const next = pendingItems().find((p) => p.id > afterId && !claimedByOther(p.id)) || pendingItems().find((p) => p.id !== afterId && !claimedByOther(p.id));
  if (next) select(next.id);
}

function approve(it) {
  if (!it) return;
  act('item:' + it.id, { type: 'approve', items: [it.id] }, t('act_approve', { id: it.id }));
  nextPending(it.id);
}

function reject(it, preset, reason) {
  const msg = { type: 'reject', items: [it.id] };
  if (preset) msg.preset = preset;
  if (reason) msg.reason = reason;
  formFor = null;
  act('item:' + it.id, msg, t('act_reject', { id: it.id }));
  nextPending(it.id);
}

function claim(it) {
  if (it) act('claim:' + it.id, { type: 'claim', items: [it.id] }, t('act_claim', { id: it.id }));
}

function release(it) {
  if (it) act('claim:' + it.id, { type: 'release', items: [it.id] }, t('act_release', { id: it.id }));
}

// A claim of my own is released by the same button that made it.
function claimOrRelease(it) {
  const c = it && claimOf(it.id);
  if (c && c.by === myPid()) release(it); else claim(it);
}

// ---------------------------------------------------------------- bulk decisions

// The selections of several items for one decision: queue items (approve, reject, claim, release)
// and visible items of the list (hide). One message names at most 100 items (proto/messages.md),
// so a bigger selection goes as several messages, each one event, all or nothing.
const BULK_MAX = 100;
const queueSel = new Set();
const itemSel = new Set();

function toggleIn(set, id, on) {
  if (on) set.add(id); else set.delete(id);
  schedule();
}

function bulk(type, ids, extra, label) {
  const list = Array.from(ids).sort((x, y) => x - y);
  for (let i = 0; i < list.length; i += BULK_MAX) {
    const items = list.slice(i, i + BULK_MAX);
    act(`bulk:${type}:${items[0]}`, { type, items, ...extra }, t(label, { n: items.length }));
  }
}

function reasonFields(preset, reason) {
  const f = {};
  if (preset) f.preset = preset;
  if (reason) f.reason = reason;
  return f;
}

for (const [sel, r] of [['#bulk-preset', 'reason_preset'], ['#items-bulk-preset', 'reason_preset']]) {
  const el = $(sel);
  el.setAttribute('aria-label', t('mod_' + r));
  el.append(h('option', { value: '', text: t('reason_none') }), ...REASONS.map((x) => h('option', { value: x, text: t('reason_' + x) })));
}
$('#bulk-reason').setAttribute('aria-label', t('mod_hide_reason'));
$('#bulk-reason').placeholder = t('mod_hide_reason');
$('#bulk-approve').addEventListener('click', () => { bulk('approve', queueSel, {}, 'act_bulk_approve'); queueSel.clear(); });
$('#bulk-claim').addEventListener('click', () => bulk('claim', queueSel, {}, 'act_bulk_claim'));
$('#bulk-release').addEventListener('click', () => bulk('release', queueSel, {}, 'act_bulk_release'));
$('#bulk-reject').addEventListener('click', () => {
  bulk('reject', queueSel, reasonFields($('#bulk-preset').value, $('#bulk-reason').value.trim()), 'act_bulk_reject');
  queueSel.clear();
  $('#bulk-reason').value = '';
});
$('#bulk-clear').addEventListener('click', () => { queueSel.clear(); schedule(); });
$('#queue-all').addEventListener('change', (ev) => {
  for (const it of pendingItems().slice(0, QUEUE_SHOWN)) toggleIn(queueSel, it.id, ev.target.checked);
});
$('#items-bulk-hide').addEventListener('click', () => {
  bulk('hide', itemSel, reasonFields($('#items-bulk-preset').value, ''), 'act_bulk_hide');
  itemSel.clear();
});
$('#items-bulk-clear').addEventListener('click', () => { itemSel.clear(); schedule(); });
$('#items-bulk-merge').addEventListener('click', mergeSelected);

function renderBulk() {
  for (const id of queueSel) { const it = state.items.get(id); if (!it || !it.pending) queueSel.delete(id); }
  for (const id of itemSel) { const it = state.items.get(id); if (!it || it.hidden || it.pending || it.merged_into) itemSel.delete(id); }
  const n = queueSel.size;
  show($('#queue-bulk'), queueAvailable() && pendingItems().length > 0);
  setText($('#queue-bulk-count'), n ? t('mod_bulk_count', { n }) : '');
  show($('#queue-bulk-actions'), n > 0); // the queue's rows keep the room until something is ticked
  const shown = pendingItems().slice(0, QUEUE_SHOWN);
  $('#queue-all').checked = shown.length > 0 && shown.every((it) => queueSel.has(it.id));
  show($('#items-bulk'), itemSel.size > 0);
  setText($('#items-bulk-count'), t('mod_bulk_count', { n: itemSel.size }));
  show($('#items-bulk-merge'), itemSel.size >= 2);
  if (itemSel.size >= 2) setText($('#items-bulk-merge'), t('mod_bulk_merge', { n: Math.min(...itemSel) }));
}

function createQueueRow(it) {
  const li = h('li', { class: 'q-row' },
    h('input', { type: 'checkbox', class: 'q-check', 'aria-label': t('mod_select_label', { id: it.id }), onchange: (ev) => toggleIn(queueSel, it.id, ev.target.checked) }),
    h('span', { class: 'q-age' }), h('span', { class: 'q-text', dir: 'auto' }), h('span', { class: 'q-claim' }),
    h('span', { class: 'q-actions' },
      h('button', { type: 'button', class: 'small q-claim-btn', 'aria-keyshortcuts': 'c', 'aria-label': t('mod_claim_label', { id: it.id }), text: t('mod_claim'), onclick: () => claimOrRelease(state.items.get(it.id)) }),
      h('button', { type: 'button', class: 'small primary q-approve', 'aria-keyshortcuts': 'a', 'aria-label': t('mod_approve_label', { id: it.id }), text: t('mod_approve'), onclick: () => approve(state.items.get(it.id)) }),
      h('button', { type: 'button', class: 'small danger q-reject', 'aria-keyshortcuts': 'r', 'aria-label': t('mod_reject_label', { id: it.id }), text: t('mod_reject'), onclick: () => openForm(it.id, 'reject') })));
  li.addEventListener('click', (ev) => { if (!ev.target.closest('button, input')) select(it.id); });
  return li;
}

function updateQueueRow(li, it, now) {
  const c = claimOf(it.id);
  const left = c ? formatMs(c.until - now) : '';
  const age = it.at ? formatMs(Math.max(0, now - it.at)) : '';
  const other = claimedByOther(it.id);
  const busy = pendingKeys.has('item:' + it.id);
  const picked = queueSel.has(it.id);
  const sig = [age, left, other, busy, view.sel === it.id, it.text, picked].join('|');
  if (li._sig === sig) return;
  li._sig = sig;
  li.setAttribute('aria-selected', view.sel === it.id ? 'true' : 'false');
  li.dataset.claimed = c ? (other ? 'other' : 'mine') : '';
  const [check, ageEl, textEl, claimEl, actions] = li.children;
  check.checked = picked;
  const mine = !!c && !other;
  setText(actions.children[0], t(mine ? 'mod_release' : 'mod_claim'));
  actions.children[0].setAttribute('aria-label', t(mine ? 'mod_release_label' : 'mod_claim_label', { id: it.id }));
  setText(ageEl, age ? t('mod_queue_age', { age }) : '');
  setText(textEl, `#${it.id} ${truncate(it.text || '', 120)} — ${it.author || t('anonymous')}`);
  setText(claimEl, !c ? '' : other ? t('mod_queue_claimed', { name: c.name || t('moderator_nickname'), left }) : t('mod_queue_yours', { left }));
  for (const b of actions.children) b.disabled = busy || (other && !b.classList.contains('q-claim-btn'));
  actions.children[0].disabled = busy || other;
}

// The queue shows its 50 oldest: a busy queue is worked from the top, and 50 rows stay cheap to
// redraw every 250 ms (their ages tick).
const QUEUE_SHOWN = 50;

function renderQueue() {
  const on = queueAvailable();
  show($('#queue-note'), !on);
  show($('#queue-list'), on);
  show($('#queue-empty'), false);
  if (!on) return;
  const list = pendingItems();
  setText($('#queue-count'), t('mod_queue_count', { n: list.length }));
  show($('#queue-empty'), list.length === 0);
  const now = Date.now();
  renderKeyed($('#queue-list'), list.slice(0, QUEUE_SHOWN), (it) => it.id, createQueueRow, (li, it) => updateQueueRow(li, it, now));
}

const annFor = $('#announce-for');
for (const m of ANNOUNCE_MINUTES) annFor.append(h('option', { value: String(m), text: m ? t('mod_announce_min', { m }) : t('mod_announce_until') }));
$('#announce-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('#announce-text').value.trim();
  if (!text) return;
  const msg = { type: 'announce', text };
  if (Number(annFor.value)) msg.duration_s = Number(annFor.value) * 60;
  act('announce', msg, t('act_announce')).then((ack) => { if (ack) $('#announce-text').value = ''; });
});
$('#announce-clear').addEventListener('click', () => act('announce', { type: 'unannounce' }, t('act_unannounce')));
$('#spot-clear').addEventListener('click', () => act('spot', { type: 'unspotlight' }, t('act_unspotlight')));

function toggleSpotlight(it) {
  if (!mod.supported || !it || it.hidden || it.pending) return;
  if (mod.spotlight === it.id) act('spot', { type: 'unspotlight' }, t('act_unspotlight'));
  else act('spot', { type: 'spotlight', item: it.id }, t('act_spotlight', { id: it.id }));
}

function togglePin(it) {
  if (!mod.supported || !it) return;
  if (mod.pinned.includes(it.id)) act('pin:' + it.id, { type: 'unpin', item: it.id }, t('act_unpin', { id: it.id }));
  else if (!it.hidden && !it.pending) act('pin:' + it.id, { type: 'pin', item: it.id }, t('act_pin', { id: it.id }));
}

function itemLine(id) {
  const it = state.items.get(id);
  return t('mod_spot_item', { id, text: it && it.text ? truncate(it.text, 80) : '', votes: votesText((it && it.votes) || 0) });
}

let pinSig = null;
function renderPanels() {
  renderQueue();
  renderBulk();

  const on = mod.supported;
  show($('#announce-note'), !on);
  for (const id of ['#announce-text', '#announce-for', '#announce-send']) $(id).disabled = !on || pendingKeys.has('announce');
  const a = on ? announcementNow() : null;
  $('#announce-clear').disabled = !a || pendingKeys.has('announce');
  setText($('#announce-current'), !on ? '' : !a ? t('mod_announce_none')
    : a.left === null ? t('mod_announce_now', { text: a.text }) : t('mod_announce_left', { text: a.text, left: formatMs(a.left) }));

  show($('#spot-note'), !on);
  show($('#spot-box'), on);
  if (!on) return;
  setText($('#spot-current'), mod.spotlight ? itemLine(mod.spotlight) : t('mod_spot_none'));
  $('#spot-clear').disabled = !mod.spotlight || pendingKeys.has('spot');
  const sig = mod.pinned.map(itemLine).join('\n');
  if (sig !== pinSig) {
    pinSig = sig;
    const ol = $('#pinned-list');
    ol.textContent = '';
    if (!mod.pinned.length) ol.append(h('li', { class: 'muted', text: t('mod_pinned_none') }));
    for (const id of mod.pinned) ol.append(h('li', { text: itemLine(id) }));
  }
}

// ---------------------------------------------------------------- the contributions list

const view = { q: '', kind: '', state: '', author: '', sort: 'newest', page: 0, sel: null };
let listed = [];                 // the filtered, sorted list last rendered
let focusForm = false;           // move focus into the hide form once it is rendered
let scrollToSel = false;         // bring the selected row into view once it is rendered
const seenKey = () => `cojam.modseen.${code}`;
let seen = null;                 // highest item id the moderator has marked as seen

function loadSeen() {
  const v = localGet(seenKey());
  return v === null ? null : Number(v) || 0;
}
function markSeen() {
  let max = 0;
  for (const id of state.items.keys()) if (id > max) max = id;
  seen = max;
  localSet(seenKey(), String(seen));
  schedule();
}
$('#btn-seen').addEventListener('click', markSeen);

const filter = $('#kind-filter');
filter.append(h('option', { value: '', text: t('mod_filter_all') }));
for (const k of KINDS) filter.append(h('option', { value: k, text: t('kinds_' + k) }));
const stateFilter = $('#state-filter');
const STATE_LABEL = { '': 'mod_state_all', visible: 'mod_state_visible_f', hidden: 'mod_state_hidden_f', new: 'mod_state_new_f' };
for (const s of STATES) stateFilter.append(h('option', { value: s, text: t(STATE_LABEL[s]) }));
const sortSel = $('#sort');
for (const s of SORTS) sortSel.append(h('option', { value: s, text: t('mod_sort_' + s) }));

function bindFilter(el, field, ev) {
  el.addEventListener(ev, () => { view[field] = el.value; view.page = 0; schedule(); });
}
bindFilter(filter, 'kind', 'change');
bindFilter(stateFilter, 'state', 'change');
bindFilter(sortSel, 'sort', 'change');
bindFilter($('#search'), 'q', 'input');
bindFilter($('#author-filter'), 'author', 'input');
$('#page-prev').addEventListener('click', () => { view.page--; schedule(); });
$('#page-next').addEventListener('click', () => { view.page++; schedule(); });

function select(id) {
  view.sel = id;
  const i = listed.findIndex((it) => it.id === id);
  if (i >= 0) view.page = pageOf(i, listed.length).page;
  scrollToSel = true;
  schedule();
}

function move(step) {
  if (!listed.length) return;
  let i = listed.findIndex((it) => it.id === view.sel);
  i = i < 0 ? (step > 0 ? 0 : listed.length - 1) : Math.min(listed.length - 1, Math.max(0, i + step));
  select(listed[i].id);
}

function createRow() {
  const tr = h('tr', null,
    h('td', { class: 'num id' }),
    h('td', { class: 'kind' }),
    h('td', { class: 'text', dir: 'auto' }),
    h('td', { class: 'author' }),
    h('td', { class: 'num votes' }),
    h('td', { class: 'state' }),
    h('td', { class: 'actions' }));
  tr.addEventListener('click', (ev) => { if (!ev.target.closest('button, input, select, form')) select(Number(tr.dataset.key)); });
  return tr;
}

function hideForm(it, busy) {
  const input = h('input', { type: 'text', maxlength: '200', 'aria-label': t('mod_hide_reason'), placeholder: t('mod_hide_reason') });
  const preset = h('select', { 'aria-label': t('mod_reason_preset') },
    h('option', { value: '', text: t('reason_none') }),
    REASONS.map((r) => h('option', { value: r, text: t('reason_' + r) })));
  const close = () => { formFor = null; schedule(); };
  const form = h('form', { class: 'hide-form', onsubmit: (ev) => {
    ev.preventDefault();
    if (formKind === 'reject') reject(it, preset.value, input.value.trim());
    else hide(it, preset.value, input.value.trim());
  },
  onkeydown: (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); close(); } } },
  preset, input,
  h('button', { type: 'submit', class: 'danger', text: t(formKind === 'reject' ? 'mod_reject' : 'mod_hide'), disabled: busy }),
  h('button', { type: 'button', class: 'link-button', text: t('cancel'), onclick: close }));
  return form;
}

function itemActions(td, it) {
  const key = 'item:' + it.id;
  const busy = pendingKeys.has(key);
  const mode = it.merged_into ? 'merged' : formFor === it.id && (formKind === 'reject' ? it.pending : !it.hidden) ? 'form' + formKind : it.hidden ? 'unhide' : it.pending ? 'pending' : 'hide';
  const removable = mod.supported && it.by === 'citizen'; // not a moderator's item nor a scribe entry
  const staged = !it.hidden && !it.pending && !it.merged_into; // a pending item is reviewed before it goes on the stage
  const spot = mod.supported && staged ? (mod.spotlight === it.id ? 'on' : 'off') : '';
  const pin = mod.supported && (staged || mod.pinned.includes(it.id)) ? (mod.pinned.includes(it.id) ? 'on' : 'off') : '';
  const sig = [mode, busy, removable, spot, pin].join('|');
  if (td.dataset.sig === sig) return;
  td.dataset.sig = sig;
  td.textContent = '';
  if (mode === 'merged') {
    td.append(h('button', { type: 'button', class: 'unmerge-btn small', disabled: busy, 'aria-busy': busy ? 'true' : 'false',
      'aria-label': t('mod_unmerge_label', { id: it.id }), text: t('mod_unmerge'), onclick: () => unmerge(it.id) }));
  } else if (mode === 'unhide') {
    td.append(h('button', { type: 'button', class: 'unhide-btn small', disabled: busy, 'aria-busy': busy ? 'true' : 'false',
      'aria-label': t('mod_unhide_label', { id: it.id }), text: t('mod_unhide'), onclick: () => unhide(it.id) }));
  } else if (mode.startsWith('form')) {
    td.append(hideForm(it, busy));
  } else if (mode === 'pending') {
    td.append(h('button', { type: 'button', class: 'small primary', disabled: busy || claimedByOther(it.id), 'aria-label': t('mod_approve_label', { id: it.id }), text: t('mod_approve'), onclick: () => approve(it) }),
      ' ', h('button', { type: 'button', class: 'small danger', disabled: busy || claimedByOther(it.id), 'aria-label': t('mod_reject_label', { id: it.id }), text: t('mod_reject'), onclick: () => openForm(it.id, 'reject') }));
  } else {
    td.append(h('button', { type: 'button', class: 'danger hide-btn small', disabled: busy, 'aria-busy': busy ? 'true' : 'false',
      'aria-keyshortcuts': 'h', 'aria-label': t('mod_hide_label', { id: it.id }), text: t('mod_hide'), onclick: () => openForm(it.id, 'hide') }));
  }
  if (spot) {
    td.append(' ', h('button', { type: 'button', class: 'spot-btn small', 'aria-pressed': spot === 'on' ? 'true' : 'false', 'aria-keyshortcuts': 's',
      'aria-label': t('mod_spot_label', { id: it.id }), text: t('mod_spot'), onclick: () => toggleSpotlight(it) }));
  }
  if (pin) {
    td.append(' ', h('button', { type: 'button', class: 'pin-btn small', 'aria-pressed': pin === 'on' ? 'true' : 'false', 'aria-keyshortcuts': 'p',
      'aria-label': t(pin === 'on' ? 'mod_unpin_label' : 'mod_pin_label', { id: it.id }), text: t(pin === 'on' ? 'mod_unpin' : 'mod_pin'),
      onclick: () => togglePin(it) }));
  }
  if (removable) {
    td.append(' ', h('button', { type: 'button', class: 'mute-btn small', 'aria-label': t('mod_mute_label', { id: it.id }),
      text: t('mod_mute'), onclick: () => muteAuthor(it) }),
    ' ', h('button', { type: 'button', class: 'danger remove-btn small', 'aria-label': t('mod_remove_label', { id: it.id }),
      text: t('mod_remove'), onclick: () => removeAuthor(it) }));
  }
}

function updateRow(tr, it) {
  const isNew = seen !== null && it.id > seen;
  const sel = view.sel === it.id;
  const flags = [mod.spotlight === it.id && t('mod_state_spot'), mod.pinned.includes(it.id) && t('mod_state_pinned')].filter(Boolean).join(' · ');
  const merge = mergeLine(state, it);
  const sig = [it.votes || 0, it.hidden, it.pending, it.text, it.author, it.by, isNew, sel, flags, itemSel.has(it.id), merge].join('|');
  if (tr._sig !== sig) {
    tr._sig = sig;
    tr.dataset.hidden = it.hidden ? 'true' : 'false';
    tr.dataset.new = isNew ? 'true' : 'false';
    tr.setAttribute('aria-selected', sel ? 'true' : 'false');
    const c = tr.children;
    c[0].textContent = '';
    if (!it.hidden && !it.pending && !it.merged_into) {
      c[0].append(h('input', { type: 'checkbox', class: 'row-check', checked: itemSel.has(it.id), 'aria-label': t('mod_select_label', { id: it.id }),
        onchange: (ev) => toggleIn(itemSel, it.id, ev.target.checked) }));
    }
    c[0].append(String(it.id));
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
    c[5].textContent = '';
    c[5].append(it.hidden ? t('mod_state_hidden') : it.pending ? t('mod_state_pending') : it.merged_into ? t('merged_into', { n: it.merged_into }) : t('mod_state_visible'));
    if (merge && !it.merged_into) c[5].append(h('span', { class: 'sub merged', text: merge }));
    if (flags) c[5].append(h('span', { class: 'sub flag', text: flags }));
  }
  itemActions(tr.children[6], it);
}

let authorsSig = '';
function renderAuthors() {
  const names = new Set();
  for (const it of state.items.values()) if (it.author) names.add(it.author);
  if (names.size > 500) return; // a datalist of thousands helps nobody: typing filters anyway
  const sig = Array.from(names).sort().join('\n');
  if (sig === authorsSig) return;
  authorsSig = sig;
  const dl = $('#authors');
  dl.textContent = '';
  for (const n of sig ? sig.split('\n') : []) dl.append(h('option', { value: n }));
}

function renderItems() {
  if (seen === null) { seen = loadSeen(); if (seen === null) markSeen(); }
  listed = sortItems(filterItems(state.items.values(), { ...view, seen }), view.sort);
  const pg = pageOf(view.page * PAGE_SIZE, listed.length);
  view.page = pg.page;
  renderKeyed($('#items-body'), listed.slice(pg.from, pg.to), (it) => it.id, createRow, updateRow);
  show($('#no-items'), listed.length === 0);
  show($('#pager'), pg.pages > 1);
  setText($('#page-of'), t('mod_page_of', { i: pg.page + 1, n: pg.pages }));
  $('#page-prev').disabled = pg.page === 0;
  $('#page-next').disabled = pg.page >= pg.pages - 1;
  let total = 0;
  for (const it of state.items.values()) if (it.kind) total++;
  setText($('#items-count'), t('mod_items_count', { shown: listed.length, total, new: countNew(state.items.values(), seen) }));
  if (focusForm) {
    focusForm = false;
    const input = $(`#items-body tr[data-key="${formFor}"] .hide-form input`);
    if (input) input.focus();
  }
  if (scrollToSel) {
    scrollToSel = false;
    const tr = $(`#items-body tr[data-key="${view.sel}"]`);
    if (tr) tr.scrollIntoView({ block: 'nearest' });
  }
}

// ---------------------------------------------------------------- keyboard

function selected() { return view.sel === null ? null : state.items.get(view.sel) || null; }

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || !state.ready) return;
  if (document.querySelector('dialog[open]')) return;
  const tag = ev.target && ev.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
    if (ev.key === 'Escape' && ev.target.id === 'search') ev.target.blur();
    return;
  }
  const it = selected();
  switch (ev.key) {
    case 'j': move(1); break;
    case 'k': move(-1); break;
    case 'h': if (it && !it.hidden) openForm(it.id, 'hide'); break;
    case 'u': if (!undoLast() && it && it.hidden) unhide(it.id); break;
    case 'a': if (queueAvailable()) approve(queueTarget()); break;
    case 'r': if (queueAvailable()) { const q = queueTarget(); if (q) { select(q.id); openForm(q.id, 'reject'); } } break;
    case 'c': if (queueAvailable()) claimOrRelease(queueTarget()); break;
    case 'x': if (it && it.pending) toggleIn(queueSel, it.id, !queueSel.has(it.id)); else if (it && !it.hidden) toggleIn(itemSel, it.id, !itemSel.has(it.id)); break;
    case 's': toggleSpotlight(it); break;
    case 'p': togglePin(it); break;
    case 'm': markSeen(); break;
    case '/': $('#search').focus(); break;
    case '?': toggleHelp(); break;
    default: return;
  }
  ev.preventDefault();
});

// ---------------------------------------------------------------- rendering

let phaseSig = '';
function renderClock() {
  const c = state.clock || { state: 'lobby', index: -1 };
  setText($('#jam-title'), state.jam.title);
  setText($('#question'), state.jam.question);
  $('#question').title = state.jam.question;
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
        onclick: () => setPhase(a.phase, i) }));
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
  if (!pendingKeys.has('exports')) $('#public-exports').checked = !!(state.jam.settings && state.jam.settings.public_exports);
  if (!pendingKeys.has('reveal') && document.activeElement !== $('#reveal-mode')) $('#reveal-mode').value = state.reveal.mode;
  if (!pendingKeys.has('order') && document.activeElement !== $('#order-mode')) $('#order-mode').value = state.order;
  const s = state.stats || {};
  for (const k of ['participants', 'online', 'items', 'votes']) setText($('#st-' + k), String(s[k] ?? 0));
}

function render() {
  if (!state.ready) return;
  renderClock();
  renderCounts();
  renderPanels();
  renderAuthors();
  renderItems();
}

ticker(() => {
  if (!state.ready) return;
  setText($('#clock'), clockText(state));
  if (mod.announcement || queueAvailable()) renderPanels();
}, 250);
