// Unit tests of the web client's protocol state (public/js/jamstate.js) and of the gap handling
// in public/js/conn.js, under Node's own runner (Node 18+: node:test, node:assert).
// Run: node --test --test-reporter=tap jamstate.test.mjs      (run.sh does, and counts it)
// The messages come from proto/examples/ where one fits, so client and protocol cannot drift.
// PHASE_RULES, KINDS, PHASES and ROLE_OF_KIND are compared with what room.c enforces, printed by
// the unit-test binary test_room_rules --json (built by `make -C server FLAVOUR=debug unit-bins`;
// that binary in turn checks room.c against the table of proto/messages.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { webcrypto } from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const example = (name) => JSON.parse(fs.readFileSync(path.join(repo, 'proto/examples', name + '.json'), 'utf8'));
const copy = (o) => JSON.parse(JSON.stringify(o));

// The page modules are plain .js files under no package.json: Node 18 would read them as CommonJS.
// Load copies from a scratch directory whose package.json says "module" (relative imports work).
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cojam-jamstate-'));
for (const f of ['jamstate.js', 'conn.js']) fs.copyFileSync(path.join(repo, 'web-client/public/js', f), path.join(scratch, f));
fs.writeFileSync(path.join(scratch, 'package.json'), '{"type":"module"}\n');
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

// What conn.js needs from a browser, and Node 18 lacks without flags.
globalThis.crypto ??= webcrypto;
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, o = {}) { super(type); this.detail = o.detail ?? null; }
};
globalThis.WebSocket ??= { OPEN: 1 };

const { JamState, compareIds, fairScore, PHASE_RULES, KINDS, PHASES, ROLE_OF_KIND } = await import(pathToFileURL(path.join(scratch, 'jamstate.js')).href);
const { Connection } = await import(pathToFileURL(path.join(scratch, 'conn.js')).href);

// A Connection on a fake open socket: what it sends lands in conn.sent.
function connection(state = new JamState()) {
  const conn = new Connection({ join: { code: '482913', as: 'citizen' }, state });
  conn.sent = [];
  conn.ws = { readyState: 1, send: (s) => conn.sent.push(JSON.parse(s)), close() {} };
  conn.joined = true;
  conn.events = [];
  for (const type of ['gap', 'update', 'snapshot']) conn.on(type, (d) => conn.events.push(type));
  return conn;
}

function snapshotState(s = example('server-snapshot')) {
  const st = new JamState();
  st.applySnapshot(s);
  return st;
}

// An update after event `prev` covering `from`..`to` (to defaults to from).
function update(prev, from, fields = {}, to = from) {
  return { type: 'update', prev, from, to, ...fields };
}

function item(id, kind, votes, extra = {}) {
  return { id, kind, role: ROLE_OF_KIND[kind], text: `${kind} ${id}`, parent: null, author: null, by: 'citizen', votes, hidden: false, phase: 'explore', ...extra };
}

// ---- phase rules: one source, the server ----------------------------------------------------

function serverRules() {
  const dir = process.env.COJAMD ? path.dirname(process.env.COJAMD) : path.join(repo, 'build/debug');
  const bin = path.join(dir, 'tests/test_room_rules');
  assert.ok(fs.existsSync(bin), `${bin} is missing: build it with make -C server FLAVOUR=debug unit-bins`);
  return JSON.parse(execFileSync(bin, ['--json'], { encoding: 'utf8' }));
}

test('PHASE_RULES, KINDS, PHASES and ROLE_OF_KIND are what room.c enforces', () => {
  const server = serverRules();
  assert.deepEqual(KINDS, server.kinds);
  assert.deepEqual(PHASES, server.phases);
  assert.deepEqual(ROLE_OF_KIND, server.roles);
  assert.deepEqual(PHASE_RULES, server.rules);
});

test('rules follow the clock: nothing outside a phase, writes only while running', () => {
  const st = new JamState();
  assert.equal(st.clockState, 'lobby');
  assert.equal(st.phase, null);
  assert.deepEqual(st.rules, { post: null, parent: null, parentRequired: false, vote: [] });
  assert.equal(st.canWrite, false);
  st.applySnapshot({ ...example('server-snapshot'), clock: { state: 'lobby', phase: null, index: -1, remaining_ms: null, duration_ms: null } });
  assert.equal(st.clockState, 'lobby');
  assert.deepEqual(st.rules.vote, []);
  for (const phase of PHASES) {
    for (const state of ['running', 'paused', 'ended']) {
      st.applyUpdate(update(st.lastEventId, st.lastEventId, { clock: { state, phase, index: PHASES.indexOf(phase), remaining_ms: null, duration_ms: null } }));
      assert.equal(st.phase, phase);
      assert.equal(st.clockState, state);
      assert.equal(st.rules, PHASE_RULES[phase]);
      assert.equal(st.canWrite, state === 'running');
      for (const kind of KINDS) {
        const it = item(100, kind, 0);
        assert.equal(st.isVotable(it), state === 'running' && PHASE_RULES[phase].vote.includes(kind), `${phase}/${state}/${kind}`);
        assert.equal(st.isVotable({ ...it, hidden: true }), false);
      }
    }
  }
});

// ---- event ids ------------------------------------------------------------------------------

test('compareIds orders "<ms>-<seq>" numerically part by part, null first', () => {
  const ordered = [null, '0-0', '0-1', '9-0', '10-0', '1700000000123-0', '1700000000123-2', '1700000000123-10', '1700000000124-0', '99999999999999999999-0'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareIds(ordered[i], ordered[j]), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(compareIds('007-01', '7-1'), 0);
  assert.equal(compareIds('5', '5-0'), 0);
  assert.equal(compareIds(undefined, '0-0'), -1);
  assert.equal(compareIds('0-0', undefined), 1);
});

// ---- snapshots ------------------------------------------------------------------------------

test('a snapshot (proto/examples/server-snapshot.json) becomes the state', () => {
  const s = example('server-snapshot');
  const st = new JamState();
  assert.equal(st.ready, false);
  const v = st.version;
  const r = st.applySnapshot(s);
  assert.deepEqual(r, { phaseChanged: false });
  assert.equal(st.ready, true);
  assert.ok(st.version > v);
  assert.equal(st.lastEventId, s.event_id);
  assert.deepEqual(st.jam, s.jam);
  assert.deepEqual(st.clock, s.clock);
  assert.equal(st.phase, 'explore');
  assert.deepEqual([...st.items.values()], s.items);
  assert.notEqual(st.items.get(1), s.items[0], 'items are copies, not the message');
  assert.deepEqual(st.ranking, s.ranking);
  assert.deepEqual(st.stats, s.stats);
  assert.deepEqual(st.you, {
    id: 7, role: 'citizen', nickname: 'Ana', votes: new Set([1, 4]), budget_left: 3, items: new Set([1]),
    muted: false, removed: false, moderation: null,
  });
  for (const it of s.items) assert.equal(it.role, ROLE_OF_KIND[it.kind]);
  // The stage: spotlight, pins, the announcement (running until its remaining_ms has passed).
  assert.equal(st.spotlight, s.spotlight);
  assert.deepEqual(st.pinned, s.pinned);
  assert.equal(st.announcementText(st.announcementAt), s.announcement.text);
  assert.equal(st.announcementText(st.announcementAt + s.announcement.remaining_ms), null);
});

test('a screen snapshot has no you; missing ranking kinds are empty lists', () => {
  const s = example('server-snapshot');
  delete s.you;
  s.ranking = { problem: [1] };
  const st = snapshotState(s);
  assert.equal(st.you, null);
  assert.deepEqual(st.ranking, { problem: [1], idea: [], refinement: [], pledge: [] });
});

test('a resync snapshot replaces everything, even with an older event id', () => {
  const st = snapshotState();
  st.applyUpdate(example('server-update'));
  assert.ok(st.items.has(13));
  const s = example('server-snapshot');
  s.resync = true;
  s.event_id = '5-0'; // an earlier life of the jam
  s.items = [item(2, 'problem', 1)];
  s.you.votes = [2];
  const r = st.applySnapshot(s);
  assert.equal(r.phaseChanged, true, 'the update had moved the clock to ideate/paused');
  assert.deepEqual([...st.items.keys()], [2]);
  assert.equal(st.lastEventId, '5-0');
  assert.deepEqual(st.you.votes, new Set([2]));
  assert.equal(st.follows(update('5-0', '6-0')), true);
  assert.equal(st.follows(update('1700000000123-0', '1700000000124-0')), false);
});

test('applySnapshot reports a phase change only against an earlier clock', () => {
  const st = snapshotState();
  assert.equal(st.applySnapshot(example('server-snapshot')).phaseChanged, false);
  const s = example('server-snapshot');
  s.clock.state = 'paused';
  assert.equal(st.applySnapshot(s).phaseChanged, true);
  s.clock = { ...s.clock, state: 'running', phase: 'ideate', index: 1 };
  assert.equal(st.applySnapshot(s).phaseChanged, true);
});

test('reset forgets everything', () => {
  const st = snapshotState();
  st.reset();
  assert.equal(st.ready, false);
  assert.equal(st.you, null);
  assert.equal(st.items.size, 0);
  assert.equal(st.lastEventId, null);
  assert.equal(st.clockState, 'lobby');
});

// ---- updates --------------------------------------------------------------------------------

test('the example update follows the example snapshot and is applied', () => {
  const st = snapshotState();
  const u = example('server-update');
  assert.equal(u.prev, example('server-snapshot').event_id);
  assert.equal(st.follows(u), true);
  const r = st.applyUpdate(u);
  assert.equal(r.phaseChanged, true);
  assert.deepEqual(r.newItems, [13]);
  assert.deepEqual(r.votesChanged.sort((a, b) => a - b), [1, 13]);
  assert.equal(st.items.get(1).votes, 4);
  assert.deepEqual(st.items.get(13), { ...u.items[0], votes: 1 });
  assert.deepEqual(st.ranking, { problem: [1], idea: [13, 2], refinement: [], pledge: [] });
  assert.deepEqual(st.clock, u.clock);
  assert.deepEqual(st.stats, u.stats);
  assert.equal(st.lastEventId, u.to);
});

test('updates in order each follow the last; votes of unknown items are kept', () => {
  const st = snapshotState();
  const ids = ['1700000000124-0', '1700000000124-1', '1700000000130-0'];
  let prev = st.lastEventId;
  ids.forEach((id, i) => {
    const u = update(prev, id, { votes: { 1: 4 + i, 77: i } });
    assert.equal(st.follows(u), true, id);
    st.applyUpdate(u);
    prev = id;
  });
  assert.equal(st.lastEventId, ids.at(-1));
  assert.equal(st.items.get(1).votes, 6);
  assert.deepEqual(st.items.get(77), { id: 77, votes: 2 });
  assert.equal(st.rankOf(77), null, 'no kind yet: not ranked');
  st.applyUpdate(update(prev, '1700000000131-0', { stats: { online: 2 } }));
  assert.deepEqual(st.stats, { participants: 40, online: 2, items: 12, votes: 88 }, 'stats merge');
});

test('an update after a gap does not follow; an overlapping one does', () => {
  const st = snapshotState();
  const last = st.lastEventId;
  assert.equal(st.follows(update('1700000000123-1', '1700000000124-0')), false, 'prev after the last seen id');
  assert.equal(st.follows(update('1700000000124-0', '1700000000125-0')), false);
  assert.equal(st.follows(update('1700000000100-0', '1700000000120-0', {}, '1700000000130-0')), true, 'prev before: overlap');
  assert.equal(st.follows(update(last, last)), true, 'no new event (clock/stats only)');
  assert.equal(new JamState().follows(update(null, '1-0')), false, 'no snapshot yet');
});

test('a gap makes the connection ask for a snapshot once, and not apply the update', () => {
  const conn = connection();
  conn.handle(example('server-snapshot'));
  const before = conn.state.version;
  const gap = update('1700000000150-0', '1700000000151-0', { votes: { 1: 99 } });
  conn.handle(gap);
  assert.deepEqual(conn.sent, [example('sync')]);
  assert.equal(conn.state.items.get(1).votes, 3);
  assert.equal(conn.state.version, before);
  conn.handle({ ...gap, prev: gap.to, from: '1700000000152-0', to: '1700000000152-0' });
  assert.equal(conn.sent.length, 1, 'one sync per SYNC_RETRY_MS');
  const s = example('server-snapshot');
  s.resync = true;
  s.event_id = '1700000000152-0';
  conn.handle(s);
  assert.equal(conn.state.lastEventId, '1700000000152-0');
  conn.handle(update('1700000000160-0', '1700000000161-0'));
  assert.equal(conn.sent.length, 2, 'after a snapshot a new gap asks again');
  assert.deepEqual(conn.events, ['snapshot', 'gap', 'snapshot', 'gap']);
  conn.handle(update('1700000000152-0', '1700000000153-0'));
  assert.deepEqual(conn.events.at(-1), 'update');
});

test('updates before the snapshot are dropped (the snapshot is on its way)', () => {
  const conn = connection();
  conn.handle(example('server-update'));
  assert.deepEqual(conn.sent, []);
  assert.equal(conn.state.ready, false);
  assert.equal(conn.state.items.size, 0);
});

test('an old update (to before the last seen id) is ignored', () => {
  const st = snapshotState();
  const u = example('server-update');
  st.applyUpdate(u);
  const keep = copy([...st.items.values()]);
  const v = st.version;
  const old = update('1700000000100-0', '1700000000101-0', {
    items: [item(9, 'problem', 0)], votes: { 1: 1, 13: 0 }, ranking: { idea: [2] },
    clock: example('server-snapshot').clock, stats: { items: 1 },
  }, '1700000000120-0');
  assert.equal(st.follows(old), true, 'no gap: it is old, not missing anything');
  const r = st.applyUpdate(old);
  assert.deepEqual(r, { phaseChanged: false, newItems: [], votesChanged: [] });
  assert.deepEqual(copy([...st.items.values()]), keep);
  assert.deepEqual(st.ranking.idea, [13, 2]);
  assert.deepEqual(st.clock, u.clock);
  assert.equal(st.stats.items, 13);
  assert.equal(st.lastEventId, u.to);
  assert.equal(st.version, v, 'renderers see no change');
});

test('the same update twice leaves the state as once; a clock-only update at the last id applies', () => {
  const once = snapshotState();
  once.applyUpdate(example('server-update'));
  const twice = snapshotState();
  twice.applyUpdate(example('server-update'));
  const r = twice.applyUpdate(example('server-update'));
  assert.equal(r.phaseChanged, false);
  assert.deepEqual(r.newItems, []);
  assert.deepEqual([...twice.items.values()], [...once.items.values()]);
  assert.deepEqual(twice.ranking, once.ranking);
  assert.equal(twice.lastEventId, once.lastEventId);
  const last = twice.lastEventId;
  const clock = { state: 'running', phase: 'ideate', index: 1, remaining_ms: 51000, duration_ms: 300000 };
  assert.equal(twice.applyUpdate(update(last, last, { clock, stats: { online: 29 } })).phaseChanged, true);
  assert.deepEqual(twice.clock, clock);
  assert.equal(twice.stats.online, 29);
});

// ---- catch-up -------------------------------------------------------------------------------

test('catch-up updates carry current values; the ring follows the last page', () => {
  const conn = connection();
  conn.handle(example('server-snapshot'));
  const E = conn.state.lastEventId;
  conn.handle({ ...example('server-welcome'), resumed: true });
  // Page 1 (events 124..200): item 13 was posted then hidden and item 1 gained votes afterwards,
  // so the values are newer than the page's `to`.
  conn.handle(update('1700000000100-0', '1700000000124-0', {
    items: [{ id: 13, hidden: true }], votes: { 1: 9 }, ranking: { problem: [1] }, stats: { votes: 95 },
  }, '1700000000200-0'));
  // Page 2 (events 201..300) touched item 1 again (same current total) and posted item 14.
  conn.handle(update('1700000000200-0', '1700000000201-0', {
    items: [item(14, 'problem', 2)], votes: { 1: 9, 14: 2 }, ranking: { problem: [1, 14] },
  }, '1700000000300-0'));
  assert.deepEqual(conn.sent, [], 'no gap, no sync');
  assert.ok(compareIds(E, '1700000000100-0') > 0);
  const st = conn.state;
  assert.equal(st.lastEventId, '1700000000300-0');
  assert.deepEqual(st.items.get(13), { id: 13, hidden: true }, 'a hidden item we never saw: id only');
  assert.equal(st.items.get(1).votes, 9);
  assert.deepEqual(st.rankedItems('problem').map((i) => i.id), [1, 14]);
  assert.deepEqual(st.ranking.problem, [1, 14]);
  assert.equal(st.stats.votes, 95);
  conn.handle(update('1700000000300-0', '1700000000301-0', { votes: { 14: 10 } }));
  assert.deepEqual(st.rankedItems('problem').map((i) => i.id), [14, 1]);
  assert.deepEqual(conn.events, ['snapshot', 'update', 'update', 'update']);
});

// ---- ranking --------------------------------------------------------------------------------

test('ranking: votes descending, then id ascending; rankOf agrees with rankedItems', () => {
  const s = example('server-snapshot');
  const votes = [3, 5, 3, 0, 5, 1, 3, 0, 2, 5, 1, 4];
  s.items = votes.map((v, i) => item(i + 1, KINDS[i % 2], v, { hidden: i === 4 }));
  s.items.push({ id: 13, hidden: true });
  const st = snapshotState(s);
  const expect = (kind) => s.items.filter((i) => i.kind === kind && !i.hidden)
    .sort((a, b) => b.votes - a.votes || a.id - b.id).map((i) => i.id);
  for (const kind of KINDS) {
    const ranked = st.rankedItems(kind);
    assert.deepEqual(ranked.map((i) => i.id), expect(kind), kind);
    assert.equal(st.countVisible(kind), ranked.length);
    ranked.forEach((it, i) => assert.equal(st.rankOf(it.id), i + 1, `rank of ${it.id}`));
  }
  assert.deepEqual(st.rankedItems('idea').map((i) => i.id), [2, 10, 12, 6, 4, 8]);
  assert.deepEqual(st.rankedItems('problem').map((i) => i.id), [1, 3, 7, 9, 11]);
  assert.equal(st.rankOf(5), null, 'hidden');
  assert.equal(st.rankOf(13), null, 'hidden, id only');
  assert.equal(st.rankOf(404), null, 'unknown');
});

test('top lists from the server replace only the kinds they name', () => {
  const st = snapshotState();
  st.applyUpdate(update(st.lastEventId, '1700000000124-0', { ranking: { idea: [13, 2], pledge: [] } }));
  st.applyUpdate(update('1700000000124-0', '1700000000125-0', { ranking: { idea: [2] } }));
  assert.deepEqual(st.ranking, { problem: [1], idea: [2], refinement: [], pledge: [] });
});

// ---- hiding ---------------------------------------------------------------------------------

test('hidden items keep what we know, leave the ranking, and come back when unhidden', () => {
  const s = example('server-snapshot');
  s.items = [item(1, 'problem', 3), item(2, 'problem', 2), item(3, 'problem', 1)];
  const st = snapshotState(s);
  st.applyUpdate(update(st.lastEventId, '1700000000124-0', { items: [{ id: 1, hidden: true }], votes: { 1: 4 }, ranking: { problem: [2, 3] } }));
  const hidden = st.items.get(1);
  assert.equal(hidden.hidden, true);
  assert.equal(hidden.text, 'problem 1', 'a moderator keeps the text to decide on unhiding');
  assert.equal(hidden.votes, 4, 'votes are kept');
  assert.deepEqual(st.rankedItems('problem').map((i) => i.id), [2, 3]);
  assert.equal(st.rankOf(1), null);
  assert.equal(st.rankOf(2), 1);
  assert.equal(st.countVisible('problem'), 2);
  assert.equal(st.isVotable(hidden), false);
  const r = st.applyUpdate(update('1700000000124-0', '1700000000125-0', { items: [item(1, 'problem', 4)] }));
  assert.deepEqual(r.newItems, [], 'unhidden, not new');
  assert.equal(st.items.get(1).hidden, false);
  assert.equal(st.rankOf(1), 1);
  assert.equal(st.isVotable(st.items.get(1)), true);
});

// ---- budget ---------------------------------------------------------------------------------

test('vote budget: from the snapshot, from acks, fresh in each new phase, null when unlimited', () => {
  const conn = connection();
  conn.handle(example('server-snapshot'));
  const you = conn.state.you;
  assert.equal(you.budget_left, 3);
  const voted = conn.write(example('vote'));
  const sent = conn.sent.at(-1);
  conn.handle({ type: 'ack', op: sent.op, event_id: '1700000000124-0', budget_left: 2 });
  return voted.then((ack) => {
    assert.equal(ack.budget_left, 2);
    assert.equal(you.budget_left, 2);
    assert.ok(you.votes.has(example('vote').item));
    const st = conn.state;
    const clock = (state, index) => ({ state, phase: PHASES[index], index, remaining_ms: 1000, duration_ms: 1000 });
    st.applyUpdate(update(st.lastEventId, st.lastEventId, { clock: clock('paused', 0) }));
    assert.equal(you.budget_left, 2, 'pausing is not a new phase');
    st.applyUpdate(update(st.lastEventId, st.lastEventId, { clock: clock('running', 1) }));
    assert.equal(you.budget_left, st.jam.settings.votes_per_phase, 'a new phase opens a fresh budget');
    st.applyUpdate(update(st.lastEventId, st.lastEventId, { clock: { ...clock('ended', 1), remaining_ms: null } }));
    assert.equal(you.budget_left, 5, 'the jam ending is not a new phase');
    const unvoted = conn.write(example('unvote'));
    conn.handle({ ...example('server-ack-vote'), op: conn.sent.at(-1).op });
    return unvoted;
  }).then(() => {
    assert.equal(you.budget_left, null, 'server-ack-vote.json: unlimited');
    assert.equal(you.votes.has(example('unvote').item), false);
    const s = example('server-snapshot');
    s.jam.settings.votes_per_phase = 0;
    s.you.budget_left = null;
    const st = snapshotState(s);
    st.applyUpdate(update(st.lastEventId, st.lastEventId, { clock: { ...s.clock, phase: 'ideate', index: 1 } }));
    assert.equal(st.you.budget_left, null);
  });
});

test('the lobby shows the first phase budget; start keeps it full', () => {
  const s = example('server-snapshot');
  s.clock = { state: 'lobby', phase: null, index: -1, remaining_ms: null, duration_ms: null };
  s.you.budget_left = 5;
  s.you.votes = [];
  const st = snapshotState(s);
  assert.equal(st.you.budget_left, 5);
  st.applyUpdate(update(st.lastEventId, '1700000000124-0', { clock: { state: 'running', phase: 'explore', index: 0, remaining_ms: 600000, duration_ms: 600000 } }));
  assert.equal(st.you.budget_left, 5);
});

// ---- clock ----------------------------------------------------------------------------------

test('remainingMs counts down while running, freezes when paused, null without a deadline', () => {
  const st = snapshotState();
  const t0 = st.clockAt;
  assert.equal(st.remainingMs(t0), 412000);
  assert.equal(st.remainingMs(t0 + 12000), 400000);
  assert.equal(st.remainingMs(t0 + 10 ** 9), 0);
  st.setClock({ state: 'paused', phase: 'explore', index: 0, remaining_ms: 51000, duration_ms: 600000 });
  assert.ok(st.clockAt >= t0);
  assert.equal(st.remainingMs(st.clockAt + 10 ** 6), 51000);
  st.setClock({ state: 'running', phase: 'explore', index: 0, remaining_ms: null, duration_ms: null });
  assert.equal(st.remainingMs(), null);
  st.setClock(null);
  assert.equal(st.clock.state, 'running', 'no clock in the message: keep ours');
  assert.equal(new JamState().remainingMs(), null);
});

// The fair order (proto/messages.md, "A fair order"): the Wilson lower bound of votes per showing,
// the same millionths as the server's fair_wilson (test_fair.c pins 50 of 100 at 0.4037..0.4039).
test('fair order: the Wilson score, the order switch and the update\'s shown map', () => {
  assert.equal(fairScore(0, 0), 0);
  assert.equal(fairScore(0, 50), 0);
  assert.ok(fairScore(50, 100) >= 403700 && fairScore(50, 100) <= 403900);
  assert.equal(fairScore(9, 3), fairScore(9, 9)); // more votes than showings: the votes count
  assert.ok(fairScore(3, 3) > fairScore(4, 40));
  const s = new JamState();
  const snap = copy(example('server-snapshot'));
  snap.items = [
    { id: 1, kind: 'problem', text: 'a', votes: 4, hidden: false, shown: 40 },
    { id: 2, kind: 'problem', text: 'b', votes: 3, hidden: false, shown: 3 },
  ];
  s.applySnapshot(snap);
  assert.equal(s.order, 'top');
  assert.deepEqual(s.rankedItems('problem').map((it) => it.id), [1, 2]);
  s.applyUpdate({ type: 'update', prev: snap.event_id, from: '1700000000200-0', to: '1700000000200-0', order: 'fair' });
  assert.equal(s.order, 'fair');
  assert.deepEqual(s.rankedItems('problem').map((it) => it.id), [2, 1]);
  assert.equal(s.rankOf(2), 1);
  s.applyUpdate({ type: 'update', prev: '1700000000200-0', from: '1700000000201-0', to: '1700000000201-0', shown: { 2: 300 } });
  assert.equal(s.items.get(2).shown, 300);
  assert.deepEqual(s.rankedItems('problem').map((it) => it.id), [1, 2]);
  // A vote comes without `shown` (the server sends it only when showings changed): the known
  // count stays and the fair score follows the new votes.
  s.applyUpdate({ type: 'update', prev: '1700000000201-0', from: '1700000000202-0', to: '1700000000202-0', votes: { 2: 290 } });
  assert.equal(s.items.get(2).shown, 300);
  assert.equal(s.items.get(2).votes, 290);
  assert.deepEqual(s.rankedItems('problem').map((it) => it.id), [2, 1]);
});
