// The protocol state of one jam, as seen by one client: built from `snapshot`, patched by `update`,
// with gap detection and the documented ranking rule. No DOM here.

export const KINDS = ['problem', 'idea', 'refinement', 'pledge'];
export const PHASES = ['explore', 'ideate', 'design', 'diffuse', 'results'];

// What each phase accepts (proto/messages.md, "Phases and what they accept"). Not kept in step by
// hand: tests/jamstate.test.mjs compares these tables with what server/src/room.c enforces.
export const PHASE_RULES = {
  explore: { post: 'problem', parent: null, parentRequired: false, vote: ['problem'] },
  ideate: { post: 'idea', parent: 'problem', parentRequired: false, vote: ['idea'] },
  design: { post: 'refinement', parent: 'idea', parentRequired: true, vote: ['idea', 'refinement'] },
  diffuse: { post: 'pledge', parent: 'idea', parentRequired: true, vote: ['idea'] },
  results: { post: null, parent: null, parentRequired: false, vote: [] },
};

export const ROLE_OF_KIND = { problem: 'explorer', idea: 'ideator', refinement: 'designer', pledge: 'diffuser' };

// Event ids are "<ms>-<seq>", compared numerically part by part. null sorts first.
export function compareIds(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  const [am, as] = String(a).split('-');
  const [bm, bs] = String(b).split('-');
  // Use BigInt-free numeric comparison on decimal strings of arbitrary length.
  const c = cmpDec(am, bm);
  return c !== 0 ? c : cmpDec(as || '0', bs || '0');
}
function cmpDec(x, y) {
  x = x.replace(/^0+(?=\d)/, '');
  y = y.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

// The fair score of an item (proto/messages.md, "A fair order"): the lower bound of the 95% Wilson
// score interval of votes per showing, n = max(shown, votes), in millionths as the server keeps it.
const WILSON_Z = 1.959964;
export function fairScore(votes, shown) {
  const v = Math.max(0, votes || 0);
  const n = Math.max(shown || 0, v);
  if (!n) return 0;
  const p = v / n, z2 = WILSON_Z * WILSON_Z;
  const lb = (p + z2 / (2 * n) - WILSON_Z * Math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)) / (1 + z2 / n);
  return lb <= 0 ? 0 : Math.floor(lb * 1e6);
}

export class JamState {
  constructor() { this.reset(); }

  reset() {
    this.ready = false;          // a snapshot has been applied
    this.jam = null;
    this.clock = null;
    this.clockAt = 0;            // performance.now() when the clock was received
    this.items = new Map();      // id -> item
    this.ranking = { problem: [], idea: [], refinement: [], pledge: [] };
    this.stats = { participants: 0, online: 0, items: 0, votes: 0 };
    this.you = null;             // {id, role, nickname, votes:Set, budget_left, items:Set, muted, removed, moderation}
    this.spotlight = null;       // the spotlighted item's id
    this.pinned = [];            // pinned item ids, in pin order
    this.reveal = { mode: 'live', hidden: [] }; // reveal control: kinds whose counts are withheld
    this.order = 'top';          // the order lists use: 'top' (votes) or 'fair' (set_order)
    this.announcement = null;    // {text, at, remaining_ms}; received at announcementAt
    this.announcementAt = 0;
    this.lastEventId = null;
    this.version = 0;            // bumped on every change (renderers compare)
    this.changedVotes = new Set();
  }

  // Returns {phaseChanged}
  applySnapshot(s) {
    const prevPhase = this.clock ? this.clock.index : undefined;
    const prevState = this.clock ? this.clock.state : undefined;
    this.jam = s.jam || this.jam;
    this.setClock(s.clock);
    this.items = new Map();
    for (const it of s.items || []) this.items.set(it.id, { ...it });
    this.ranking = { problem: [], idea: [], refinement: [], pledge: [], ...(s.ranking || {}) };
    if (s.stats) this.stats = { ...s.stats };
    if (s.you) {
      this.you = {
        id: s.you.id, role: s.you.role, nickname: s.you.nickname ?? null,
        votes: new Set(s.you.votes || []),
        budget_left: s.you.budget_left === undefined ? null : s.you.budget_left,
        items: new Set(s.you.items || []),
        muted: !!s.you.muted, removed: !!s.you.removed, moderation: s.you.moderation || null,
      };
      // Its own items waiting for review come in full here (the shared part has stubs).
      for (const it of s.you.queued || []) this.items.set(it.id, { ...it });
    }
    this.setStage(s);
    this.lastEventId = s.event_id ?? this.lastEventId;
    this.ready = true;
    this.version++;
    return { phaseChanged: prevPhase !== undefined && (prevPhase !== this.clock.index || prevState !== this.clock.state) };
  }

  // True when this update follows what we have without a gap (spec: last seen id >= prev).
  follows(u) {
    if (!this.ready) return false;
    return compareIds(this.lastEventId, u.prev) >= 0;
  }

  // Applies an update that follows(). Returns {phaseChanged, newItems:[ids], votesChanged:[ids]}.
  // An update that ends before the last seen id is old: its absolute values are older than ours,
  // so it is ignored. One that ends at it (a clock/stats-only update, or a repeat) is applied.
  applyUpdate(u) {
    const out = { phaseChanged: false, newItems: [], votesChanged: [] };
    if (u.to && compareIds(u.to, this.lastEventId) < 0) return out;
    if (u.items) {
      for (const it of u.items) {
        const old = this.items.get(it.id);
        if (old) {
          // Hidden items come to citizens and screens as {id, hidden:true} only: keep what we know.
          Object.assign(old, it);
          // ...but an approved, rejected or unhidden item no longer waits or stands rejected.
          // An unmerged item comes in full without merged_into.
          for (const flag of ['pending', 'rejected']) if (!it[flag]) delete old[flag];
          if (it.kind && !it.merged_into) delete old.merged_into;
        } else {
          this.items.set(it.id, { ...it });
          out.newItems.push(it.id);
        }
      }
    }
    if (u.votes) {
      for (const [k, v] of Object.entries(u.votes)) {
        const id = Number(k);
        const it = this.items.get(id);
        if (it) { if (it.votes !== v) { it.votes = v; out.votesChanged.push(id); } }
        else this.items.set(id, { id, votes: v });
      }
    }
    if (u.shown) { // showings (discover views) changed the fair score of these items
      for (const [k, v] of Object.entries(u.shown)) {
        const it = this.items.get(Number(k));
        if (it) it.shown = v;
      }
    }
    if (u.ranking) Object.assign(this.ranking, u.ranking);
    if (u.clock) {
      const before = this.clock;
      this.setClock(u.clock);
      if (!before || before.index !== u.clock.index || before.state !== u.clock.state || before.phase !== u.clock.phase) {
        out.phaseChanged = true;
        if (before && before.index !== u.clock.index && this.you && this.jam) {
          // A new phase opens a fresh vote budget (rule: budget per participant per phase).
          const per = this.jam.settings ? this.jam.settings.votes_per_phase : 0;
          this.you.budget_left = per ? per : null;
        }
      }
    }
    if (u.stats) {
      // A withheld total (reveal control) is null in the shared update; a moderator has it from
      // its private counts frame.
      const st = { ...u.stats };
      if (st.votes === null && this.you && this.you.role === 'moderator') delete st.votes;
      this.stats = { ...this.stats, ...st };
    }
    this.setStage(u);
    if (u.to && compareIds(u.to, this.lastEventId) > 0) this.lastEventId = u.to;
    this.version++;
    return out;
  }

  // A private `queued` frame (pre-moderation): items waiting for review, in full, for moderators
  // and the author.
  applyQueued(items) {
    for (const it of items || []) {
      const old = this.items.get(it.id);
      if (old) Object.assign(old, it); else this.items.set(it.id, { ...it });
    }
    this.version++;
  }

  // True while the server withholds the counts of `kind` from this role (proto/messages.md,
  // "Reveal control"): its items come without votes. Moderators get them (applyCounts).
  countsHidden(kind) {
    return this.reveal.hidden.includes(kind) && !(this.you && this.you.role === 'moderator');
  }

  // A moderator's private `counts` frame: the counts and top lists the shared update withheld.
  applyCounts(m) {
    for (const [k, v] of Object.entries(m.votes || {})) {
      const it = this.items.get(Number(k));
      if (it) it.votes = v;
    }
    if (m.ranking) Object.assign(this.ranking, m.ranking);
    if (m.stats) this.stats = { ...this.stats, ...m.stats };
    this.version++;
  }

  // The spotlight, pins and announcement of a snapshot, or of an update that carries them.
  setStage(m) {
    if (m.reveal) this.reveal = { mode: m.reveal.mode, hidden: [...(m.reveal.hidden || [])] };
    if (m.order === 'top' || m.order === 'fair') this.order = m.order;
    if ('spotlight' in m) this.spotlight = m.spotlight;
    if ('pinned' in m) this.pinned = [...(m.pinned || [])];
    if ('announcement' in m) {
      this.announcement = m.announcement ? { ...m.announcement } : null;
      this.announcementAt = performance.now();
    }
  }

  // The running announcement's text, or null once it has ended (counted from when it was received).
  announcementText(now = performance.now()) {
    const a = this.announcement;
    if (!a) return null;
    if (a.remaining_ms !== null && a.remaining_ms !== undefined && now - this.announcementAt >= a.remaining_ms) return null;
    return a.text;
  }

  setClock(c) {
    if (!c) return;
    this.clock = { ...c };
    this.clockAt = performance.now();
  }

  // Milliseconds left in the current phase, counted down from when the clock was received.
  remainingMs(now = performance.now()) {
    const c = this.clock;
    if (!c || c.remaining_ms === null || c.remaining_ms === undefined) return null;
    if (c.state === 'running') return Math.max(0, c.remaining_ms - (now - this.clockAt));
    return Math.max(0, c.remaining_ms);
  }

  // 'lobby' | 'running' | 'paused' | 'ended'
  get clockState() { return this.clock ? this.clock.state : 'lobby'; }
  get phase() { return this.clock && this.clock.phase ? this.clock.phase : null; }
  get rules() {
    const p = this.phase;
    return p && PHASE_RULES[p] ? PHASE_RULES[p] : { post: null, parent: null, parentRequired: false, vote: [] };
  }
  get canWrite() { return this.clockState === 'running'; }

  isVotable(item) {
    return this.canWrite && !item.hidden && !item.pending && !item.merged_into && this.rules.vote.includes(item.kind);
  }

  // An item shown in the lists: not hidden, pending, or merged into another (proto/messages.md).
  static listedItem(it) { return !it.hidden && !it.pending && !it.merged_into; }

  // The duplicates merged into item `id`, in id order.
  duplicatesOf(id) {
    const out = [];
    for (const it of this.items.values()) if (it.merged_into === id) out.push(it);
    return out.sort((a, b) => a.id - b.id);
  }

  // True when this participant's vote counts for item `id`: on it, or on one of its duplicates
  // (a merge target takes one vote per participant; an unvote on it retracts them all).
  votedFor(id) {
    if (!this.you) return false;
    if (this.you.votes.has(id)) return true;
    for (const d of this.duplicatesOf(id)) if (this.you.votes.has(d.id)) return true;
    return false;
  }

  // The jam's order as a sort key, best first: votes (top) or the fair score (fair), then age.
  sortKey(it) { return this.order === 'fair' ? fairScore(it.votes, it.shown) : (it.votes || 0); }

  // Visible items of `kind` in ranking order: by the jam's order descending, then id ascending.
  rankedItems(kind) {
    const list = [];
    for (const it of this.items.values()) if (it.kind === kind && JamState.listedItem(it)) list.push(it);
    list.sort((a, b) => this.sortKey(b) - this.sortKey(a) || a.id - b.id);
    return list;
  }

  // 1-based rank of an item within its kind (null when hidden or unknown).
  rankOf(id) {
    const it = this.items.get(id);
    if (!it || !JamState.listedItem(it) || !it.kind) return null;
    let rank = 1;
    const iv = this.sortKey(it);
    for (const o of this.items.values()) {
      if (o === it || o.kind !== it.kind || !JamState.listedItem(o)) continue;
      const ov = this.sortKey(o);
      if (ov > iv || (ov === iv && o.id < it.id)) rank++;
    }
    return rank;
  }

  countVisible(kind) {
    let n = 0;
    for (const it of this.items.values()) if (it.kind === kind && JamState.listedItem(it)) n++;
    return n;
  }
}
