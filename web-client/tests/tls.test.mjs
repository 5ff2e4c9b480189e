// The web client once over TLS: cojamd with --tls-cert/--tls-key (a self-signed certificate made
// here with the openssl CLI), headless Debian chromium told to accept it (--ignore-certificate-
// errors). An organiser creates a jam on https://, a moderator starts it, a phone posts and
// votes, the screen shows the post and the moderator the vote; every page's WebSocket is wss://.
// Env: COJAMD (default ../../build/debug/cojamd). Prints TAP and "# N passed, N failed".

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const COJAMD = process.env.COJAMD || path.join(repo, 'build/debug/cojamd');
const ADMIN = 'test-admin';
const T = 10000; // every wait is bounded by this (ms)

const procs = [];
let browser = null, tmp = null, passed = 0, failed = 0, n = 0;

async function test(name, fn) {
  n++;
  try {
    await fn();
    passed++;
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 6)) console.log('#   ' + line);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function start(cmd, args) {
  // The admin token goes in the environment: cojamd refuses it as a flag (ps shows flags).
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COJAM_ADMIN_TOKEN: ADMIN } });
  const out = [];
  const keep = (d) => { out.push(d.toString()); if (out.length > 200) out.shift(); };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  p.tail = () => out.join('').split('\n').slice(-15).join('\n');
  procs.push(p);
  return p;
}

async function until(fn, what, ms = T) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ': ' + last.message : ''}`);
}

function cleanup() {
  for (const p of procs) if (!p.exited) { try { p.kill('SIGTERM'); } catch { /* gone */ } }
  setTimeout(() => { for (const p of procs) if (!p.exited) { try { p.kill('SIGKILL'); } catch { /* gone */ } } }, 1500).unref();
  if (tmp) { try { fs.rmSync(tmp, { recursive: true, force: true }); } catch { /* ignore */ } }
}

const watchdog = setTimeout(async () => {
  console.log('not ok - the whole run took longer than 90 s');
  console.log(`# ${passed} passed, ${failed + 1} failed`);
  try { if (browser) await browser.close(); } catch { /* ignore */ }
  cleanup();
  process.exit(1);
}, 90000);

async function main() {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cojam-tls-'));
  const cert = path.join(tmp, 'tls.crt'), key = path.join(tmp, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
  { stdio: 'ignore', timeout: 20000 });
  const rport = await freePort(), port = await freePort();
  start('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp]);
  const base = `https://127.0.0.1:${port}`;
  const cojamd = start(COJAMD, ['--listen', `127.0.0.1:${port}`, '--redis', `127.0.0.1:${rport}`,
    '--web-root', path.join(repo, 'web-client/public'), '--data-dir', path.join(tmp, 'data'), '--tls-cert', cert, '--tls-key', key]);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic', '--ignore-certificate-errors'],
    timeout: T,
  });
  const problems = [], sockets = [];
  async function newPage(name, opts = {}) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, ...opts });
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
    page.on('websocket', (ws) => sockets.push(`${name} ${ws.url()}`));
    return { ctx, page, name };
  }
  const org = await newPage('organise');
  await until(async () => {
    if (cojamd.exited) throw new Error('cojamd exited: ' + JSON.stringify(cojamd.exited) + '\n' + cojamd.tail());
    return (await org.page.goto(base + '/healthz')).ok();
  }, 'cojamd /healthz over https');

  let links = null;
  await test('organise.html over https creates a jam with https:// links', async () => {
    await org.page.goto(base + '/organise.html');
    await org.page.fill('#org-token', ADMIN);
    await org.page.fill('#org-jam-title', 'Secure streets');
    await org.page.fill('#org-question', 'How do we keep our streets cool in summer?');
    await org.page.click('#org-create');
    await org.page.waitForSelector('#link-join');
    links = {
      join: await org.page.getAttribute('#link-join', 'href'),
      moderate: await org.page.getAttribute('#link-moderate', 'href'),
      screen: await org.page.getAttribute('#link-screen', 'href'),
    };
    for (const k of ['join', 'moderate', 'screen']) assert(links[k].startsWith(base + '/'), `${k} link: ${links[k]}`);
  });
  if (!links) throw new Error('no jam: cannot go on');

  const mod = await newPage('moderate', { viewport: { width: 1280, height: 900 } });
  const scr = await newPage('screen', { viewport: { width: 1280, height: 720 } });
  const phone = await newPage('participant', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  await test('moderator, screen and a phone join over wss:// and the phone posts and votes', async () => {
    await mod.page.goto(links.moderate);
    await mod.page.waitForSelector('#btn-start:visible');
    await scr.page.goto(links.screen);
    await phone.page.goto(links.join);
    await phone.page.fill('#join-nick', 'Ana');
    await phone.page.click('#join-btn');
    await phone.page.waitForSelector('#jam-view:visible');
    await mod.page.click('#btn-start');
    await until(async () => (await phone.page.textContent('#phase-name')).includes('Explore'), 'the phone sees the phase');
    await phone.page.click('#tab-post');
    await phone.page.fill('#post-text', 'Bus stops have no shade');
    await phone.page.click('#post-btn');
    await until(async () => (await phone.page.getAttribute('#post-status', 'data-kind')) === 'ok', 'post acknowledged');
    await until(async () => (await scr.page.$$('#s-list > li')).length === 1, 'the post on the screen');
    await phone.page.click('#tab-rank');
    await phone.page.click('#rank-lists .vote-btn');
    await until(async () => (await phone.page.getAttribute('#rank-lists .vote-btn', 'aria-pressed')) === 'true', 'vote acknowledged');
    await until(async () => (await mod.page.textContent('#st-votes')) === '1', 'the moderator counts the vote');
  });
  await test('every WebSocket was wss:// and no page failed', async () => {
    assert(sockets.length >= 3, 'WebSockets seen: ' + JSON.stringify(sockets));
    for (const s of sockets) assert(s.split(' ')[1].startsWith(`wss://127.0.0.1:${port}/`), 'not wss: ' + s);
    assert(problems.length === 0, problems.join('\n'));
  });
}

try {
  await main();
} catch (e) {
  failed++;
  console.log('not ok - tls browser test setup');
  for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 8)) console.log('#   ' + line);
}
try { if (browser) await browser.close(); } catch { /* ignore */ }
cleanup();
clearTimeout(watchdog);
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
