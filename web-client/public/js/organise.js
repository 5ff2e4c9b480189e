// Organiser page: create a jam with the admin token (POST /api/jams) and show the three links as
// absolute URLs, with the participant QR code.

import { t, errorText, phaseName, applyLanguage } from './strings.js';
import { h, $, setText, applyStrings, show } from './dom.js';
import { PHASES } from './jamstate.js';
import { drawQR } from './qr.js';

applyStrings(t);
applyLanguage();

const DEFAULT_MIN = { explore: 10, ideate: 15, design: 10, diffuse: 5, results: 0 };
const TOKEN_KEY = 'cojam.admintoken';

const phasesBox = $('#org-phases');
for (const p of PHASES) {
  const cb = h('input', { type: 'checkbox', id: `use-${p}`, checked: true, 'aria-label': t('org_use_phase', { phase: phaseName(p) }) });
  const dur = h('input', { type: 'number', id: `dur-${p}`, min: '0', max: '1440', step: '1', value: String(DEFAULT_MIN[p]),
    'aria-label': t('org_duration', { phase: phaseName(p) }) });
  cb.addEventListener('change', () => { dur.disabled = !cb.checked; });
  phasesBox.append(h('div', { class: 'phase-row' },
    h('label', { class: 'check', for: `use-${p}` }, cb, h('span', { text: phaseName(p) })), dur));
}

const tokenInput = $('#org-token');
try { tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { /* ignore */ }

function intOf(id, dflt) {
  const v = Number($(id).value);
  return Number.isFinite(v) ? Math.round(v) : dflt;
}

$('#org-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('#org-error');
  setText(err, '');
  const token = tokenInput.value.trim();
  const title = $('#org-jam-title').value.trim();
  const question = $('#org-question').value.trim();
  if (!token) { setText(err, t('org_token')); tokenInput.focus(); return; }
  if (!title) { setText(err, t('org_jam_title')); $('#org-jam-title').focus(); return; }
  if (!question) { setText(err, t('org_question')); $('#org-question').focus(); return; }
  const agenda = [];
  for (const p of PHASES) {
    if (!$(`#use-${p}`).checked) continue;
    agenda.push({ phase: p, duration_s: Math.max(0, Math.min(86400, intOf(`#dur-${p}`, 0) * 60)) });
  }
  if (!agenda.length) { setText(err, t('org_no_phase')); return; }
  const body = {
    title, question, agenda,
    settings: {
      anonymous_allowed: $('#org-anon').checked,
      votes_per_phase: intOf('#org-votes', 5),
      min_text: intOf('#org-min', 2),
      max_text: intOf('#org-max', 500),
    },
  };
  const btn = $('#org-create');
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  setText(btn, t('org_creating'));
  try {
    const r = await fetch('/api/jams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
    let j = null;
    try { j = await r.json(); } catch { j = null; }
    if (r.status === 401 || r.status === 403) { setText(err, t('org_err_401')); return; }
    if (!r.ok || !j || !j.code) {
      const e = j && j.error ? (j.error.message || errorText(j.error.code)) : `HTTP ${r.status}`;
      setText(err, t('org_err_generic', { msg: e }));
      return;
    }
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* ignore */ }
    showResult(j);
  } catch (e) {
    setText(err, t('org_err_generic', { msg: errorText('network') }));
  } finally {
    btn.disabled = false;
    btn.setAttribute('aria-busy', 'false');
    setText(btn, t('org_create'));
  }
});

// Links as absolute URLs: the server's if absolute, else built from this page's origin.
function absolute(link, fallbackPath) {
  try { return new URL(link || fallbackPath, location.origin).href; } catch { return new URL(fallbackPath, location.origin).href; }
}

function showResult(j) {
  const links = {
    join: absolute(j.links && j.links.join, `/#${j.code}`),
    moderate: absolute(j.links && j.links.moderate, `/moderate.html#${j.code}.${j.moderator_secret}`),
    screen: absolute(j.links && j.links.screen, `/screen.html#${j.code}`),
  };
  setText($('#org-result-h'), t('org_created', { code: j.code }));
  const box = $('#org-links');
  box.textContent = '';
  for (const [k, label] of [['join', 'org_link_join'], ['moderate', 'org_link_moderate'], ['screen', 'org_link_screen']]) {
    const url = links[k];
    const copyBtn = h('button', { type: 'button', text: t('copy'), 'aria-label': `${t('copy')}: ${t(label)}` });
    copyBtn.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(url); setText(copyBtn, t('copied')); } catch { /* no clipboard */ }
      setTimeout(() => setText(copyBtn, t('copy')), 1500);
    });
    box.append(h('div', { class: 'link-row' + (k === 'moderate' ? ' secret' : ''), dataset: { link: k } },
      h('p', { class: 'link-label', text: t(label) }),
      h('div', { class: 'link-box' },
        h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: url, id: `link-${k}` }),
        copyBtn)));
  }
  drawQR($('#org-qr'), links.join, 220);
  $('#org-qr').setAttribute('aria-label', t('org_participant_qr'));
  const res = $('#org-result');
  show(res, true);
  res.focus();
  res.scrollIntoView({ block: 'start' });
}
