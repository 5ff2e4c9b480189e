// The public results page, results.html#<code> (issue 14, point 5): the final ranking of every
// phase with the lineage (problems -> ideas -> refinements and pledges under their idea), then the
// process record: participation, the agenda as run, the moderation log with its reasons and the
// chain head. From GET /api/jams/<code>/results (proto/messages.md); the exports (JSON, CSV) are
// fetched with the moderator secret or the admin token unless the server made them public.

import { t, errorText, votesText, phaseName, plural, utcText, applyLanguage } from './strings.js';
import { h, $, setText, applyStrings, show, replaceChildren, downloadFrom } from './dom.js';

applyStrings(t);
applyLanguage();
// While the jam still runs the page re-reads the results this often; once final, never.
const REFRESH_MS = 15000;
// The kind each phase ranks and the kinds that build on it, shown under each of its items.
const PHASE_KIND = { explore: 'problem', ideate: 'idea', design: 'refinement', diffuse: 'pledge' };
const CHILD_KINDS = { problem: ['idea'], idea: ['refinement', 'pledge'] };
const RECORD_ACTIONS = new Set(['started', 'phase_set', 'phase_ended', 'paused', 'resumed', 'extended']);

const m = /^#(\d[\d\s-]*)$/.exec(decodeURIComponent(location.hash || ''));
const code = m ? m[1].replace(/[\s-]/g, '') : null;
let res = null;

function status(text, final) {
  const el = $('#res-status');
  setText(el, text);
  if (final === undefined) delete el.dataset.final;
  else el.dataset.final = final ? 'true' : 'false';
}

function countText(kind, n) {
  const base = { idea: 'res_ideas', refinement: 'res_refinements', pledge: 'res_pledges' }[kind];
  return plural(base, n);
}

function utc(ms) {
  return utcText(ms);
}

function actionText(a) {
  const s = t('act_' + a);
  return s === 'act_' + a ? a : s;
}

// "Ana · 3 votes · explore: 1, ideate: 2 · 2 pledges"
function itemMeta(it, children) {
  const parts = [it.author || t('anonymous'), votesText(it.votes || 0)];
  const by = Object.entries(it.votes_by_phase || {});
  if (by.length > 1) parts.push(by.map(([p, n]) => t('res_votes_by_phase', { phase: phaseName(p), n })).join(', '));
  for (const [kind, kids] of children) if (kids.length) parts.push(countText(kind, kids.length));
  return parts.join(' · ');
}

function byParent(items) {
  const out = new Map();
  for (const it of items) {
    if (!it.parent) continue;
    if (!out.has(it.parent)) out.set(it.parent, []);
    out.get(it.parent).push(it);
  }
  for (const list of out.values()) list.sort((a, b) => a.rank - b.rank);
  return out;
}

function renderItem(it, items, kids) {
  const children = (CHILD_KINDS[it.kind] || []).map((k) => [k, (kids.get(it.id) || []).filter((c) => c.kind === k)]);
  const parent = it.parent ? items.get(it.parent) : null;
  const li = h('li', { dataset: { id: String(it.id), kind: it.kind } },
    h('div', { class: 'res-text', dir: 'auto', text: it.text }),
    h('div', { class: 'res-meta', text: itemMeta(it, children) }),
    parent ? h('div', { class: 'res-meta', text: t('builds_on', { text: parent.text }) }) : null);
  // Its duplicates (a moderator merged them: their voters count once in its votes).
  const dups = res.items.filter((d) => d.merged_into === it.id);
  if (dups.length) {
    li.append(h('ul', { class: 'res-merged' }, dups.map((d) => h('li', { dataset: { id: String(d.id) } },
      h('span', { class: 'res-text', dir: 'auto', text: d.text }),
      h('div', { class: 'res-meta', text: `${t('res_item_n', { id: d.id })} · ${t('merged_into', { n: it.id })}` })))));
  }
  const all = children.flatMap(([, list]) => list);
  if (all.length) {
    li.append(h('ul', { class: 'res-kids', 'aria-label': t('res_under') },
      all.map((c) => h('li', { dataset: { id: String(c.id), kind: c.kind } },
        h('span', { class: 'res-kid-kind', text: t('kind_' + c.kind) }),
        h('span', { class: 'res-text', dir: 'auto', text: c.text }),
        h('div', { class: 'res-meta', text: itemMeta(c, []) })))));
  }
  return li;
}

function renderRanking() {
  const items = new Map(res.items.map((it) => [it.id, it]));
  const kids = byParent(res.items);
  const seen = new Set();
  const sections = [];
  res.jam.agenda.forEach((step, i) => {
    const kind = PHASE_KIND[step.phase];
    if (!kind || seen.has(kind)) return;
    seen.add(kind);
    const ranking = res.order === 'fair' && res.fair_ranking ? res.fair_ranking : res.ranking; // the jam's order
    const ids = (ranking && ranking[kind]) || [];
    const id = 'res-phase-' + i;
    sections.push(h('section', { class: 'res-phase', dataset: { kind }, 'aria-labelledby': id },
      h('h3', { id, text: `${t('phase_of', { i: i + 1, n: res.jam.agenda.length })}: ${phaseName(step.phase)} — ${t('kinds_' + kind)} (${ids.length})` }),
      ids.length ? h('ol', { class: 'res-list' }, ids.map((x) => items.get(x)).filter(Boolean).map((it) => renderItem(it, items, kids)))
        : h('p', { class: 'muted', text: t('res_none') })));
  });
  replaceChildren($('#res-phases'), sections);
}

function detailText(e, items) {
  if (e.action === 'merged') return t('log_merged', { items: (e.items || []).join(', '), into: e.into });
  if (e.item !== undefined) {
    const it = items.get(e.item);
    return t('res_item_n', { id: e.item }) + (it ? ': ' + it.text : '');
  }
  if (e.action === 'removed') return t('res_participant_n', { pid: e.pid }) + (e.hide_posts ? ' ' + t('res_hidden_posts') : '');
  if (e.action === 'extended') return t('res_seconds', { n: e.seconds });
  if (e.phase) return phaseName(e.phase);
  return '';
}

function renderRecord() {
  const s = res.stats;
  const stats = [['participants', 'res_participants'], ['contributors', 'res_contributors'], ['voters', 'res_voters'],
    ['items', 'res_items'], ['votes', 'res_votes']];
  replaceChildren($('#res-stats'), stats.map(([k, label]) => h('div', { dataset: { stat: k } },
    h('dd', { text: String(s[k] ?? 0) }), h('dt', { text: t(label) }))));
  const planned = res.jam.agenda.map((a) => `${phaseName(a.phase)} ${a.duration_s ? Math.round(a.duration_s / 60) + ' min' : '–'}`);
  setText($('#res-planned'), t('res_agenda_planned', { steps: planned.join(' · ') }));
  const first = res.jam.agenda[0] ? res.jam.agenda[0].phase : null;
  replaceChildren($('#res-agenda'), res.moderation.filter((e) => RECORD_ACTIONS.has(e.action)).map((e) => {
    const what = e.action === 'started' && first ? phaseName(first) : e.action === 'extended' ? t('res_seconds', { n: e.seconds }) : e.phase ? phaseName(e.phase) : '';
    return h('li', { dataset: { action: e.action } }, h('time', { datetime: new Date(e.at).toISOString(), text: utc(e.at) }),
      ` — ${actionText(e.action)}${what ? ' (' + what + ')' : ''}`);
  }));
  const items = new Map(res.items.map((it) => [it.id, it]));
  show($('#res-modlog-empty'), res.moderation.length === 0);
  show($('#res-modlog'), res.moderation.length > 0);
  replaceChildren($('#res-modlog tbody'), res.moderation.map((e) => h('tr', { dataset: { action: e.action } },
    h('td', {}, h('time', { datetime: new Date(e.at).toISOString(), text: utc(e.at) })),
    h('td', { text: actionText(e.action) }),
    h('td', { text: detailText(e, items) }),
    h('td', { text: e.reason || '' }),
    h('td', { text: e.by === 'clock' ? t('res_clock') : (e.moderator || t('moderator_badge')) }),
    h('td', {}, h('code', { title: e.chain, text: e.chain.slice(0, 16) })))));
  setText($('#res-chain-text'), t('res_chain_text', { events: res.chain.events, id: res.chain.event_id }));
  setText($('#res-chain'), res.chain.head);
}

function render() {
  document.title = `${res.jam.title} · ${t('res_title')} · cojam`;
  setText($('#res-jam-title'), res.jam.title);
  setText($('#res-question'), res.jam.question);
  status(res.final ? t('res_final') : t('res_provisional'), res.final);
  renderRanking();
  renderRecord();
  show($('#res-secret-row'), !res.exports_public);
  for (const id of ['#res-head', '#res-ranking', '#res-record', '#res-exports']) show($(id), true);
  $('#res').setAttribute('aria-busy', 'false');
}

async function load() {
  try {
    const r = await fetch(`/api/jams/${encodeURIComponent(code)}/results`, { headers: { Accept: 'application/json' } });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.error && body.error.code) || String(r.status));
    res = body;
    render();
    if (!res.final) setTimeout(load, REFRESH_MS);
  } catch (e) {
    if (!res) status(t('res_load_failed', { code: errorText(e.message) }));
    setTimeout(load, REFRESH_MS);
  }
}

async function download(path, name) {
  const err = $('#res-export-error');
  show(err, false);
  const secret = $('#res-secret').value.trim();
  const headers = secret && !res.exports_public ? { Authorization: 'Bearer ' + secret } : {};
  try {
    await downloadFrom(`/api/jams/${encodeURIComponent(code)}${path}`, name, headers);
  } catch (e) {
    setText(err, t('res_export_failed', { code: errorText(e.message) }));
    show(err, true);
  }
}

if (!code) {
  status(t('res_bad_link'));
} else {
  $('#res-json').addEventListener('click', () => download('/export', `cojam-${code}.json`));
  $('#res-csv').addEventListener('click', () => download('/export.csv', `cojam-${code}.csv`));
  $('#res-print').addEventListener('click', () => window.print());
  load();
}
