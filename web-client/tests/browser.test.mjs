// Browser tests of the web client against the real cojamd (and a private redis-server).
// Run: cd web-client/tests && npm ci && node browser.test.mjs
// Env: COJAMD (path of the cojamd binary; default ../../build/debug/cojamd),
//      SCREENSHOT_DIR (where the page screenshots go; default ../../build/screenshots),
//      COJAM_URL (use an already running server instead of starting redis + cojamd; for development).
// Prints TAP lines and ends with "# N passed, N failed". Exit code 0 only if everything passed.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { shots, ADMIN, T, procs, until, startCojam, launchChromium, cleanup, freePort } from './servers.mjs';

const HOSTILE = '<img src=x onerror=window.__xss=1>';

let browser = null;
let passed = 0, failed = 0, n = 0;

function log(...a) { console.log('#', ...a); }
async function test(name, fn) {
  n++;
  try {
    await fn();
    passed++;
    console.log(`ok ${n} - ${name}`);
    return true;
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 6)) console.log('#   ' + line);
    return false;
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }

// A loopback TCP proxy between a page and cojamd that can stop forwarding in both directions without
// closing either socket ("black hole": a mobile network dropping packets), and later deliver all it
// held in order, as TCP retransmission does once the network is back. Closes are held the same way.
function blackHoleProxy(targetPort, listenPort = 0) {
  let holed = false;
  const held = [];
  const later = (fn) => { if (holed) held.push(fn); else fn(); };
  const sockets = new Set();
  const server = net.createServer((client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { /* the close follows */ });
    }
    const wire = (a, b) => {
      a.on('data', (d) => later(() => { if (!b.destroyed) b.write(d); }));
      a.on('end', () => later(() => b.end()));
      a.on('close', () => later(() => b.destroy()));
    };
    wire(client, up);
    wire(up, client);
  });
  const proxy = {
    port: 0,
    listen: () => new Promise((resolve) => server.listen(listenPort, '127.0.0.1', () => { proxy.port = server.address().port; resolve(); })),
    hole() { holed = true; },
    heal() { holed = false; while (held.length) held.shift()(); },
    close() { server.close(); for (const s of sockets) s.destroy(); },
  };
  return proxy;
}

const watchdog = setTimeout(async () => {
  console.log('not ok - the whole run took longer than 210 s');
  failed++;
  console.log(`# ${passed} passed, ${failed} failed`);
  try { if (browser) await browser.close(); } catch { /* ignore */ }
  cleanup();
  process.exit(1);
}, 210000);
process.on('SIGINT', () => { cleanup(); process.exit(130); });

let proxyPort = 0; // reserved before cojamd starts, so that its Origin can be allowed

async function main() {
  let base = process.env.COJAM_URL;
  // A small ring, so that a short absence resumes from the stream. The black-hole proxy's page has
  // its own origin: a browser behind it sends that Origin, so the server allows it too.
  proxyPort = await freePort();
  if (!base) base = await startCojam(['--ring-frames', '8'], [`http://127.0.0.1:${proxyPort}`]);
  log('server at', base);

  browser = await launchChromium();
  const problems = [];
  async function newPage(name, opts = {}) {
    const ctx = await browser.newContext(opts);
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(m.text())) problems.push(`${name}: console: ${m.text()}`); });
    return { ctx, page, name };
  }
  const phone = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

  // ------------------------------------------------------------ organiser creates a jam
  const org = await newPage('organise', { viewport: { width: 1000, height: 900 } });
  let links = null;
  await test('organiser creates a jam on organise.html and gets three absolute links', async () => {
    await org.page.goto(base + '/organise.html');
    await org.page.fill('#org-token', ADMIN);
    await org.page.fill('#org-jam-title', 'Cooler streets');
    await org.page.fill('#org-question', 'How do we keep our streets cool in summer?');
    await org.page.uncheck('#use-design');
    await org.page.uncheck('#use-diffuse');
    await org.page.fill('#dur-explore', '10');
    await org.page.fill('#dur-ideate', '15');
    await org.page.click('#org-create');
    await org.page.waitForSelector('#link-join');
    links = {
      join: await org.page.getAttribute('#link-join', 'href'),
      moderate: await org.page.getAttribute('#link-moderate', 'href'),
      screen: await org.page.getAttribute('#link-screen', 'href'),
    };
    log('links', JSON.stringify({ ...links, moderate: links.moderate.replace(/\..*$/, '.<secret>') }));
    for (const k of ['join', 'moderate', 'screen']) assert(/^https?:\/\/[^/]+\//.test(links[k]), `${k} link is not absolute: ${links[k]}`);
    assert(/\/#\d{6}$/.test(links.join), 'join link format: ' + links.join);
    assert(/\/moderate\.html#\d{6}\..+$/.test(links.moderate), 'moderate link format');
    assert(/\/screen\.html#\d{6}$/.test(links.screen), 'screen link format: ' + links.screen);
    const qr = await org.page.getAttribute('#org-qr', 'data-qr-text');
    assert(qr === links.join, 'the QR code encodes the participant link');
  });
  if (!links) throw new Error('no jam: cannot go on');
  // Links are built from the server's --public-url; the pages under test are on `base`.
  const local = (u) => base + new URL(u).pathname + new URL(u).hash;
  const code = /#(\d{6})$/.exec(links.join)[1];

  // ------------------------------------------------------------ everybody opens their page
  const mod = await newPage('moderate', { viewport: { width: 1280, height: 900 } });
  const scr = await newPage('screen', { viewport: { width: 1280, height: 720 } });
  const p1 = await newPage('participant1', phone);
  const p2 = await newPage('participant2', phone);
  const all = [mod, scr, p1, p2];

  await test('moderator console opens with the moderator link', async () => {
    await mod.page.goto(local(links.moderate));
    await mod.page.waitForSelector('#btn-start:visible');
    assert((await mod.page.textContent('#jam-title')) === 'Cooler streets');
    const secret = links.moderate.split('.').pop();
    assert(!mod.page.url().includes(secret), 'the secret leaves the address bar');
    await mod.page.reload();
    await mod.page.waitForSelector('#btn-start:visible');
  });
  await test('screen shows the join code, a local QR code and the question', async () => {
    await scr.page.goto(local(links.screen));
    await until(async () => (await scr.page.textContent('#s-question')).includes('cool in summer'), 'question on screen');
    const shown = (await scr.page.textContent('#s-code')).replace(/\s/g, '');
    assert(shown === code, `code ${shown} vs ${code}`);
    const qr = await until(() => scr.page.getAttribute('#s-qr', 'data-qr-text'), 'the QR code drawn');
    assert(qr === links.join, `QR text ${qr} vs the join link ${links.join}`);
  });
  async function joinAs(p, nick) {
    await p.page.goto(local(links.join));
    assert((await p.page.inputValue('#join-code')) === code, 'the link fills in the code');
    // The looked-up title appears above the fields and moves them down: a click aimed before it
    // can land beside the checkbox (a fresh Debian 12 run: "Clicking the checkbox did not change
    // its state"), so wait for it first, as a user reads it first.
    await until(async () => (await p.page.textContent('#join-found')).includes('Cooler streets'), 'the jam title is looked up');
    if (nick) await p.page.fill('#join-nick', nick);
    else await p.page.check('#join-anon');
    if (nick === 'Ana') {
      fs.mkdirSync(shots, { recursive: true });
      await p.page.screenshot({ path: path.join(shots, 'participant-join.png') });
    }
    await p.page.click('#join-btn');
    await p.page.waitForSelector('#jam-view:visible');
    await until(async () => (await p.page.textContent('#phase-name')) !== '', 'phase name');
  }
  await test('two participants join from /#code (one named, one anonymous)', async () => {
    await joinAs(p1, 'Ana');
    await joinAs(p2, null);
    assert((await p1.page.textContent('#phase-name')).includes('Waiting'), 'lobby shown');
  });

  // ------------------------------------------------------------ start
  const phaseIs = async (p, sel, name) => until(async () => (await p.page.textContent(sel)).includes(name), `${p.name} shows ${name}`);
  await test('moderator starts: every page shows the phase and a running countdown', async () => {
    await mod.page.click('#btn-start');
    await until(async () => (await mod.page.textContent('#action-log')).includes('done'), 'ack of start in the log');
    await phaseIs(mod, '#phase-name', 'Explore');
    await phaseIs(scr, '#s-phase', 'Explore');
    await phaseIs(p1, '#phase-name', 'Explore');
    await phaseIs(p2, '#phase-name', 'Explore');
    for (const [p, sel] of [[mod, '#clock'], [scr, '#s-clock'], [p1, '#clock'], [p2, '#clock']]) {
      await until(async () => /^(9|10):\d\d$/.test(await p.page.textContent(sel)), `${p.name} countdown`);
    }
    const a = await scr.page.textContent('#s-clock');
    await until(async () => (await scr.page.textContent('#s-clock')) !== a, 'the screen countdown ticks', 3000);
  });

  // ------------------------------------------------------------ posting
  async function post(p, text, parentText) {
    await p.page.click('#tab-post');
    if (parentText) {
      const value = await p.page.evaluate((t) => {
        const o = Array.from(document.querySelectorAll('#post-parent option')).find((x) => x.textContent.includes(t));
        return o ? o.value : null;
      }, parentText);
      assert(value, 'parent option for ' + parentText);
      await p.page.selectOption('#post-parent', value);
    }
    await p.page.fill('#post-text', text);
    await p.page.click('#post-btn');
    await until(async () => (await p.page.getAttribute('#post-status', 'data-kind')) === 'ok', `${p.name} post acknowledged`);
  }
  const itemId = async (p, text) => p.page.evaluate((t) => {
    for (const it of window.cojam.state.items.values()) if (it.text === t) return it.id;
    return null;
  }, text);
  const screenOrder = async () => scr.page.$$eval('#s-list > li', (lis) => lis.map((li) => Number(li.dataset.key)));

  let idShade = null, idHostile = null;
  await test('participants post problems; they appear on the screen and in the moderator list', async () => {
    await post(p1, 'Bus stops have no shade');
    await post(p2, HOSTILE);
    idShade = await until(() => itemId(scr, 'Bus stops have no shade'), 'item on screen state');
    idHostile = await until(() => itemId(scr, HOSTILE), 'hostile item on screen state');
    await until(async () => (await screenOrder()).length === 2, 'two rows on the screen');
    await until(async () => (await mod.page.$$('#items-body tr')).length === 2, 'two rows for the moderator');
    const auth = await mod.page.textContent('#items-body');
    assert(auth.includes('Ana') && auth.includes('explorer') && auth.includes('citizen'), 'author, role and citizen/moderator shown to the moderator');
  });

  await test('hostile text is shown as text everywhere and never runs', async () => {
    const texts = await scr.page.$$eval('#s-list .s-text', (els) => els.map((e) => e.textContent));
    assert(texts.includes(HOSTILE), 'screen shows the raw text');
    await p1.page.click('#tab-rank');
    await until(async () => (await p1.page.$$eval('#rank-lists .item-text', (els) => els.map((e) => e.textContent))).includes(HOSTILE), 'participant shows the raw text');
    assert((await mod.page.textContent('#items-body')).includes(HOSTILE), 'moderator shows the raw text');
    for (const p of all) {
      assert(await p.page.evaluate(() => window.__xss === undefined), `${p.name}: window.__xss stays undefined`);
      assert((await p.page.$$('main img, #stage img, #s-list img, #items-body img')).length === 0, `${p.name}: no <img> injected`);
    }
  });

  // ------------------------------------------------------------ voting reorders the screen
  await test('a vote on one phone reorders the screen ranking (and the budget shows)', async () => {
    assert(JSON.stringify(await screenOrder()) === JSON.stringify([idShade, idHostile]), 'equal votes: earlier item first');
    await scr.page.evaluate(() => {
      window.__flip = 0;
      new MutationObserver((ms) => { for (const m of ms) if (/translateY\((?!0px)/.test(m.target.style.transform)) window.__flip++; })
        .observe(document.getElementById('s-list'), { subtree: true, attributes: true, attributeFilter: ['style'] });
    });
    await p2.page.click('#tab-rank');
    await p2.page.click(`#rank-lists li[data-key="${idHostile}"] .vote-btn`);
    await until(async () => (await p2.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'true', 'vote acknowledged');
    await until(async () => JSON.stringify(await screenOrder()) === JSON.stringify([idHostile, idShade]), 'screen reordered');
    assert(await scr.page.evaluate(() => window.__flip >= 2), 'the rows glided to their new places (FLIP transforms)');
    assert((await p2.page.textContent('#budget')).includes('4 of 5'), 'budget shows 4 of 5: ' + await p2.page.textContent('#budget'));
    await until(async () => (await mod.page.textContent('#st-votes')) === '1', 'moderator vote count');
  });

  await test('a participant retracts a vote and gets the budget back', async () => {
    await p2.page.click(`#rank-lists li[data-key="${idHostile}"] .vote-btn`);
    await until(async () => (await p2.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'false', 'unvote acknowledged');
    assert((await p2.page.textContent('#budget')).includes('5 of 5'), 'budget back to 5');
    await until(async () => JSON.stringify(await screenOrder()) === JSON.stringify([idShade, idHostile]), 'screen back to id order');
    await p2.page.click(`#rank-lists li[data-key="${idHostile}"] .vote-btn`);
    await until(async () => (await p2.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'true', 'vote again');
  });

  // ------------------------------------------------------------ connection drop
  await test('a participant whose network drops sees it, votes while offline, and comes back with the votes', async () => {
    await p1.page.click('#tab-rank');
    await p1.page.click(`#rank-lists li[data-key="${idShade}"] .vote-btn`);
    await until(async () => (await p1.page.getAttribute(`#rank-lists li[data-key="${idShade}"] .vote-btn`, 'aria-pressed')) === 'true', 'p1 vote 1');
    await p1.ctx.setOffline(true);
    try {
      await p1.page.evaluate(() => { if (window.cojam.conn.ws) window.cojam.conn.ws.close(); });
      await p1.page.waitForSelector('#conn-banner:visible');
      // a write made while offline is queued and sent with the same op after the reconnect
      await p1.page.click(`#rank-lists li[data-key="${idHostile}"] .vote-btn`);
      await until(async () => (await p1.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-busy')) === 'true', 'queued vote shown as pending', 3000);
      fs.mkdirSync(shots, { recursive: true });
      await p1.page.screenshot({ path: path.join(shots, 'participant-offline.png') });
    } finally {
      await p1.ctx.setOffline(false);
    }
    await p1.page.waitForSelector('#conn-banner', { state: 'hidden', timeout: 20000 });
    await until(async () => (await p1.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'true', 'queued vote acknowledged after reconnect', 15000);
    assert((await p1.page.getAttribute(`#rank-lists li[data-key="${idShade}"] .vote-btn`, 'aria-pressed')) === 'true', 'first vote kept');
    assert((await p1.page.textContent('#budget')).includes('3 of 5'), 'budget 3 of 5: ' + await p1.page.textContent('#budget'));
    await until(async () => (await mod.page.textContent('#st-votes')) === '3', 'three votes counted once each');
    assert(await p1.page.evaluate(() => window.cojam.conn.pending.size === 0), 'nothing left pending');
  });

  await test('after a reload the participant rejoins with the stored token: same identity and votes, draft kept', async () => {
    const before = await mod.page.textContent('#st-participants');
    await p1.page.click('#tab-post');
    await p1.page.fill('#post-text', 'Half-typed draft');
    await p1.page.reload();
    await p1.page.waitForSelector('#jam-view:visible');
    await until(async () => (await p1.page.inputValue('#post-text')) === 'Half-typed draft', 'draft restored');
    await p1.page.click('#tab-rank');
    await until(async () => (await p1.page.getAttribute(`#rank-lists li[data-key="${idShade}"] .vote-btn`, 'aria-pressed')) === 'true', 'votes restored from the server');
    assert((await p1.page.textContent('#you-are')).includes('Ana'), 'same nickname');
    const url = p1.page.url();
    assert(!/token/i.test(url) && !url.includes('djF8'), 'no token in the URL');
    await new Promise((r) => setTimeout(r, 300));
    assert((await mod.page.textContent('#st-participants')) === before, 'no new participant created');
  });

  await test('a dropped WebSocket (server side gone) is detected and repaired without a reload', async () => {
    await p2.page.evaluate(() => { window.__droppedWs = window.cojam.conn.ws; window.cojam.conn.dropConnection(); });
    // 'joined' stays true until the old socket's close event: wait for the new connection's welcome
    // (else the next test would change lastEventId while the rejoin is still to be sent).
    await until(async () => p2.page.evaluate(() => window.cojam.conn.joined && window.cojam.conn.ws !== window.__droppedWs), 're-joined on a new connection');
    assert((await p2.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'true', 'vote still there');
  });

  await test('a gap in the event ids (update.prev after the last seen id) makes the client sync and resume', async () => {
    await p2.page.evaluate(() => {
      window.__gaps = 0; window.__resyncs = 0;
      window.cojam.conn.on('gap', () => { window.__gaps++; });
      window.cojam.conn.on('snapshot', (d) => { if (d.msg.resync) window.__resyncs++; });
      window.cojam.state.lastEventId = '1-0'; // pretend we missed everything since
    });
    await p1.page.click(`#rank-lists li[data-key="${idHostile}"] .vote-btn`); // any event will do
    await until(async () => p2.page.evaluate(() => window.__gaps >= 1 && window.__resyncs >= 1), 'sync sent and a resync snapshot applied');
    await until(async () => p2.page.evaluate(() => window.cojam.state.lastEventId !== '1-0'), 'last seen id restored');
    await until(async () => (await p1.page.getAttribute(`#rank-lists li[data-key="${idHostile}"] .vote-btn`, 'aria-pressed')) === 'false', 'unvote acknowledged');
    await until(async () => (await p2.page.textContent(`#rank-lists li[data-key="${idHostile}"] .item-votes`)).includes('1 vote'), 'p2 sees the new count');
  });

  await test('a participant away for longer than the server\'s ring holds resumes from the stream: nothing missed, no snapshot', async () => {
    await p2.page.evaluate(() => {
      window.__welcome = null; window.__snaps = 0;
      window.cojam.conn.on('welcome', (m) => { window.__welcome = m; });
      window.cojam.conn.on('snapshot', () => { window.__snaps++; });
    });
    await p2.ctx.setOffline(true);
    try {
      await p2.page.evaluate(() => { if (window.cojam.conn.ws) window.cojam.conn.ws.close(); });
      await p2.page.waitForSelector('#conn-banner:visible');
      for (let i = 0; i < 12; i++) { // a post per broadcast tick: more frames than the ring's 8
        await p1.page.evaluate((n) => window.cojam.conn.write({ type: 'post', kind: 'problem', text: `Missed ${n}` }), i);
        await new Promise((r) => setTimeout(r, 80));
      }
    } finally {
      await p2.ctx.setOffline(false);
    }
    await p2.page.waitForSelector('#conn-banner', { state: 'hidden', timeout: 20000 });
    await until(() => p2.page.evaluate(() => window.__welcome !== null), 'p2 rejoined');
    assert(await p2.page.evaluate(() => window.__welcome.resumed === true), 'welcome.resumed');
    await until(() => p2.page.evaluate(() => [...window.cojam.state.items.values()].filter((it) => /^Missed /.test(it.text || '')).length === 12), 'all 12 missed posts in p2\'s state');
    await until(async () => (await p2.page.textContent('#rank-lists')).includes('Missed 11'), 'the last missed post on p2\'s page');
    assert(await p2.page.evaluate(() => window.__snaps === 0), 'no snapshot: the missed updates came instead');
    const ids = (pg) => pg.evaluate(() => window.cojam.state.lastEventId);
    await until(async () => (await ids(p2.page)) === (await ids(p1.page)), 'p2 at the same event id as p1');
  });

  // ------------------------------------------------------------ phase change, moderation
  await test('moderator moves to Ideate: every page shows it with the new countdown', async () => {
    await mod.page.click('#phase-buttons button[data-phase="ideate"]');
    await phaseIs(mod, '#phase-name', 'Ideate');
    await phaseIs(scr, '#s-phase', 'Ideate');
    await phaseIs(p1, '#phase-name', 'Ideate');
    await phaseIs(p2, '#phase-name', 'Ideate');
    for (const [p, sel] of [[mod, '#clock'], [scr, '#s-clock'], [p1, '#clock'], [p2, '#clock']]) {
      await until(async () => /^1[45]:\d\d$/.test(await p.page.textContent(sel)), `${p.name} 15-minute countdown`);
    }
    assert((await p1.page.textContent('#budget')).includes('5 of 5'), 'a fresh budget in the new phase');
  });

  await test('an idea builds on a problem; the screen ranks ideas', async () => {
    await post(p1, 'Plant trees at every stop', 'Bus stops have no shade');
    await until(async () => (await scr.page.textContent('#s-rank-title')).includes('Ideas'), 'screen ranks ideas');
    await until(async () => (await scr.page.textContent('#s-list')).includes('Plant trees'), 'idea on screen');
    assert((await scr.page.textContent('#s-list')).includes('Bus stops have no shade'), 'lineage shown on screen');
    await p1.page.click('#tab-mine');
    await until(async () => (await p1.page.textContent('#mine-list')).includes('rank 1 of 1 ideas'), 'my contributions with rank');
  });

  await test('pause and resume are shown only when the server confirms them', async () => {
    await mod.page.click('#btn-pause');
    await until(async () => (await mod.page.getAttribute('#clock-state', 'data-state')) === 'paused', 'paused');
    await phaseIs(p2, '#phase-help', 'paused');
    await mod.page.click('#btn-resume');
    await until(async () => (await mod.page.getAttribute('#clock-state', 'data-state')) === 'running', 'running again');
  });

  await test('moderator hides an item: it leaves the participants\' ranking', async () => {
    await mod.page.selectOption('#kind-filter', 'problem');
    await mod.page.click(`#items-body tr[data-key="${idHostile}"] .hide-btn`);
    await mod.page.fill(`#items-body tr[data-key="${idHostile}"] .hide-form input`, 'test');
    await mod.page.click(`#items-body tr[data-key="${idHostile}"] .hide-form button[type="submit"]`);
    await until(async () => (await mod.page.textContent(`#items-body tr[data-key="${idHostile}"] .state`)).includes('hidden'), 'hidden for the moderator');
    await mod.page.selectOption('#kind-filter', '');
    await until(async () => p2.page.evaluate((id) => window.cojam.state.items.get(id).hidden === true, idHostile), 'hidden for the participant');
  });

  await test('a busier jam: several ideas and votes, the screen shows the top with vote bars', async () => {
    await post(p2, 'Misting fans on the main square');
    await post(p1, 'Light-coloured pavements');
    await post(p2, 'Open school yards as cool islands');
    const ideas = ['Misting fans on the main square', 'Open school yards as cool islands', 'Plant trees at every stop'];
    await p1.page.click('#tab-rank');
    await p2.page.click('#tab-rank');
    for (const [p, list] of [[p1, ideas], [p2, ideas.slice(1, 2)]]) {
      for (const text of list) {
        const id = await itemId(p, text);
        await p.page.click(`#rank-lists li[data-key="${id}"] .vote-btn`);
        await until(async () => (await p.page.getAttribute(`#rank-lists li[data-key="${id}"] .vote-btn`, 'aria-pressed')) === 'true', 'vote on ' + text);
      }
    }
    await until(async () => (await scr.page.$$('#s-list > li')).length === 4, 'four ideas on the screen');
    await until(async () => (await scr.page.textContent('#s-list > li:first-child .s-text')) === 'Open school yards as cool islands', 'the most voted idea on top of the screen');
  });

  // ------------------------------------------------------------ a phone behind a black hole
  // p3 reaches the server through a loopback TCP proxy that can stop forwarding both ways without
  // closing anything (packets silently dropped, as on a dead mobile network) and later deliver what
  // it held, as TCP retransmission would once the network is back.
  const proxy = blackHoleProxy(Number(new URL(base).port), proxyPort);
  const viaProxy = (u) => `http://127.0.0.1:${proxy.port}` + new URL(u).pathname + new URL(u).hash;
  await proxy.listen();
  const small = { viewport: { width: 320, height: 568 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
  const p3 = await newPage('participant3', small);
  const sizes = [['320x568', 320, 568], ['360x740', 360, 740], ['1280x800', 1280, 800]];
  async function shoot(p, state) {
    fs.mkdirSync(shots, { recursive: true });
    const was = p.page.viewportSize();
    for (const [name, w, hgt] of sizes) {
      await p.page.setViewportSize({ width: w, height: hgt });
      await new Promise((r) => setTimeout(r, 150)); // a frame or two for the re-render
      await p.page.screenshot({ path: path.join(shots, `participant-${state}-${name}.png`) });
    }
    await p.page.setViewportSize(was);
  }
  const votesOf = (id) => scr.page.evaluate((i) => window.cojam.state.items.get(i).votes || 0, id);
  const pressed = async (p, id) => (await p.page.getAttribute(`#rank-lists li[data-key="${id}"] .vote-btn`, 'aria-pressed')) === 'true';
  const shownOrder = (p) => p.page.$$eval('#rank-lists .kind-section ol > li', (lis) => lis.map((li) => Number(li.dataset.key)));

  await test('a phone behind a black-holed network shows the loss within 5.5 s in plain words and recovers, its votes counted once', async () => {
    await p3.page.goto(viaProxy(links.join));
    await p3.page.fill('#join-nick', 'Dana');
    await p3.page.click('#join-btn');
    await p3.page.waitForSelector('#jam-view:visible');
    await p3.page.click('#tab-rank');
    const order = await until(async () => { const o = await shownOrder(p3); return o.length >= 4 && o; }, 'p3 ranking');
    const [idA, idB] = order.slice(-2); // the last two: the stable-list test below needs the top unvoted
    await p3.page.click(`#rank-lists li[data-key="${idA}"] .vote-btn`);
    await until(() => pressed(p3, idA), 'p3 vote A acknowledged');
    await until(async () => (await p3.page.textContent('#conn-pill')) === 'Live', 'p3 live');
    const votesA = await until(async () => { const v = await votesOf(idA); return v > 0 && v; }, 'vote A on the screen');
    const votesB = await votesOf(idB);
    const totalBefore = Number(await mod.page.textContent('#st-votes'));
    await shoot(p3, 'live');

    proxy.hole();
    const t0 = Date.now();
    await p3.page.click(`#rank-lists li[data-key="${idB}"] .vote-btn`); // sent into the hole
    await p3.page.waitForSelector('#conn-banner:visible', { timeout: 12000 });
    const dead = Date.now() - t0;
    log(`black hole seen as lost after ${dead} ms`);
    // The bound (conn.js): 2 s idle + 3 s for the pong + two 0.25 s ticks; 2 s more for a busy machine.
    assert(dead <= 5500 + 2000, `lost after ${dead} ms, the bound is 5.5 s`);
    const banner = await p3.page.textContent('#conn-banner .conn-label');
    assert(/^Connection lost — /.test(banner), 'plain words: ' + banner);
    const pill = await p3.page.$eval('#conn-pill', (el) => ({ text: el.textContent, state: el.dataset.state, color: getComputedStyle(el).color }));
    assert(pill.text === 'Offline' && pill.state !== 'online', 'the pill is not "Live": ' + JSON.stringify(pill));
    assert(!/rgb\(10, 107, 47\)/.test(pill.color), 'nothing green: ' + pill.color);
    const btnB = `#rank-lists li[data-key="${idB}"] .vote-btn`;
    assert((await p3.page.textContent(btnB)) === 'Not sent', 'the vote into the hole says it is not sent: ' + await p3.page.textContent(btnB));
    assert((await p3.page.getAttribute(btnB, 'aria-busy')) === 'true', 'and is still pending');
    await shoot(p3, 'dead');
    await until(async () => (await p3.page.getAttribute('#conn-banner', 'data-state')) === 'reconnecting', 'a reconnection try in flight', 8000);
    assert((await p3.page.textContent('#conn-banner .conn-label')) === 'Connection lost — reconnecting…', 'reconnecting in plain words');
    await shoot(p3, 'reconnecting');

    proxy.heal();
    const t1 = Date.now();
    await p3.page.waitForSelector('#conn-banner', { state: 'hidden', timeout: 15000 });
    const back = Date.now() - t1;
    log(`live again ${back} ms after the network came back`);
    // The bound: at most one backoff step (5 s cap) + the connection; 3 s more for a busy machine.
    assert(back <= 5000 + 3000, `live again after ${back} ms`);
    assert((await p3.page.textContent('#conn-pill')) === 'Live', 'Live again');
    await until(() => pressed(p3, idB), 'the vote sent into the hole is acknowledged');
    assert(await pressed(p3, idA), 'the first vote kept');
    await until(async () => (await votesOf(idB)) === votesB + 1, 'vote B counted');
    await until(async () => Number(await mod.page.textContent('#st-votes')) === totalBefore + 1, 'the total counts vote B');
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would have arrived by now
    assert((await votesOf(idB)) === votesB + 1 && (await votesOf(idA)) === votesA, 'each vote counted exactly once');
    assert(Number(await mod.page.textContent('#st-votes')) === totalBefore + 1, 'no duplicate in the total');
    assert(await p3.page.evaluate(() => window.cojam.conn.pending.size === 0), 'nothing left pending');
  });

  await test('a vote keeps the tapped item where it is until the user scrolls; then the order catches up', async () => {
    await p3.page.click('#tab-rank');
    // An item that one more vote moves up (votes desc, then id asc), the lowest such in the list.
    const id = await p3.page.evaluate(() => {
      const st = window.cojam.state;
      const lis = [...document.querySelectorAll('#rank-lists .kind-section ol > li')];
      let best = null;
      for (let k = 1; k < lis.length; k++) {
        const me = st.items.get(Number(lis[k].dataset.key));
        const above = st.items.get(Number(lis[k - 1].dataset.key));
        const btn = lis[k].querySelector('.vote-btn');
        if (btn.hidden || btn.disabled || st.you.votes.has(me.id)) continue;
        const v = (me.votes || 0) + 1;
        const av = above.votes || 0;
        if (av < v || (av === v && above.id > me.id)) best = me.id;
      }
      return best;
    });
    assert(id, 'an item that a vote moves up');
    const sel = `#rank-lists li[data-key="${id}"]`;
    const before = await shownOrder(p3);
    await p3.page.$eval(sel, (el) => el.scrollIntoView({ block: 'center' }));
    await new Promise((r) => setTimeout(r, 300));
    const box0 = await p3.page.locator(sel).boundingBox();
    const rank0 = await p3.page.textContent(`${sel} .item-rank`);
    await p3.page.evaluate(() => {
      window.__moves = 0;
      new MutationObserver((ms) => { for (const m of ms) if (/translateY\((?!0px)/.test(m.target.style.transform)) window.__moves++; })
        .observe(document.getElementById('rank-lists'), { subtree: true, attributes: true, attributeFilter: ['style'] });
    });
    await p3.page.click(`${sel} .vote-btn`);
    await until(() => pressed(p3, id), 'vote acknowledged');
    await until(async () => (await p3.page.textContent(`${sel} .item-rank`)) !== rank0, 'the rank shown is the new one');
    await new Promise((r) => setTimeout(r, 500)); // any re-render has happened
    const box1 = await p3.page.locator(sel).boundingBox();
    assert(Math.abs(box1.y - box0.y) < 1 && Math.abs(box1.x - box0.x) < 1, `the tapped item stayed put: ${JSON.stringify(box0)} -> ${JSON.stringify(box1)}`);
    assert(JSON.stringify(await shownOrder(p3)) === JSON.stringify(before), 'the order shown is held');
    const truth = await p3.page.evaluate(() => window.cojam.state.rankedItems('idea').map((it) => it.id));
    assert(JSON.stringify(truth) !== JSON.stringify(before), 'the true order did change');
    const under = await p3.page.evaluate(([x, y]) => document.elementFromPoint(x, y).closest('li').dataset.key, [box0.x + box0.width - 20, box0.y + box0.height / 2]);
    assert(Number(under) === id, 'a second tap in the same place still hits the same item');
    assert(await p3.page.getAttribute(sel, 'data-moved') === 'up', 'the item is marked as going up');
    await p3.page.mouse.wheel(0, (await p3.page.evaluate(() => window.scrollY)) > 60 ? -120 : 120);
    await until(async () => JSON.stringify(await shownOrder(p3)) === JSON.stringify(truth), 'the order caught up after the scroll', 3000);
    assert(await p3.page.evaluate(() => window.__moves >= 1), 'the rows glided (FLIP transforms)');
  });

  await test('"Leave this jam" asks first and says what is lost; Stay keeps the identity, Leave forgets it', async () => {
    await p3.page.click('#tab-mine');
    await p3.page.click('#leave-btn');
    await p3.page.waitForSelector('#leave-dialog[open]');
    const text = await p3.page.textContent('#leave-dialog');
    assert(text.includes('Dana') && text.includes('Cooler streets'), 'names who and which jam: ' + text);
    assert(/identity/.test(text) && /votes stay counted/.test(text) && /no longer change/.test(text) && /new participant/.test(text), 'says what is lost: ' + text);
    assert(await p3.page.evaluate(() => document.activeElement.id === 'leave-cancel'), 'the safe choice has the focus');
    await shoot(p3, 'leave-dialog');
    await p3.page.click('#leave-cancel');
    await p3.page.waitForSelector('#leave-dialog:not([open])', { state: 'attached' });
    assert(await p3.page.evaluate((c) => !!localStorage.getItem('cojam.token.' + c) && window.cojam.conn.joined, code), 'Stay keeps the identity');
    const votes = await mod.page.textContent('#st-votes');
    await p3.page.click('#leave-btn');
    await p3.page.keyboard.press('Escape');
    await p3.page.waitForSelector('#leave-dialog:not([open])', { state: 'attached' });
    assert(await p3.page.evaluate((c) => !!localStorage.getItem('cojam.token.' + c), code), 'Escape keeps the identity too');
    await p3.page.click('#leave-btn');
    await p3.page.click('#leave-confirm');
    await p3.page.waitForSelector('#join-view:visible');
    assert(await p3.page.evaluate((c) => localStorage.getItem('cojam.token.' + c) === null, code), 'the token is gone');
    await new Promise((r) => setTimeout(r, 300));
    assert((await mod.page.textContent('#st-votes')) === votes, 'the votes stay counted');
  });

  await test('on a 320×568 phone a long question folds, opens on demand, and the Post button stays above the fold', async () => {
    const question = 'How can our neighbourhood stay liveable during ever longer and hotter summers, '
      + 'for the elderly, for children and for people who work outside, without spending more energy '
      + 'on air conditioning and without cutting down what is left of the trees?';
    const r = await fetch(base + '/api/jams', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ title: 'Summer heat in the long term', question, agenda: [{ phase: 'explore', duration_s: 600 }] }),
    });
    assert(r.status === 201, 'jam 2 created: ' + r.status);
    const j = await r.json();
    const mod2 = await newPage('moderate2', { viewport: { width: 1000, height: 800 } });
    await mod2.page.goto(local(j.links.moderate));
    await mod2.page.click('#btn-start:visible');
    const p4 = await newPage('participant4', small);
    await p4.page.goto(local(j.links.join));
    await until(async () => (await p4.page.textContent('#join-found')).includes('Summer heat'), 'the jam title is looked up');
    await p4.page.check('#join-anon');
    await p4.page.click('#join-btn');
    await p4.page.waitForSelector('#post-form:visible');
    await until(async () => (await p4.page.textContent('#phase-name')).includes('Explore'), 'jam 2 running');
    await p4.page.waitForSelector('#question-more:visible');
    const fold = await p4.page.$eval('#question', (q) => ({ h: q.clientHeight, full: q.scrollHeight }));
    assert(fold.full > fold.h + 10, 'the question is folded: ' + JSON.stringify(fold));
    fs.mkdirSync(shots, { recursive: true });
    await p4.page.screenshot({ path: path.join(shots, 'participant-small-folded.png') });
    const btn = await p4.page.locator('#post-btn').boundingBox();
    const tabs = await p4.page.locator('#tabs').boundingBox();
    assert(btn.y >= 0 && btn.y + btn.height <= tabs.y, `the Post button is above the fold and the tab bar: ${JSON.stringify(btn)} / tabs at ${tabs.y}`);
    assert(await p4.page.evaluate(() => window.scrollY === 0), 'without scrolling');
    await p4.page.click('#question-more');
    assert((await p4.page.getAttribute('#question-more', 'aria-expanded')) === 'true', 'aria-expanded');
    const open = await p4.page.$eval('#question', (q) => ({ h: q.clientHeight, full: q.scrollHeight }));
    assert(open.h >= open.full - 1 && open.h > fold.h, 'the whole question shows: ' + JSON.stringify(open));
    assert(await p4.page.isVisible('#phase-help'), 'the phase help shows again');
    await p4.page.screenshot({ path: path.join(shots, 'participant-small-open.png') });
    await p4.page.click('#question-more');
    assert((await p4.page.$eval('#question', (q) => q.clientHeight)) === fold.h, 'folds again');
    await mod2.ctx.close();
    await p4.ctx.close();
  });
  await p3.ctx.close();
  proxy.close();

  await test('every visible control has an accessible name; focus is visible', async () => {
    for (const p of [org, mod, p1, p2]) {
      const unnamed = await p.page.evaluate(() => {
        const bad = [];
        for (const el of document.querySelectorAll('button, input, select, textarea, a[href]')) {
          if (el.offsetParent === null && el.type !== 'hidden') continue; // not rendered
          const name = (el.getAttribute('aria-label') || '').trim()
            || (el.labels && Array.from(el.labels).map((l) => l.textContent).join(' ').trim())
            || (['BUTTON', 'A'].includes(el.tagName) ? el.textContent.trim() : '');
          if (!name) bad.push(el.outerHTML.slice(0, 80));
        }
        return bad;
      });
      assert(unnamed.length === 0, `${p.name}: unnamed controls: ${unnamed.join(' | ')}`);
    }
    await p2.page.keyboard.press('Tab');
    const outline = await p2.page.evaluate(() => {
      const el = document.activeElement;
      return el && el !== document.body ? getComputedStyle(el).outlineStyle : 'none';
    });
    assert(outline !== 'none', 'keyboard focus shows an outline');
  });

  await test('no script errors or CSP violations on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });

  // ------------------------------------------------------------ another language
  await test('a phone with localStorage language de joins in German; the picker switches to French', async () => {
    const pde = await newPage('participant-de', phone);
    await pde.page.addInitScript(() => { if (!sessionStorage.getItem('lang-set')) { localStorage.setItem('cojam.lang', 'de'); sessionStorage.setItem('lang-set', '1'); } });
    await pde.page.goto(local(links.join));
    await pde.page.waitForSelector('#join-view:visible');
    assert((await pde.page.getAttribute('html', 'lang')) === 'de', 'html lang is de');
    assert((await pde.page.getAttribute('html', 'dir')) === 'ltr', 'html dir is ltr');
    assert((await pde.page.textContent('#join-h')) === 'Einem Jam beitreten', 'the join title is German');
    await pde.page.fill('#join-nick', 'Lena');
    await pde.page.click('#join-btn');
    await pde.page.waitForSelector('#jam-view:visible');
    await pde.page.click('#tab-rank');
    assert((await pde.page.textContent('#tab-rank')).includes('Rangliste'), 'the tabs are German');
    await until(async () => /\d+ Stimmen?|keine Stimmen/.test(await pde.page.textContent('#main')), 'vote counts are German');
    const rtl = await pde.page.$$eval('#main .item-text', (els) => els.length > 0 && els.every((e) => e.dir === 'auto'));
    assert(rtl, 'contributions carry dir=auto');
    fs.mkdirSync(shots, { recursive: true });
    await pde.page.screenshot({ path: path.join(shots, 'phone-de.png') });
    await pde.page.selectOption('select[data-lang-picker]', 'fr');
    await pde.page.waitForSelector('#jam-view:visible');
    await until(async () => (await pde.page.getAttribute('html', 'lang')) === 'fr', 'the picker reloads the page in French');
    assert((await pde.page.textContent('#tab-rank')).includes('Classement'), 'the tabs are French after the switch');
    assert((await pde.page.evaluate(() => localStorage.getItem('cojam.lang'))) === 'fr', 'the choice is remembered');
    await pde.ctx.close();
  });

  // ------------------------------------------------------------ screenshots
  await test('screenshots of every page', async () => {
    fs.mkdirSync(shots, { recursive: true });
    await p1.page.click('#tab-rank');
    await p2.page.click('#tab-post');
    await p2.page.fill('#post-text', 'Water fountains in parks');
    await new Promise((r) => setTimeout(r, 800)); // let the screen's animations settle
    await org.page.screenshot({ path: path.join(shots, 'organise.png'), fullPage: true });
    await mod.page.screenshot({ path: path.join(shots, 'moderate.png'), fullPage: true });
    await scr.page.screenshot({ path: path.join(shots, 'screen.png') });
    await p1.page.screenshot({ path: path.join(shots, 'participant.png') });
    await p2.page.screenshot({ path: path.join(shots, 'participant-post.png') });
  });
}

let exitCode = 1;
try {
  await main();
} catch (e) {
  failed++;
  n++;
  console.log(`not ok ${n} - setup or run aborted`);
  for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 8)) console.log('#   ' + line);
  for (const p of procs) log(`${p.label} output:\n` + p.tail());
} finally {
  try { if (browser) await browser.close(); } catch { /* ignore */ }
  cleanup();
  clearTimeout(watchdog);
  console.log(`1..${n}`);
  console.log(`# ${passed} passed, ${failed} failed`);
  exitCode = failed ? 1 : 0;
}
process.exit(exitCode);
