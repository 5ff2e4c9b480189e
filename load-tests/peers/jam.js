'use strict';
// The jam both peers keep in memory: the subset of cojam's protocol (proto/messages.md) that the
// loadgen's jam-vote scenario speaks.  POST /api/jams creates a jam; a moderator joins with its
// secret, starts it and posts ideas; citizens join and vote / unvote; every write is acknowledged
// with an event id "<ms>-<seq>" (wall-clock ms, like a Redis stream id) and its effect goes to every
// client of the jam in an `update` naming prev/from/to.  Nothing is persisted: the state lives in
// this process only.
//
// TICK_MS (environment, default 0): 0 sends one update per write, right after its ack (what the
// straightforward server does); N > 0 coalesces the writes of N ms into one update, as cojam does.

const crypto = require('crypto');

const TICK_MS = Number(process.env.TICK_MS || 0);
const RANK_TOP = 20;

const jams = new Map(); // code -> jam

let lastMs = 0, lastSeq = 0;
function nextEventId() {
  const ms = Date.now();
  if (ms > lastMs) { lastMs = ms; lastSeq = 0; } else lastSeq++;
  return `${lastMs}-${lastSeq}`;
}

function createJam(body) {
  let code;
  do code = String(crypto.randomInt(0, 1000000)).padStart(6, '0'); while (jams.has(code));
  const jam = {
    code,
    secret: crypto.randomBytes(16).toString('hex'),
    title: String(body.title || ''),
    question: String(body.question || ''),
    running: false,
    items: new Map(),  // id -> {id, kind, text, votes}
    nextItem: 1,
    nextParticipant: 1,
    lastEvent: nextEventId(), // jam_created
    totalVotes: 0,
    members: new Set(), // transport handles, joined
    ranking: [],
    pending: null,      // the changes not broadcast yet: {prev, from, to, votes: Map, items: []}
    timer: null,
  };
  jams.set(code, jam);
  return jam;
}

function topIdeas(jam) {
  const ideas = [...jam.items.values()].filter((i) => i.kind === 'idea');
  ideas.sort((a, b) => b.votes - a.votes || a.id - b.id);
  return ideas.slice(0, RANK_TOP).map((i) => i.id);
}

function sameList(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function snapshot(jam, p) {
  return {
    type: 'snapshot',
    event_id: jam.lastEvent,
    resync: false,
    jam: { code: jam.code, title: jam.title, question: jam.question },
    items: [...jam.items.values()],
    ranking: { idea: jam.ranking },
    stats: { online: jam.members.size, items: jam.items.size, votes: jam.totalVotes },
    you: p && { id: p.id, role: p.role, nickname: p.nickname, votes: [...p.votes], budget_left: null },
  };
}

// One stored change: its event id, recorded in the pending update.
function record(jam, change) {
  const id = nextEventId();
  if (!jam.pending) jam.pending = { prev: jam.lastEvent, from: id, to: id, votes: new Map(), items: [] };
  jam.pending.to = id;
  jam.lastEvent = id;
  change(jam.pending);
  return id;
}

function flush(jam, broadcast) {
  jam.timer = null;
  const u = jam.pending;
  if (!u) return;
  jam.pending = null;
  const msg = { type: 'update', prev: u.prev, from: u.from, to: u.to };
  if (u.items.length) msg.items = u.items;
  if (u.votes.size) msg.votes = Object.fromEntries(u.votes);
  const top = topIdeas(jam);
  if (!sameList(top, jam.ranking)) {
    jam.ranking = top;
    msg.ranking = { idea: top };
  }
  msg.stats = { votes: jam.totalVotes, items: jam.items.size };
  broadcast(jam, msg);
}

function changed(jam, broadcast) {
  if (TICK_MS <= 0) flush(jam, broadcast);
  else if (!jam.timer) jam.timer = setTimeout(flush, TICK_MS, jam, broadcast);
}

const err = (op, code) => ({ type: 'error', ...(op !== undefined && { op }), code, retryable: false });

// Handles one client message for session s ({jam, p}); send(msg) answers this client,
// join(jam) / leave() add it to / remove it from the jam's broadcast, broadcast(jam, msg) reaches
// every member.  Returns nothing; every answer goes through send.
function handle(s, m, io) {
  if (!m || typeof m.type !== 'string') return io.send(err(undefined, 'bad_message'));
  if (m.type === 'ping') return io.send({ type: 'pong' });
  if (m.type === 'join') {
    if (s.jam) return io.send(err(m.op, 'already_joined'));
    const jam = jams.get(String(m.code));
    if (!jam) return io.send(err(m.op, 'no_such_jam'));
    const role = m.as === 'moderator' ? 'moderator' : 'citizen';
    if (role === 'moderator' && m.secret !== jam.secret) return io.send(err(m.op, 'bad_secret'));
    s.jam = jam;
    s.p = { id: jam.nextParticipant++, role, nickname: String(m.nickname || ''), votes: new Set(), ops: new Map() };
    io.join(jam);
    io.send({ type: 'welcome', you: { id: s.p.id, role, nickname: s.p.nickname }, resumed: false });
    return io.send(snapshot(jam, s.p));
  }
  const jam = s.jam, p = s.p;
  if (!jam) return io.send(err(m.op, 'not_joined'));
  if (m.type === 'sync') return io.send({ ...snapshot(jam, p), resync: true });
  if (typeof m.op !== 'string') return io.send(err(undefined, 'bad_op'));
  const again = p.ops.get(m.op);
  if (again) return io.send(again);
  let ack;
  if (m.type === 'start') {
    if (p.role !== 'moderator') return io.send(err(m.op, 'forbidden'));
    if (jam.running) return io.send(err(m.op, 'already_started'));
    jam.running = true;
    ack = { type: 'ack', op: m.op, event_id: record(jam, () => {}) };
  } else if (m.type === 'post') {
    if (!jam.running) return io.send(err(m.op, 'not_running'));
    const text = String(m.text || '');
    if (text.length < 2 || text.length > 500) return io.send(err(m.op, 'too_long'));
    const item = { id: jam.nextItem++, kind: m.kind === 'idea' ? 'idea' : String(m.kind), text, votes: 0 };
    jam.items.set(item.id, item);
    ack = { type: 'ack', op: m.op, event_id: record(jam, (u) => u.items.push(item)), item: item.id };
  } else if (m.type === 'vote' || m.type === 'unvote') {
    if (!jam.running) return io.send(err(m.op, 'not_running'));
    const item = jam.items.get(m.item);
    if (!item) return io.send(err(m.op, 'no_such_item'));
    const up = m.type === 'vote';
    if (up === p.votes.has(item.id)) return io.send(err(m.op, up ? 'already_voted' : 'not_voted'));
    if (up) p.votes.add(item.id); else p.votes.delete(item.id);
    item.votes += up ? 1 : -1;
    jam.totalVotes += up ? 1 : -1;
    ack = { type: 'ack', op: m.op, event_id: record(jam, (u) => u.votes.set(item.id, item.votes)), budget_left: null };
  } else {
    return io.send(err(m.op, 'unknown_type'));
  }
  p.ops.set(m.op, ack);
  io.send(ack);
  changed(jam, io.broadcast);
}

// POST /api/jams with the admin token (ADMIN_TOKEN in the environment); everything else 404.
function httpHandler(adminToken) {
  return (req, res) => {
    const reply = (status, obj) => {
      const body = JSON.stringify(obj);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/healthz') return reply(200, { status: 'ready', jams: jams.size });
    if (req.method !== 'POST' || req.url !== '/api/jams') return reply(404, { error: { code: 'not_found' } });
    if (req.headers.authorization !== `Bearer ${adminToken}`) return reply(401, { error: { code: 'unauthorized' } });
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return reply(400, { error: { code: 'bad_json' } }); }
      const jam = createJam(body || {});
      reply(201, { code: jam.code, moderator_secret: jam.secret });
    });
  };
}

// LISTEN "host:port" from the environment or argv[2]
function listenAddress() {
  const a = process.argv[2] || process.env.LISTEN || '127.0.0.1:8090';
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
}

module.exports = { handle, httpHandler, listenAddress, TICK_MS };
