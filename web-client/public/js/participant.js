// Participant page (phone first): join, follow the phase and clock, post, vote, see the ranking and
// one's own contributions with their rank.

import { t, errorText, votesText, plural, applyLanguage } from './strings.js';
import { h, $, setText, applyStrings, frameScheduler, renderKeyed, flipList, show } from './dom.js';
import { Connection, TokenStore } from './conn.js';
import { JamState, KINDS } from './jamstate.js';
import { ticker } from './countdown.js';
import { phaseTitle, phaseHelp, phaseOf, clockText, authorText, roleText, parentLine, mergeLine, truncate, bindConnBanner, toaster, lineageKinds, lineageByParent, whyText } from './ui.js';

applyStrings(t);
applyLanguage();

const store = window.localStorage;
const K = {
  token: (code) => `cojam.token.${code}`,
  last: 'cojam.last',
  nick: 'cojam.nickname',
  draft: (code, kind) => `cojam.draft.${code}.${kind}`,
  pendingPost: (code) => `cojam.pendingpost.${code}`,
};
const sget = (k) => { try { return store.getItem(k); } catch { return null; } };
const sset = (k, v) => { try { store.setItem(k, v); } catch { /* storage full or private mode */ } };
const sdel = (k) => { try { store.removeItem(k); } catch { /* ignore */ } };

const toast = toaster($('#toast'));
const els = {
  joinView: $('#join-view'), jamView: $('#jam-view'), tabs: $('#tabs'),
  joinForm: $('#join-form'), joinCode: $('#join-code'), joinNick: $('#join-nick'), joinAnon: $('#join-anon'),
  joinBtn: $('#join-btn'), joinError: $('#join-error'), joinFound: $('#join-found'),
  nickBlock: $('#nick-block'), anonBlock: $('#anon-block'),
  title: $('#jam-title'), phaseOf: $('#phase-of'), phaseName: $('#phase-name'), phaseHelp: $('#phase-help'),
  clock: $('#clock'), question: $('#question'), budget: $('#budget'),
  postForm: $('#post-form'), postTitle: $('#post-title'), parentBlock: $('#parent-block'), parentLabel: $('#post-parent-label'),
  parent: $('#post-parent'), textLabel: $('#post-text-label'), text: $('#post-text'), count: $('#post-count'),
  draft: $('#post-draft'), postBtn: $('#post-btn'), postStatus: $('#post-status'), postClosed: $('#post-closed'),
  rankLists: $('#rank-lists'), mineList: $('#mine-list'), mineEmpty: $('#mine-empty'), youAre: $('#you-are'),
  leave: $('#leave-btn'), leaveDialog: $('#leave-dialog'), leaveText: $('#leave-text'), leavePending: $('#leave-pending'),
  leaveCancel: $('#leave-cancel'), leaveConfirm: $('#leave-confirm'), questionMore: $('#question-more'),
};

let conn = null;
let state = null;
let code = null;
let postKind = null;          // the kind the post form is currently for
let postPending = false;
let resentPendingPost = false;
const showLimit = {};         // kind -> how many items to show
const HOLD_SCROLL_PX = 8;       // a scroll smaller than this is a finger's wobble, not a scroll
const HOLD_MAX_MS = 10000;
const MOVE_MS = 450;
let hold = null;              // the ranking held still (see holdList): {scrollY, order: Map kind -> ids as shown, timer}
const schedule = frameScheduler(render);

// ---------------------------------------------------------------- join

function normCode(s) { return String(s || '').replace(/[\s-]/g, ''); }

function codeFromHash() {
  const m = decodeURIComponent(location.hash.slice(1));
  const c = normCode(m);
  return /^\d{4,9}$/.test(c) ? c : null;
}

function showJoin(errorMsg) {
  show(els.joinView, true);
  show(els.jamView, false);
  show(els.tabs, false);
  els.joinBtn.disabled = false;
  setText(els.joinBtn, t('join_button'));
  setText(els.joinError, errorMsg || '');
  if (!els.joinNick.value) els.joinNick.value = sget(K.nick) || '';
  (els.joinCode.value ? els.joinNick : els.joinCode).focus();
}

function showJam() {
  show(els.joinView, false);
  show(els.jamView, true);
  show(els.tabs, true);
}

let lookupTimer = null;
let lookupSeq = 0;
function lookupJam() {
  clearTimeout(lookupTimer);
  const c = normCode(els.joinCode.value);
  setText(els.joinFound, '');
  show(els.anonBlock, true);
  if (!/^\d{6}$/.test(c)) return;
  const seq = ++lookupSeq;
  lookupTimer = setTimeout(async () => {
    try {
      const r = await fetch(`/api/jams/${encodeURIComponent(c)}`, { headers: { Accept: 'application/json' } });
      if (seq !== lookupSeq) return;
      if (r.status === 404) { setText(els.joinError, errorText('no_such_jam')); return; }
      if (!r.ok) return;
      const j = await r.json();
      setText(els.joinError, '');
      setText(els.joinFound, t('join_found', { title: j.title || '' }));
      const anonOk = !j.settings || j.settings.anonymous_allowed !== false;
      show(els.anonBlock, anonOk);
      if (!anonOk) els.joinAnon.checked = false;
      els.joinNick.required = !anonOk;
      els.joinNick.setAttribute('aria-required', anonOk ? 'false' : 'true');
      updateNickState();
    } catch { /* offline: the join itself will tell */ }
  }, 250);
}

function updateNickState() {
  const anon = els.joinAnon.checked;
  els.joinNick.disabled = anon;
}

els.joinCode.addEventListener('input', lookupJam);
els.joinAnon.addEventListener('change', updateNickState);

els.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = normCode(els.joinCode.value);
  if (!/^\d{6}$/.test(c)) { setText(els.joinError, t('join_code_hint')); els.joinCode.focus(); return; }
  const fields = {};
  const anon = els.joinAnon.checked && !els.anonBlock.hidden;
  const nick = els.joinNick.value.trim();
  if (anon) fields.anonymous = true;
  else if (!nick && els.joinNick.required) { setText(els.joinError, errorText('nickname_required')); els.joinNick.focus(); return; }
  else if (nick) {
    if (Array.from(nick).length > 40) { setText(els.joinError, errorText('too_long')); return; }
    fields.nickname = nick;
    sset(K.nick, nick);
  }
  els.joinBtn.disabled = true;
  setText(els.joinBtn, t('joining'));
  setText(els.joinError, '');
  startJam(c, fields, false);
});

// Leaving forgets the identity for good: ask first and say what is lost (issue 12).
els.leave.addEventListener('click', () => {
  const you = state && state.you;
  setText(els.leaveText, t('leave_text', { name: you && you.nickname ? you.nickname : t('anonymous'), title: state && state.jam ? state.jam.title : '' }));
  const n = conn ? conn.pending.size : 0;
  setText(els.leavePending, n ? plural('leave_pending', n) : '');
  els.leaveDialog.showModal();
  els.leaveCancel.focus();
});
els.leaveCancel.addEventListener('click', () => els.leaveDialog.close());
els.leaveConfirm.addEventListener('click', () => {
  els.leaveDialog.close();
  if (conn) conn.stop();
  sdel(K.token(code));
  sdel(K.last);
  conn = null;
  state = null;
  window.cojam = null;
  showJoin('');
});

function startJam(c, fields, rejoining) {
  if (conn) conn.stop();
  code = c;
  state = new JamState();
  resentPendingPost = false;
  conn = new Connection({
    join: { code: c, as: 'citizen', ...fields },
    tokens: new TokenStore(K.token(c), store),
    state,
  });
  window.cojam = { conn, state }; // for the browser tests and debugging
  bindConnBanner(conn, $('#conn-banner'), { onlineLabelEl: $('#conn-pill') });
  conn.on('welcome', () => {
    sset(K.last, c);
    if (location.hash.slice(1) !== c) history.replaceState(null, '', '#' + c);
    showJam();
    resendPendingPost();
    if (document.body.dataset.tab === 'discover') { discoverAt = 0; askDiscover(); }
    schedule();
  });
  conn.on('joinError', (e) => {
    if (conn) conn.stop();
    conn = null;
    if (e.code === 'no_such_jam') { sdel(K.token(c)); sdel(K.last); }
    showJoin(errorText(e.code));
  });
  conn.on('change', schedule);
  conn.on('pending', schedule);
  conn.on('similar', (m) => { similarIds = Array.isArray(m.items) ? m.items : []; renderSimilar(); });
  conn.on('discover', (m) => { discoverIds = Array.isArray(m.items) ? m.items : []; discoverAsked = true; schedule(); });
  conn.on('notice', (n) => toast(errorText(n.code)));
  conn.on('queued', (m) => { state.applyQueued(m.items); schedule(); }); // my post, waiting for review
  conn.on('moderation', (n) => {
    const why = whyText(n);
    if (n.notice === 'removed') {
      conn = null;
      showJoin(why ? t('removed_notice_why', { why }) : t('removed_notice'));
    } else if (n.notice === 'unmuted') {
      toast(t('unmuted_notice'));
    }
  });
  conn.on('serverError', (e) => toast(errorText(e.code), 'error'));
  conn.on('storage', (s) => { if (s === 'degraded') toast(t('conn_storage_degraded'), 'error'); });
  conn.on('status', schedule);
  if (rejoining) showJam();
  conn.start();
}

// ---------------------------------------------------------------- tabs

const tabs = ['post', 'discover', 'rank', 'mine'];
function selectTab(name, focus) {
  for (const n of tabs) {
    const tab = $('#tab-' + n);
    const on = n === name;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
    show($('#panel-' + n), on);
    if (on && focus) tab.focus();
  }
  document.body.dataset.tab = name;
  window.scrollTo({ top: 0 });
  releaseList();
  if (name === 'discover') askDiscover();
}
for (const n of tabs) {
  const tab = $('#tab-' + n);
  tab.addEventListener('click', () => selectTab(n));
  tab.addEventListener('keydown', (ev) => {
    const i = tabs.indexOf(n);
    if (ev.key === 'ArrowRight') selectTab(tabs[(i + 1) % tabs.length], true);
    else if (ev.key === 'ArrowLeft') selectTab(tabs[(i + tabs.length - 1) % tabs.length], true);
    else return;
    ev.preventDefault();
  });
}
selectTab('post');

// ---------------------------------------------------------------- posting

function codePoints(s) { return Array.from(s).length; }

function saveDraft() {
  if (!code || !postKind) return;
  const d = { text: els.text.value, parent: els.parent.value };
  if (!d.text && !d.parent) sdel(K.draft(code, postKind));
  else sset(K.draft(code, postKind), JSON.stringify(d));
  setText(els.draft, d.text ? t('draft_saved') : '');
}

function loadDraft(kind) {
  let d = null;
  try { d = JSON.parse(sget(K.draft(code, kind)) || 'null'); } catch { d = null; }
  els.text.value = d && typeof d.text === 'string' ? d.text : '';
  els.parent.dataset.want = d && d.parent ? d.parent : '';
  setText(els.draft, els.text.value ? t('draft_saved') : '');
}

els.text.addEventListener('input', () => { saveDraft(); renderPost(); askSimilar(); });

// Similar items while typing (issue 14.1): once the user pauses, the server is asked for up to three
// visible items of the kind being written that share its rarer words (`similar`, at most one per
// 500 ms); they are offered with a vote button, so that a duplicate becomes a vote.
const SIMILAR_PAUSE_MS = 600;
const SIMILAR_MIN_CHARS = 8;
let similarTimer = null;
let similarIds = [];
function askSimilar() {
  clearTimeout(similarTimer);
  similarTimer = setTimeout(() => {
    const text = els.text.value.trim();
    if (!conn || !conn.joined || !postKind || codePoints(text) < SIMILAR_MIN_CHARS) {
      similarIds = [];
      renderSimilar();
      return;
    }
    conn.raw({ type: 'similar', kind: postKind, text });
  }, SIMILAR_PAUSE_MS);
}

function renderSimilar() {
  const items = els.text.value.trim() ? similarIds.map((id) => state && state.items.get(id)).filter((it) => it && !it.hidden) : [];
  renderKeyed($('#post-similar-list'), items, (it) => it.id,
    () => h('li', { class: 'similar-item' }, h('span', { class: 'similar-text', dir: 'auto' }),
      h('button', { type: 'button', class: 'similar-vote small', onclick: onVoteClick })),
    (li, it) => {
      setText(li.querySelector('.similar-text'), it.text || '');
      const voted = state.votedFor(it.id);
      const b = li.querySelector('.similar-vote');
      setText(b, voted ? t('similar_voted') : t('similar_vote'));
      b.setAttribute('aria-pressed', voted ? 'true' : 'false');
      b.disabled = !!votePending(it.id) || !state.canWrite;
    });
  show($('#post-similar'), items.length > 0);
}
els.parent.addEventListener('change', () => { saveDraft(); renderPost(); });

els.postForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!conn || !state || postPending) return;
  const rules = state.rules;
  const kind = rules.post;
  if (!kind || !state.canWrite) return;
  const text = els.text.value.trim();
  const s = state.jam.settings || {};
  const n = codePoints(text);
  if (n < (s.min_text ?? 2)) { postStatus(errorText('too_short'), 'error'); return; }
  if (n > (s.max_text ?? 500)) { postStatus(errorText('too_long'), 'error'); return; }
  const msg = { type: 'post', kind, text };
  if (rules.parent && els.parent.value) msg.parent = Number(els.parent.value);
  if (rules.parentRequired && !msg.parent) { postStatus(t('post_parent_missing'), 'error'); els.parent.focus(); return; }
  const op = conn.nextOp();
  sset(K.pendingPost(code), JSON.stringify({ op, msg }));
  sendPost(msg, op);
});

function sendPost(msg, op) {
  postPending = true;
  postStatus(conn.joined ? t('post_sending') : t('post_queued'), 'info');
  const c = conn;
  c.write(msg, { op }).then(() => {
    if (c !== conn) return;
    sdel(K.pendingPost(code));
    sdel(K.draft(code, msg.kind));
    if (postKind === msg.kind) { els.text.value = ''; els.parent.dataset.want = ''; els.parent.value = ''; setText(els.draft, ''); }
    similarIds = [];
    const premod = state.jam && state.jam.settings && state.jam.settings.premoderation;
    postStatus(t(premod ? 'post_done_review' : 'post_done'), 'ok');
  }, (err) => {
    if (c !== conn) return;
    sdel(K.pendingPost(code));
    postStatus(errorText(err.code), 'error');
  }).finally(() => {
    if (c !== conn) return;
    postPending = false;
    schedule();
  });
  schedule();
}

// After a reload, a post that was sent but never acknowledged is sent again with the same op.
function resendPendingPost() {
  if (resentPendingPost) return;
  resentPendingPost = true;
  let p = null;
  try { p = JSON.parse(sget(K.pendingPost(code)) || 'null'); } catch { p = null; }
  if (p && p.op && p.msg && p.msg.type === 'post') sendPost(p.msg, p.op);
}

function postStatus(text, kind) {
  els.postStatus.dataset.kind = kind;
  setText(els.postStatus, text);
}

function renderPost() {
  const rules = state.rules;
  const kind = state.canWrite ? rules.post : null;
  if (kind !== postKind) {
    if (postKind) saveDraft();
    postKind = kind;
    if (kind) loadDraft(kind);
    if (!postPending) postStatus('', 'info');
  }
  show(els.postForm, !!kind);
  show(els.postClosed, !kind);
  if (!kind) {
    const st = state.clockState;
    setText(els.postClosed, st === 'lobby' ? t('post_not_running') : st === 'paused' ? t('phase_help_paused')
      : st === 'ended' || state.phase === 'results' ? t('post_frozen') : t('post_not_now'));
    return;
  }
  setText(els.postTitle, t('post_title_' + kind));
  setText(els.textLabel, t('post_text_label', { kind: t('kind_' + kind).toLowerCase() }));
  els.text.placeholder = t('post_placeholder_' + kind);

  // "builds on" choices
  show(els.parentBlock, !!rules.parent);
  if (rules.parent) {
    setText(els.parentLabel, rules.parentRequired ? t('post_parent_label_required') : t('post_parent_label_' + kind));
    const cands = state.rankedItems(rules.parent);
    const emptyEl = $('#post-parent-empty');
    setText(emptyEl, t('post_parent_empty'));
    show(emptyEl, rules.parentRequired && cands.length === 0);
    const sig = rules.parentRequired + '|' + cands.map((i) => i.id + ':' + i.text).join('|');
    if (els.parent.dataset.sig !== sig) {
      const cur = els.parent.value || els.parent.dataset.want || '';
      els.parent.textContent = '';
      els.parent.append(h('option', { value: '', text: rules.parentRequired ? t('post_parent_choose') : t('post_parent_none') }));
      cands.forEach((it, i) => els.parent.append(h('option', { value: String(it.id), text: `${i + 1}. ${truncate(it.text, 70)}` })));
      els.parent.value = cands.some((c) => String(c.id) === cur) ? cur : '';
      els.parent.dataset.sig = sig;
    }
  }

  const s = state.jam.settings || {};
  const max = s.max_text ?? 500;
  const n = codePoints(els.text.value.trim());
  setText(els.count, t('post_chars', { n, max }));
  els.count.dataset.over = n > max ? 'true' : 'false';
  const ok = n >= (s.min_text ?? 2) && n <= max && (!rules.parentRequired || els.parent.value);
  els.postBtn.disabled = postPending || !ok;
  els.postBtn.setAttribute('aria-busy', postPending ? 'true' : 'false');
  setText(els.postBtn, postPending ? t('post_sending') : t('post_button'));
  if (postPending && conn && !conn.joined) postStatus(t('post_queued'), 'info');
  else if (postPending) postStatus(t('post_sending'), 'info');
}

// ---------------------------------------------------------------- voting and lists

function votePending(id) {
  return conn && conn.pendingWhere((m) => (m.type === 'vote' || m.type === 'unvote') && m.item === id);
}

// Holding the lists still (issue 12: a vote moved the item from #4 to #1, out of view, and the next
// tap in the same place hit another item). Touching an item freezes the order of the lists as they
// are shown: ranks and counts stay true, new items join at the end. The order catches up, the rows
// gliding to their places, once the user scrolls, changes tab, or leaves the list alone HOLD_MAX_MS
// (a list too short to scroll must not stay out of order). The state is declared at the top.

function holdList() {
  const order = new Map();
  for (const sec of els.rankLists.querySelectorAll('.kind-section')) {
    order.set(sec.dataset.kind, Array.from(sec.querySelector('ol').children, (li) => Number(li.dataset.key)));
  }
  if (hold) clearTimeout(hold.timer);
  hold = { scrollY: window.scrollY, order, timer: setTimeout(releaseList, HOLD_MAX_MS) };
}

function releaseList() {
  if (!hold) return;
  clearTimeout(hold.timer);
  hold = null;
  schedule();
}

function heldOrder(items, held) {
  const byId = new Map(items.map((it) => [it.id, it]));
  const out = held.filter((id) => byId.has(id)).map((id) => byId.get(id));
  const kept = new Set(held);
  for (const it of items) if (!kept.has(it.id)) out.push(it);
  return out;
}

els.rankLists.addEventListener('pointerdown', (ev) => { if (ev.target.closest('li.item')) holdList(); });
window.addEventListener('scroll', () => {
  if (hold && Math.abs(window.scrollY - hold.scrollY) > HOLD_SCROLL_PX) releaseList();
}, { passive: true });

function onVoteClick(ev) {
  holdList(); // also for a keyboard "click", which has no pointerdown
  const li = ev.currentTarget.closest('li');
  const id = Number(li.dataset.key);
  if (!conn || !state || !state.you || votePending(id)) return;
  const voted = state.votedFor(id);
  conn.write({ type: voted ? 'unvote' : 'vote', item: id })
    .catch((err) => toast(errorText(err.code), 'error'))
    .finally(schedule);
  schedule();
}

function createItem() {
  return h('li', { class: 'item' },
    h('span', { class: 'item-rank' }),
    h('div', { class: 'item-body' },
      h('p', { class: 'item-text', dir: 'auto' }),
      h('p', { class: 'item-meta' }),
      h('p', { class: 'item-parent' })),
    h('div', { class: 'item-side' },
      h('span', { class: 'item-votes' }),
      h('button', { type: 'button', class: 'vote-btn', onclick: onVoteClick })));
}

// `i` is the item's true place in the ranking, `at` where it is shown (they differ while held).
function updateItem(li, item, i, at, { votable }) {
  setText(li.querySelector('.item-rank'), t('rank_n', { n: i + 1 }));
  li.dataset.moved = i < at ? 'up' : i > at ? 'down' : '';
  setText(li.querySelector('.item-text'), item.text || '');
  setText(li.querySelector('.item-meta'), [authorText(item), roleText(item), mergeLine(state, item)].filter(Boolean).join(' · '));
  const pl = parentLine(state, item);
  const pEl = li.querySelector('.item-parent');
  setText(pEl, pl || '');
  show(pEl, !!pl);
  setText(li.querySelector('.item-votes'), state.countsHidden(item.kind) ? '' : votesText(item.votes || 0));
  li.classList.toggle('mine-item', !!(state.you && state.you.items.has(item.id)));
  const btn = li.querySelector('.vote-btn');
  const voted = state.votedFor(item.id);
  const pending = !!votePending(item.id);
  show(btn, votable);
  const budgetOut = state.you && state.you.budget_left === 0;
  btn.disabled = pending || !state.canWrite || (!voted && budgetOut);
  btn.setAttribute('aria-pressed', voted ? 'true' : 'false');
  btn.setAttribute('aria-busy', pending ? 'true' : 'false');
  setText(btn, pending ? t(conn && conn.joined ? 'vote_pending' : 'vote_queued') : voted ? t('voted') + ' ✓' : t('vote'));
  btn.setAttribute('aria-label', t(voted ? 'unvote_label' : 'vote_label', { text: truncate(item.text || '', 60) }));
}

// Discover (issue 12.1): the server offers the items that have been shown least so far, to each
// participant different ones, so that late contributions are seen and voted on too. Asked when the
// tab opens and with "Show me others"; the server answers at most one `discover` a second.
const DISCOVER_EVERY_MS = 1100;
let discoverIds = [];
let discoverAsked = false;
let discoverAt = 0;
function askDiscover() {
  if (!conn || !conn.joined) return;
  const now = Date.now();
  if (now - discoverAt < DISCOVER_EVERY_MS) return;
  discoverAt = now;
  conn.raw({ type: 'discover' });
  $('#discover-more').disabled = true;
  setTimeout(() => { $('#discover-more').disabled = false; }, DISCOVER_EVERY_MS);
}
$('#discover-more').addEventListener('click', askDiscover);

function renderDiscover() {
  // The cards stay what the server offered (a vote must not make the next card jump into place).
  const items = discoverIds.map((id) => state.items.get(id)).filter((it) => it && JamState.listedItem(it));
  renderKeyed($('#discover-list'), items, (it) => it.id, createItem, (li, it, at) => {
    const votable = state.isVotable(it);
    updateItem(li, it, at, at, { votable });
    setText(li.querySelector('.item-rank'), '');
  });
  show($('#discover-empty'), discoverAsked && items.length === 0);
}

function listKinds() {
  const r = state.rules;
  const set = new Set(state.canWrite ? [...r.vote, r.post].filter(Boolean) : []);
  if (!set.size) for (const k of KINDS) if (state.countVisible(k)) set.add(k);
  return KINDS.filter((k) => set.has(k));
}

// Design, diffuse and the results: refinements and pledges are listed under their idea (see
// renderChildren), not in a section of their own far below the ideas.
function rankKinds() {
  const children = lineageKinds(state);
  return listKinds().filter((k) => !children.includes(k));
}

// The idea's refinements or pledges, best first, in a list inside its row (with their own votes).
function renderChildren(li, idea, byParent) {
  let ol = li.querySelector(':scope > .item-children');
  const kids = (byParent && byParent.get(idea.id)) || [];
  if (!ol) {
    if (!kids.length) return;
    ol = h('ol', { class: 'item-list item-children' });
    li.append(ol);
  }
  const place = new Map(); // its place among the idea's children of its kind
  const count = {};
  for (const it of kids) { place.set(it.id, count[it.kind] || 0); count[it.kind] = (count[it.kind] || 0) + 1; }
  renderKeyed(ol, kids, (it) => it.id, createItem, (kli, it) => {
    const votable = state.canWrite && state.rules.vote.includes(it.kind);
    updateItem(kli, it, place.get(it.id), place.get(it.id), { votable }); // never held: shown at its place
    show(kli.querySelector('.item-parent'), false); // it stands under its parent
  });
  show(ol, kids.length > 0);
}

function renderRank() {
  const kinds = rankKinds();
  const byParent = lineageByParent(state);
  const container = els.rankLists;
  const sections = new Map();
  for (const sec of Array.from(container.children)) sections.set(sec.dataset.kind, sec);
  for (const [k, sec] of sections) if (!kinds.includes(k)) sec.remove();
  if (!kinds.length) {
    if (!container.querySelector('.empty')) container.append(h('p', { class: 'muted empty', text: t('rank_empty') }));
    return;
  }
  const empty = container.querySelector('.empty');
  if (empty) empty.remove();
  kinds.forEach((kind, idx) => {
    let sec = sections.get(kind);
    if (!sec) {
      sec = h('section', { class: 'kind-section', dataset: { kind }, 'aria-labelledby': 'h-' + kind },
        h('h2', { class: 'kind-title', id: 'h-' + kind }),
        h('ol', { class: 'item-list' }),
        h('p', { class: 'muted kind-empty', text: t('rank_empty') }),
        h('button', { type: 'button', class: 'link-button more', text: t('show_more'),
          onclick: () => { showLimit[kind] = (showLimit[kind] || 50) + 50; schedule(); } }));
    }
    if (container.children[idx] !== sec) container.insertBefore(sec, container.children[idx] || null);
    const all = state.rankedItems(kind);
    const limit = showLimit[kind] || 50;
    setText(sec.querySelector('h2'), `${t('kinds_' + kind)} (${all.length})`);
    const votable = state.canWrite && state.rules.vote.includes(kind);
    const place = new Map(all.map((it, i) => [it.id, i]));
    const held = hold && hold.order.get(kind);
    const shown = held ? heldOrder(all.slice(0, limit), held) : all.slice(0, limit);
    const ol = sec.querySelector('ol');
    flipList(ol, () => renderKeyed(ol, shown, (it) => it.id, createItem, (li, it, at) => {
      updateItem(li, it, place.get(it.id), at, { votable });
      renderChildren(li, it, kind === 'idea' ? byParent : null);
    }), MOVE_MS);
    show(sec.querySelector('.kind-empty'), all.length === 0);
    show(sec.querySelector('.more'), all.length > limit);
  });
}

// What became of each of my items: how many visible items of each kind build on it.
function buildersOf(mine) {
  const ids = new Set(mine.map((it) => it.id));
  const by = new Map();
  for (const o of state.items.values()) {
    if (o.hidden || !o.parent || !ids.has(o.parent)) continue;
    const n = by.get(o.parent) || {};
    n[o.kind] = (n[o.kind] || 0) + 1;
    by.set(o.parent, n);
  }
  return by;
}

function outcomeText(n) {
  if (!n) return '';
  return ['idea', 'refinement', 'pledge'].filter((k) => n[k])
    .map((k) => plural(`mine_${k}s`, n[k])).join(' · ');
}

function renderMine() {
  const you = state.you;
  setText(els.youAre, you ? t('you_are', { name: you.nickname || t('anonymous') }) : '');
  const mine = you ? Array.from(you.items).map((id) => state.items.get(id)).filter(Boolean) : [];
  mine.sort((a, b) => b.id - a.id);
  show(els.mineEmpty, mine.length === 0);
  const builders = buildersOf(mine);
  renderKeyed(els.mineList, mine, (it) => it.id, () => h('li', { class: 'item' },
    h('span', { class: 'item-rank' }),
    h('div', { class: 'item-body' }, h('p', { class: 'item-text', dir: 'auto' }), h('p', { class: 'item-meta' }), h('p', { class: 'item-parent' }),
      h('p', { class: 'item-outcome' })),
    h('div', { class: 'item-side' }, h('span', { class: 'item-votes' }))),
  (li, it) => {
    const rank = state.rankOf(it.id);
    li.dataset.hidden = it.hidden ? 'true' : 'false';
    setText(li.querySelector('.item-rank'), rank ? t('rank_n', { n: rank }) : '–');
    setText(li.querySelector('.item-text'), it.text || '');
    const why = whyText(it);
    li.dataset.pending = it.pending ? 'true' : 'false';
    setText(li.querySelector('.item-meta'), it.pending ? t('mine_waiting_review')
      : it.hidden && it.rejected ? (why ? t('rejected_item_why', { why }) : t('rejected_item'))
        : it.hidden ? (why ? t('hidden_item_why', { why }) : t('hidden_item'))
          : it.merged_into ? `${t('kind_' + it.kind)} · ${mergeLine(state, it)}`
          : `${t('kind_' + it.kind)} · ${t('mine_rank', { rank, total: state.countVisible(it.kind), kinds: t('kinds_' + it.kind).toLowerCase() })}`);
    const pl = parentLine(state, it);
    setText(li.querySelector('.item-parent'), pl || '');
    show(li.querySelector('.item-parent'), !!pl);
    setText(li.querySelector('.item-votes'), votesText(it.votes || 0));
    const outcome = it.hidden ? '' : outcomeText(builders.get(it.id));
    setText(li.querySelector('.item-outcome'), outcome);
    show(li.querySelector('.item-outcome'), !!outcome);
  });
}

function renderBudget() {
  show($('#reveal-note'), KINDS.some((k) => state.countsHidden(k)));
  const you = state.you;
  const r = state.rules;
  if (!you || !state.canWrite || !r.vote.length) { setText(els.budget, ''); return; }
  const per = state.jam.settings ? state.jam.settings.votes_per_phase : 0;
  if (!per || you.budget_left === null || you.budget_left === undefined) {
    setText(els.budget, t('budget_unlimited'));
    els.budget.dataset.empty = 'false';
    return;
  }
  setText(els.budget, you.budget_left === 0 ? t('budget_none_left') : t('budget_left', { n: you.budget_left, max: per }));
  els.budget.dataset.empty = you.budget_left === 0 ? 'true' : 'false';
}

function renderPhase() {
  setText(els.title, state.jam ? state.jam.title : '');
  document.title = state.jam ? `${state.jam.title} · cojam` : 'cojam';
  setText(els.phaseName, phaseTitle(state));
  setText(els.phaseOf, phaseOf(state));
  setText(els.phaseHelp, phaseHelp(state));
  setText(els.question, state.jam ? state.jam.question : '');
  renderQuestionToggle();
  document.body.dataset.clock = state.clockState;
  document.body.dataset.phase = state.phase || '';
}

// A long question (and, on short screens, the phase help) folds to two lines so that the form stays
// above the fold on a 320×568 phone; the toggle shows only when something is folded away.
let questionOpen = false;
els.questionMore.addEventListener('click', () => { questionOpen = !questionOpen; renderQuestionToggle(); });
window.addEventListener('resize', () => schedule());

function renderQuestionToggle() {
  document.body.dataset.question = questionOpen ? 'open' : 'folded';
  const q = els.question;
  const folded = !questionOpen && ((q.textContent && q.scrollHeight > q.clientHeight + 1)
    || (els.phaseHelp.textContent && getComputedStyle(els.phaseHelp).display === 'none' && document.body.dataset.tab === 'post'));
  show(els.questionMore, questionOpen || folded);
  els.questionMore.setAttribute('aria-expanded', questionOpen ? 'true' : 'false');
  setText(els.questionMore, t(questionOpen ? 'question_less' : 'question_more'));
}

// Above the form: the participant's own moderation status, the announcement, the spotlight.
function renderStage() {
  const you = state.you;
  const why = you ? whyText(you.moderation) : '';
  show($('#mod-status'), !!(you && you.muted));
  if (you && you.muted) setText($('#mod-status'), why ? t('muted_notice_why', { why }) : t('muted_notice'));
  renderAnnouncement();
  const spot = state.spotlight ? state.items.get(state.spotlight) : null;
  show($('#spot'), !!(spot && spot.text));
  if (spot && spot.text) {
    setText($('#spot-text'), spot.text);
    setText($('#spot-votes'), [votesText(spot.votes || 0), authorText(spot)].filter(Boolean).join(' · '));
  }
}

function renderAnnouncement() {
  const text = state.announcementText();
  show($('#announce'), !!text);
  setText($('#announce-text'), text || '');
}

function render() {
  if (!state) return;
  if (!state.ready) { setText(els.phaseName, t('loading')); return; }
  renderStage();
  renderPhase();
  renderBudget();
  renderPost();
  renderSimilar();
  renderRank();
  renderDiscover();
  renderMine();
  show($('#rank-fair'), state.order === 'fair');
}

ticker(() => {
  if (!state || !state.ready) return;
  setText(els.clock, clockText(state));
  renderAnnouncement(); // a timed announcement ends by itself
}, 250);

// ---------------------------------------------------------------- start

// Another jam's link opened in this tab: start over with it.
window.addEventListener('hashchange', () => {
  const c = codeFromHash();
  if (c && c !== code) location.reload();
});

(function boot() {
  const fromHash = codeFromHash();
  const last = sget(K.last);
  if (fromHash) els.joinCode.value = fromHash;
  const c = fromHash || last;
  if (c && sget(K.token(c))) { startJam(c, {}, true); return; }
  showJoin('');
  if (fromHash) lookupJam();
})();
