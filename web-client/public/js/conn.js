// The WebSocket connection to cojamd: join/rejoin with the session token, reconnection with
// exponential backoff and jitter, keep-alive, gap detection (update.prev vs last seen id -> sync),
// and writes that are retried with the same op id until the server acknowledges or refuses them.

import { JamState } from './jamstate.js';

const FATAL_JOIN = new Set(['no_such_jam', 'bad_secret', 'invite_revoked', 'anonymous_not_allowed', 'nickname_required',
  'jam_full', 'forbidden', 'bad_value', 'too_long', 'too_short', 'bad_message', 'removed']);
const RETRYABLE = new Set(['busy', 'rate_limited', 'storage_unavailable', 'storage_timeout',
  'replica_timeout', 'apply_timeout']);

// Reconnection: 0.25-0.5 s after a loss, doubling to at most 2.5-5 s (jitter: 50-100 % of the step).
// The cap is short because a silently dropped network gives no `online` event when it comes back:
// the next try is all there is (issue 12: a 15 s cap took 20 s to recover). A try that has not
// opened within CONNECT_TIMEOUT_MS is given up (a SYN or an upgrade into a black hole never ends).
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000;
// Application heartbeat (`ping` -> `pong`, proto/messages.md): after HEARTBEAT_IDLE_MS without any
// frame from the server the client pings; if nothing at all comes back within PONG_TIMEOUT_MS the
// link is dead. Visible page: dead within 2 + 3 s (+ two 0.25 s ticks) of the last frame, at the cost
// of one ping per 2 s on a quiet jam (the rate limit is 20 messages/s). Hidden page: browsers throttle
// its timers anyway, so it pings after 25 s (the server's own WebSocket ping is every 30 s), and
// pings at once when the page becomes visible again.
const HEARTBEAT_IDLE_MS = 2000;
const HEARTBEAT_IDLE_HIDDEN_MS = 25000;
const PONG_TIMEOUT_MS = 3000;
const HEARTBEAT_TICK_MS = 250;
const ACK_TIMEOUT_MS = 8000;
const SYNC_RETRY_MS = 5000;

function randomId(n) {
  const a = new Uint8Array(n);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
}

export function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

// Reads and writes the session token without ever putting it in a URL.
export class TokenStore {
  constructor(key, storage) { this.key = key; this.storage = storage; }
  get() { try { return this.key ? this.storage.getItem(this.key) : null; } catch { return null; } }
  set(v) { try { if (this.key) this.storage.setItem(this.key, v); } catch { /* private mode */ } }
  clear() { try { if (this.key) this.storage.removeItem(this.key); } catch { /* ignore */ } }
}

export class Connection extends EventTarget {
  /**
   * @param {object} o
   * @param {object} o.join  fields of the first join: {code, as, nickname?, anonymous?, secret?}
   * @param {TokenStore} [o.tokens]  where the session token is kept (none for screens)
   * @param {JamState} [o.state]
   */
  constructor(o) {
    super();
    this.joinFields = { ...o.join };
    this.tokens = o.tokens || new TokenStore(null, null);
    this.state = o.state || new JamState();
    this.ws = null;
    this.joined = false;
    this.wasOnline = false;        // joined once: a loss is then "connection lost", not "connecting"
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.connectTimer = null;
    this.pingTimer = null;
    this.pingSentAt = 0;           // the unanswered ping, 0 if none
    this.lastFrameAt = 0;
    this.pending = new Map();      // op -> {msg, resolve, reject, tries, timer}
    this.opPrefix = randomId(8);
    this.opSeq = 0;
    this.syncSentAt = 0;
    this.statusName = 'idle';
    this.onlineHandler = () => this.reconnectNow();
    this.offlineHandler = () => this.abandon();
    this.visibleHandler = () => { if (document.visibilityState === 'visible') this.reconnectNow(); };
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  on(type, fn) { this.addEventListener(type, (e) => fn(e.detail)); return this; }

  setStatus(name, extra) {
    this.statusName = name;
    this.emit('status', { state: name, pending: this.pending.size, ...(extra || {}) });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onlineHandler);
    window.addEventListener('offline', this.offlineHandler);
    document.addEventListener('visibilitychange', this.visibleHandler);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopKeepalive();
    window.removeEventListener('online', this.onlineHandler);
    window.removeEventListener('offline', this.offlineHandler);
    document.removeEventListener('visibilitychange', this.visibleHandler);
    if (this.ws) { const ws = this.detach(); try { ws.close(1000); } catch { /* ignore */ } }
    this.joined = false;
    for (const p of this.pending.values()) clearTimeout(p.timer);
  }

  // Test hook: drop the socket as a network failure would (the close event follows).
  dropConnection() { if (this.ws) this.ws.close(); }

  // "Reconnect now", the browser's `online`, the page becoming visible: check a live link at once
  // (ping), or give up the current try and its backoff and connect afresh.
  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    if (this.joined) { this.ping(); return; }
    clearTimeout(this.retryTimer);
    if (this.ws) this.detach();
    this.open();
  }

  open() {
    if (this.stopped || this.ws) return;
    this.setStatus(this.wasOnline ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(wsUrl(), 'cojam.v1');
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => { if (this.ws === ws) this.abandon(); }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      clearTimeout(this.connectTimer);
      this.sendJoin();
      this.startKeepalive();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.pingSentAt = 0;
      this.lastFrameAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg.type !== 'string') return;
      this.handle(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.detach();
      this.lost({ code: ev.code, reason: ev.reason });
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // Forgets the current socket: none of its events count any more. Returns it.
  detach() {
    const ws = this.ws;
    this.ws = null;
    clearTimeout(this.connectTimer);
    this.stopKeepalive();
    this.joined = false;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.timer = null; }
    return ws;
  }

  // The link is dead (no pong, no open, the browser went offline): give the socket up now rather
  // than wait for its close event, which over a black hole only comes when TCP gives up, minutes later.
  abandon() {
    if (!this.ws) return;
    const ws = this.detach();
    try { ws.close(); } catch { /* ignore */ }
    this.lost({ code: 4000, reason: 'dead link' });
  }

  lost(detail) {
    this.emit('closed', detail);
    if (!this.stopped) this.scheduleReconnect();
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(exp / 2 + Math.random() * (exp / 2)); // jitter: 50–100% of the step
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setStatus('waiting');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  raw(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  sendJoin() {
    const token = this.tokens.get();
    let join;
    if (token) {
      join = { type: 'join', token };
      if (this.state.ready && this.state.lastEventId) join.last_event_id = this.state.lastEventId;
    } else {
      join = { type: 'join', ...this.joinFields };
    }
    this.raw(join);
  }

  startKeepalive() {
    this.stopKeepalive();
    this.lastFrameAt = Date.now();
    this.pingTimer = setInterval(() => this.heartbeat(), HEARTBEAT_TICK_MS);
  }

  heartbeat() {
    const now = Date.now();
    if (this.pingSentAt && now - this.pingSentAt > PONG_TIMEOUT_MS) { this.abandon(); return; }
    const idle = document.visibilityState === 'hidden' ? HEARTBEAT_IDLE_HIDDEN_MS : HEARTBEAT_IDLE_MS;
    if (now - this.lastFrameAt >= idle) this.ping();
  }

  // Application ping; any frame received answers it.
  ping() {
    if (this.pingSentAt) return;
    if (this.raw({ type: 'ping', t: Date.now() % 1e9 })) this.pingSentAt = Date.now();
  }

  stopKeepalive() { clearInterval(this.pingTimer); this.pingTimer = null; this.pingSentAt = 0; }

  handle(msg) {
    switch (msg.type) {
      case 'welcome':
        this.joined = true;
        this.wasOnline = true;
        this.attempt = 0;
        if (msg.token) this.tokens.set(msg.token);
        this.you = msg.you || null;
        this.setStatus('online');
        this.emit('welcome', msg);
        this.flushPending();
        break;
      case 'snapshot': {
        const r = this.state.applySnapshot(msg);
        this.syncSentAt = 0;
        this.emit('snapshot', { msg, ...r });
        this.emit('change', { kind: 'snapshot', resync: !!msg.resync, ...r });
        break;
      }
      case 'update': {
        if (!this.state.ready) break; // the snapshot is on its way
        if (!this.state.follows(msg)) {
          // Gap: some events were missed. Ask for a fresh snapshot (once per SYNC_RETRY_MS).
          if (Date.now() - this.syncSentAt > SYNC_RETRY_MS) {
            this.syncSentAt = Date.now();
            this.raw({ type: 'sync' });
            this.emit('gap', { last: this.state.lastEventId, prev: msg.prev });
          }
          break;
        }
        const r = this.state.applyUpdate(msg);
        this.emit('update', { msg, ...r });
        this.emit('change', { kind: 'update', ...r });
        break;
      }
      case 'ack': {
        const p = this.pending.get(msg.op);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(msg.op);
          this.afterAck(p.msg, msg);
          p.resolve(msg);
          this.emit('pending', { size: this.pending.size });
        }
        break;
      }
      case 'error':
        this.handleError(msg);
        break;
      case 'counts': // the counts withheld from screens and citizens, to moderators only
        this.state.applyCounts(msg);
        this.emit('change', { kind: 'counts' });
        break;
      case 'queued': // pending items in full, to moderators and their author (pre-moderation)
        this.emit('queued', msg);
        break;
      case 'invites': // the jam's named moderator invites, to moderators only
        this.emit('invites', msg);
        break;
      case 'pong':
        break;
      case 'status':
        this.emit('storage', msg.storage);
        break;
      case 'similar': // items like the text being typed (the answer to a `similar` query)
        this.emit('similar', msg);
        break;
      case 'discover': // the least-shown items for this participant (the answer to `discover`)
        this.emit('discover', msg);
        break;
      case 'words': // the word cloud and themes (screens and moderators only)
        this.emit('words', msg);
        break;
      case 'notice': // a moderator muted, unmuted or removed this participant
        if (msg.notice === 'invite_revoked') { // a moderator's invite: the close 4005 follows
          this.stop();
          this.emit('moderation', msg);
          break;
        }
        if (this.state.you) {
          if (msg.notice === 'removed') this.state.you.removed = true;
          else this.state.you.muted = msg.notice === 'muted';
          this.state.you.moderation = msg.notice === 'unmuted' ? null : { reason: msg.reason, preset: msg.preset };
          this.state.version++;
        }
        if (msg.notice === 'removed') this.stop(); // the close 4004 follows: no reconnect
        this.emit('moderation', msg);
        this.emit('change', { kind: 'moderation' });
        break;
      default:
        break;
    }
  }

  // Keep the participant's own view (votes, budget, items) in step with acknowledged writes.
  afterAck(sent, ack) {
    const you = this.state.you;
    if (!you) return;
    if (sent.type === 'vote') you.votes.add(sent.item);
    if (sent.type === 'unvote') {
      // On a merge target the retraction takes every vote of the group (proto/messages.md).
      you.votes.delete(sent.item);
      for (const d of this.state.duplicatesOf(sent.item)) you.votes.delete(d.id);
    }
    if ((sent.type === 'vote' || sent.type === 'unvote') && 'budget_left' in ack) you.budget_left = ack.budget_left;
    if (sent.type === 'post' && ack.item) you.items.add(ack.item);
    this.state.version++;
    this.emit('change', { kind: 'ack', op: ack.op });
  }

  handleError(msg) {
    if (msg.op && this.pending.has(msg.op)) {
      const p = this.pending.get(msg.op);
      clearTimeout(p.timer);
      if (msg.retryable || RETRYABLE.has(msg.code)) {
        p.tries++;
        const base = msg.code === 'busy' ? 150 : 1000;
        const delay = Math.min(10000, base * 2 ** Math.min(p.tries, 6)) * (0.5 + Math.random() / 2);
        p.timer = setTimeout(() => this.transmit(p), delay);
        this.emit('retrying', { op: msg.op, code: msg.code });
        return;
      }
      this.pending.delete(msg.op);
      p.reject(Object.assign(new Error(msg.message || msg.code), { code: msg.code }));
      this.emit('pending', { size: this.pending.size });
      return;
    }
    if (!this.joined) {
      if (msg.code === 'bad_token') {
        // Expired or foreign token: forget it and join afresh.
        this.tokens.clear();
        this.emit('notice', { code: 'bad_token' });
        this.sendJoin();
        return;
      }
      if (FATAL_JOIN.has(msg.code)) {
        this.emit('joinError', msg);
        this.stop();
        this.setStatus('failed', { code: msg.code });
        return;
      }
    }
    this.emit('serverError', msg);
  }

  nextOp() { this.opSeq++; return `${this.opPrefix}-${this.opSeq}`; }

  // Sends a write (post, vote, unvote, moderator action). Resolves with the ack, rejects with an
  // error whose .code is the server's error code. Survives reconnects: retried with the same op.
  write(fields, opts = {}) {
    const msg = { ...fields, op: opts.op || this.nextOp() };
    return new Promise((resolve, reject) => {
      const p = { msg, resolve, reject, tries: 0, timer: null };
      this.pending.set(msg.op, p);
      this.emit('pending', { size: this.pending.size });
      if (this.joined) this.transmit(p);
    });
  }

  transmit(p) {
    clearTimeout(p.timer);
    if (!this.pending.has(p.msg.op)) return;
    if (!this.joined || !this.raw(p.msg)) return; // sent again after the next welcome
    // No answer at all for a while: send it again (same op: the server never applies it twice).
    p.timer = setTimeout(() => this.transmit(p), ACK_TIMEOUT_MS);
  }

  flushPending() {
    for (const p of this.pending.values()) this.transmit(p);
  }

  pendingWhere(pred) {
    for (const p of this.pending.values()) if (pred(p.msg)) return p;
    return null;
  }
}
