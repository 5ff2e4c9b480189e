// A throwaway stand-in for cojamd, written from proto/messages.md, to try the pages while the real
// server is being written. NOT used by the browser tests (they run against the real cojamd).
// Usage: node mock-server.mjs [port]   (admin token: test-admin)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '../public');
const port = Number(process.argv[2] || 8099);
const jams = new Map();
let ms = Date.now();
const nextId = () => `${++ms}-0`;
const KIND_ROLE = { problem: 'explorer', idea: 'ideator', refinement: 'designer', pledge: 'diffuser' };
const RULES = { explore: ['problem', null, ['problem']], ideate: ['idea', 'problem', ['idea']], design: ['refinement', 'idea', ['idea', 'refinement']], diffuse: ['pledge', 'idea', ['idea']], results: [null, null, []] };

function newJam(body) {
  const code = String(100000 + Math.floor(Math.random() * 900000));
  const jam = { code, title: body.title, question: body.question, agenda: body.agenda,
    settings: { anonymous_allowed: true, votes_per_phase: 5, min_text: 2, max_text: 500, ...(body.settings || {}) },
    secret: crypto.randomBytes(8).toString('hex'), clock: { state: 'lobby', phase: null, index: -1, remaining_ms: null, duration_ms: null },
    deadline: null, items: [], participants: new Map(), clients: new Set(), last: nextId(), pendingPrev: null, dirty: {}, ops: new Map() };
  jams.set(code, jam);
  setInterval(() => tick(jam), 50);
  return jam;
}
function clockNow(j) {
  const c = { ...j.clock };
  if (c.state === 'running' && j.deadline) c.remaining_ms = Math.max(0, j.deadline - Date.now());
  return c;
}
function stats(j) {
  const citizen = (pid) => j.participants.get(pid).role === 'citizen';
  return { participants: [...j.participants.keys()].filter(citizen).length,
    online: [...j.clients].filter((c) => c.pid && citizen(c.pid)).length, items: j.items.length,
    votes: j.items.reduce((a, i) => a + i.votes, 0) };
}
function ranking(j, kind) {
  return j.items.filter((i) => i.kind === kind && !i.hidden).sort((a, b) => b.votes - a.votes || a.id - b.id).slice(0, 20).map((i) => i.id);
}
function pubItem(it, role) {
  const { voters, ...rest } = it;
  if (it.hidden && role !== 'moderator') return { id: it.id, hidden: true };
  return rest;
}
function snapshot(j, c) {
  const s = { type: 'snapshot', event_id: j.last, resync: false,
    jam: { code: j.code, title: j.title, question: j.question, agenda: j.agenda, settings: j.settings },
    clock: clockNow(j), items: j.items.map((i) => pubItem(i, c.role)),
    ranking: Object.fromEntries(Object.keys(KIND_ROLE).map((k) => [k, ranking(j, k)])), stats: stats(j) };
  if (c.pid) {
    const p = j.participants.get(c.pid);
    s.you = { id: c.pid, role: p.role, nickname: p.nickname, votes: j.items.filter((i) => i.voters.has(c.pid)).map((i) => i.id),
      budget_left: budget(j, p), items: j.items.filter((i) => i.author_pid === c.pid).map((i) => i.id) };
  }
  return s;
}
function budget(j, p) {
  const per = j.settings.votes_per_phase;
  if (!per) return null;
  return per - (p.spent[j.clock.index] || 0);
}
function event(j) { const prev = j.last; j.last = nextId(); if (!j.pendingPrev) { j.pendingPrev = prev; j.from = j.last; } return j.last; }
function setDeadline(j) {
  const a = j.agenda[j.clock.index];
  j.clock.duration_ms = a.duration_s ? a.duration_s * 1000 : null;
  j.clock.remaining_ms = j.clock.duration_ms;
  j.deadline = a.duration_s ? Date.now() + a.duration_s * 1000 : null;
}
function tick(j) {
  if (j.clock.state === 'running' && j.deadline && Date.now() >= j.deadline) {
    event(j);
    if (j.clock.index + 1 < j.agenda.length) { j.clock.index++; j.clock.phase = j.agenda[j.clock.index].phase; setDeadline(j); }
    else { j.clock = { state: 'ended', phase: null, index: j.agenda.length, remaining_ms: null, duration_ms: null }; j.deadline = null; }
    j.dirty.clock = true;
  }
  const d = j.dirty;
  if (!j.pendingPrev && !Object.keys(d).length) return;
  const u = { type: 'update', prev: j.pendingPrev || j.last, from: j.from || j.last, to: j.last };
  const st = stats(j);
  if (JSON.stringify(st) !== JSON.stringify(j.lastStats)) { u.stats = st; j.lastStats = st; }
  if (d.clock) u.clock = clockNow(j);
  if (d.votes) u.votes = Object.fromEntries([...d.votes].map((id) => [id, j.items[id - 1].votes]));
  if (d.ranking) u.ranking = Object.fromEntries([...d.ranking].map((k) => [k, ranking(j, k)]));
  for (const c of j.clients) {
    if (!c.ready) continue;
    const uu = { ...u };
    if (d.items) uu.items = [...d.items].map((id) => pubItem(j.items[id - 1], c.role));
    c.ws.send(JSON.stringify(uu));
  }
  j.pendingPrev = null; j.from = null; j.dirty = {};
}
function mark(j, key, v) { if (!j.dirty[key]) j.dirty[key] = new Set(); j.dirty[key].add(v); }

function handle(c, msg) {
  const send = (o) => c.ws.send(JSON.stringify(o));
  const err = (code, op) => send({ type: 'error', ...(op ? { op } : {}), code, message: code, retryable: false });
  if (msg.type === 'ping') return send({ type: 'pong', ...(msg.t !== undefined ? { t: msg.t } : {}) });
  if (msg.type === 'join') {
    if (c.jam) return err('already_joined');
    let j, pid = 0, role;
    if (msg.token) {
      const [code, p, r] = Buffer.from(msg.token, 'base64url').toString().split('|').slice(1);
      j = jams.get(code);
      if (!j || (r !== 'screen' && !j.participants.has(Number(p)))) return err('bad_token');
      pid = Number(p); role = r;
    } else {
      j = jams.get(String(msg.code || '').replace(/[\s-]/g, ''));
      if (!j) return err('no_such_jam');
      role = msg.as;
      if (role === 'moderator' && msg.secret !== j.secret) return err('bad_secret');
      if (role !== 'screen') {
        if (msg.anonymous && !j.settings.anonymous_allowed) return err('anonymous_not_allowed');
        pid = j.participants.size + 1;
        j.participants.set(pid, { role, nickname: msg.anonymous ? null : msg.nickname || null, spent: {} });
        event(j);
      }
    }
    c.jam = j; c.pid = pid; c.role = role; j.clients.add(c);
    const token = Buffer.from(`v1|${j.code}|${pid}|${role}|${Math.floor(Date.now() / 1000) + 86400}`).toString('base64url') + '.sig';
    send({ type: 'welcome', token, you: { id: pid, role, nickname: pid ? j.participants.get(pid).nickname : null } });
    send(snapshot(j, c)); c.ready = true;
    return;
  }
  const j = c.jam;
  if (!j) return err('not_joined');
  if (msg.type === 'sync') return send({ ...snapshot(j, c), resync: true });
  if (c.role === 'screen') return err('forbidden', msg.op);
  const key = c.pid + ':' + msg.op;
  if (j.ops.has(key)) return send(j.ops.get(key));
  const ack = (extra) => { const a = { type: 'ack', op: msg.op, event_id: event(j), ...extra }; j.ops.set(key, a); send(a); };
  const p = j.participants.get(c.pid);
  const modOnly = ['start', 'set_phase', 'pause', 'resume', 'extend', 'hide', 'unhide'];
  if (modOnly.includes(msg.type) && c.role !== 'moderator') return err('forbidden', msg.op);
  const item = msg.item ? j.items[msg.item - 1] : null;
  switch (msg.type) {
    case 'start':
      if (j.clock.state !== 'lobby') return err('already_started', msg.op);
      j.clock = { state: 'running', phase: j.agenda[0].phase, index: 0 }; setDeadline(j); j.dirty.clock = true; return ack();
    case 'set_phase': {
      const i = j.agenda.findIndex((a) => a.phase === msg.phase);
      if (i < 0) return err('bad_phase', msg.op);
      j.clock = { state: 'running', phase: msg.phase, index: i }; setDeadline(j); j.dirty.clock = true; return ack();
    }
    case 'pause':
      if (j.clock.state !== 'running') return err('not_running', msg.op);
      j.clock = clockNow(j); j.clock.state = 'paused'; j.deadline = null; j.dirty.clock = true; return ack();
    case 'resume':
      if (j.clock.state !== 'paused') return err('not_paused', msg.op);
      j.clock.state = 'running'; j.deadline = j.clock.remaining_ms !== null ? Date.now() + j.clock.remaining_ms : null; j.dirty.clock = true; return ack();
    case 'extend':
      if (j.clock.remaining_ms === null || !['running', 'paused'].includes(j.clock.state)) return err('not_running', msg.op);
      if (j.deadline) j.deadline += msg.seconds * 1000; else j.clock.remaining_ms += msg.seconds * 1000;
      j.clock.duration_ms += msg.seconds * 1000; j.dirty.clock = true; return ack();
    case 'hide': case 'unhide':
      if (!item) return err('no_such_item', msg.op);
      if (msg.type === 'hide' && item.hidden) return err('item_hidden', msg.op);
      if (msg.type === 'unhide' && !item.hidden) return err('not_hidden', msg.op);
      item.hidden = msg.type === 'hide'; mark(j, 'items', item.id); mark(j, 'ranking', item.kind); return ack();
    case 'post': {
      if (j.clock.state !== 'running') return err('not_running', msg.op);
      const [k, pk] = RULES[j.clock.phase];
      if (msg.kind !== k) return err('wrong_phase', msg.op);
      const n = Array.from(msg.text || '').length;
      if (n < j.settings.min_text) return err('too_short', msg.op);
      if (n > j.settings.max_text) return err('too_long', msg.op);
      if (msg.parent) { const par = j.items[msg.parent - 1]; if (!par || par.kind !== pk || par.hidden) return err('bad_parent', msg.op); }
      else if (k === 'refinement' || k === 'pledge') return err('bad_parent', msg.op);
      const it = { id: j.items.length + 1, kind: k, role: KIND_ROLE[k], text: msg.text, parent: msg.parent || null,
        author: p.nickname, by: c.role, votes: 0, hidden: false, phase: j.clock.phase, voters: new Set(), author_pid: c.pid };
      Object.defineProperty(it, 'author_pid', { enumerable: false });
      Object.defineProperty(it, 'voters', { enumerable: false });
      j.items.push(it); mark(j, 'items', it.id); mark(j, 'ranking', k); return ack({ item: it.id });
    }
    case 'vote': case 'unvote': {
      if (j.clock.state !== 'running') return err('not_running', msg.op);
      if (!item) return err('no_such_item', msg.op);
      if (!RULES[j.clock.phase][2].includes(item.kind)) return err('wrong_phase', msg.op);
      if (item.hidden) return err('item_hidden', msg.op);
      if (msg.type === 'vote') {
        if (item.voters.has(c.pid)) return err('already_voted', msg.op);
        if (budget(j, p) === 0) return err('budget_exhausted', msg.op);
        item.voters.add(c.pid); item.votes++; p.spent[j.clock.index] = (p.spent[j.clock.index] || 0) + 1;
      } else {
        if (!item.voters.has(c.pid)) return err('not_voted', msg.op);
        item.voters.delete(c.pid); item.votes--; p.spent[j.clock.index] = (p.spent[j.clock.index] || 0) - 1;
      }
      mark(j, 'votes', item.id); mark(j, 'ranking', item.kind); return ack({ budget_left: budget(j, p) });
    }
    default: return err('unknown_type', msg.op);
  }
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST' && url.pathname === '/api/jams') {
    if (req.headers.authorization !== 'Bearer test-admin') { res.writeHead(401); return res.end('{"error":{"code":"unauthorized","message":"no"}}'); }
    let b = ''; req.on('data', (d) => { b += d; });
    req.on('end', () => {
      const j = newJam(JSON.parse(b));
      const base = `http://${req.headers.host}`;
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: j.code, moderator_secret: j.secret, links: { join: `${base}/#${j.code}`, moderate: `${base}/moderate.html#${j.code}.${j.secret}`, screen: `${base}/screen.html#${j.code}` } }));
    });
    return;
  }
  const m = /^\/api\/jams\/(\d+)$/.exec(url.pathname);
  if (m) {
    const j = jams.get(m[1]);
    if (!j) { res.writeHead(404); return res.end('{}'); }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ code: j.code, title: j.title, question: j.question, agenda: j.agenda, settings: j.settings,
      join_url: `http://${req.headers.host}/#${j.code}`, clock: clockNow(j), stats: stats(j), event_id: j.last }));
  }
  let f = path.normalize(path.join(root, url.pathname === '/' ? 'index.html' : url.pathname));
  if (!f.startsWith(root) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) { res.writeHead(404); return res.end('not found'); }
  res.writeHead(200, { 'Content-Type': types[path.extname(f)] || 'application/octet-stream',
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" });
  fs.createReadStream(f).pipe(res);
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  const c = { ws };
  ws.on('message', (d) => { let m; try { m = JSON.parse(d); } catch { return; } handle(c, m); });
  ws.on('close', () => { if (c.jam) { c.jam.clients.delete(c); } });
});
server.listen(port, '127.0.0.1', () => console.log(`mock cojamd on http://127.0.0.1:${port}`));
