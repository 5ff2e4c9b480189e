// What the browser test files share: a private redis-server and cojamd on free loopback ports, and
// Debian's chromium (never a downloaded browser). Every wait is bounded.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const webRoot = path.join(repo, 'web-client/public');
// Screenshots go under build/ (ignored by git) so that a test run leaves the tree clean;
// `make screenshots` sets SCREENSHOT_DIR to refresh the committed ones the READMEs show.
export const shots = path.resolve(process.env.SCREENSHOT_DIR || path.join(repo, 'build/screenshots'));
export const COJAMD = process.env.COJAMD || path.join(repo, 'build/debug/cojamd');
export const ADMIN = 'test-admin';
export const T = 10000; // every wait is bounded by this (ms) unless said otherwise

export const procs = [];
const tmps = [];

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export function start(cmd, args, name) {
  // The admin token goes in the environment: cojamd refuses it as a flag (ps shows flags).
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COJAM_ADMIN_TOKEN: ADMIN } });
  const out = [];
  const keep = (d) => { out.push(d.toString()); if (out.length > 200) out.shift(); };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  p.tail = () => out.join('').split('\n').slice(-15).join('\n');
  p.label = name;
  procs.push(p);
  return p;
}

export async function until(fn, what, ms = T) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ': ' + last.message : ''}`);
}

async function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

// Start a private redis-server and cojamd (with 'args' added); resolves to the server's base URL
// once /healthz answers 200. 'extraOrigins' are allowed on /ws beside the server's own origin
// (the default allowlist is --public-url's origin only).
export async function startCojam(args = [], extraOrigins = []) {
  if (!fs.existsSync(COJAMD)) throw new Error(`cojamd not found at ${COJAMD} (build it with make -C server, or set COJAMD)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cojam-web-'));
  tmps.push(tmp);
  const rport = await freePort();
  start('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', tmp, '--daemonize', 'no', '--protected-mode', 'yes'], 'redis');
  await until(() => redisPing(rport), 'redis-server');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cojamd = start(COJAMD, ['--listen', `127.0.0.1:${port}`, '--redis', `127.0.0.1:${rport}`,
    '--web-root', webRoot, '--data-dir', tmp, ...args,
    ...(extraOrigins.length ? ['--allowed-origins', [base, ...extraOrigins].join(',')] : [])], 'cojamd');
  try {
    await until(async () => {
      if (cojamd.exited) throw new Error('cojamd exited: ' + JSON.stringify(cojamd.exited));
      const r = await fetch(base + '/healthz');
      return r.ok;
    }, 'cojamd /healthz');
  } catch (e) {
    console.log('# cojamd output:\n' + cojamd.tail().replace(/^/gm, '# '));
    throw e;
  }
  return base;
}

export async function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic'],
    timeout: T,
  });
}

// Stop every process started here (TERM, then KILL after 1.5 s) and remove the temporary dirs.
export function cleanup() {
  for (const p of procs) {
    if (!p.exited) { try { p.kill('SIGTERM'); } catch { /* gone */ } }
  }
  setTimeout(() => { for (const p of procs) if (!p.exited) { try { p.kill('SIGKILL'); } catch { /* gone */ } } }, 1500).unref();
  for (const tmp of tmps) { try { fs.rmSync(tmp, { recursive: true, force: true }); } catch { /* ignore */ } }
}

// A protocol client (moderator or citizen) in Node: join, then writes that resolve on their ack.
export async function client(base, join) {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws', 'cojam.v1');
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  const waiting = new Map();
  let seq = 0, welcome;
  const welcomed = new Promise((res, rej) => {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'welcome') { welcome = m; res(m); }
      if (m.type === 'error' && !m.op) rej(new Error('join: ' + m.code));
      if ((m.type === 'ack' || m.type === 'error') && waiting.has(m.op)) { waiting.get(m.op)(m); waiting.delete(m.op); }
    });
  });
  ws.send(JSON.stringify({ type: 'join', ...join }));
  await welcomed;
  return {
    welcome,
    close: () => ws.close(),
    async write(msg) {
      const op = `w${++seq}`;
      const r = await new Promise((res) => { waiting.set(op, res); ws.send(JSON.stringify({ ...msg, op })); });
      if (r.type !== 'ack') throw new Error(`${JSON.stringify(msg)} -> ${r.code}`);
      return r;
    },
  };
}
