// Browser tests of what phones and the screen show of moderation (issue 11), against the real cojamd
// and a private redis-server, in headless Debian chromium. A moderator acts over a plain WebSocket
// from a blank page of the server's origin (the console page is not under test here).
// Run: cd web-client/tests && node moderation.test.mjs. Env: COJAMD (default ../../build/debug/cojamd).
// Prints TAP lines and ends with "# N passed, N failed".

import fs from 'node:fs';
import path from 'node:path';
import { ADMIN, T, shots, until, startCojam, launchChromium, cleanup } from './servers.mjs';
import { assert, runTap } from './tap.mjs';

let browser = null;



// In a page of the server's origin: a moderator connection and window.mod(msg) -> the ack or error.
function moderatorScript({ code, secret }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws', 'cojam.v1');
    const waiting = new Map();
    let seq = 0;
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'welcome') resolve(m.you.id);
      if (m.type === 'error' && !m.op) reject(new Error(m.code));
      if ((m.type === 'ack' || m.type === 'error') && waiting.has(m.op)) { waiting.get(m.op)(m); waiting.delete(m.op); }
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: 'join', code, as: 'moderator', secret, nickname: 'Mira' }));
    window.mod = (msg) => new Promise((done) => {
      const op = 'bm-' + (++seq);
      waiting.set(op, done);
      ws.send(JSON.stringify({ ...msg, op }));
    });
  });
}

async function main(test) {
  const base = await startCojam(); // --public-url defaults to its own address
  const created = await (await fetch(base + '/api/jams', {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Town hall', question: 'What should the square become?', agenda: [{ phase: 'explore', duration_s: 0 }] }),
  })).json();
  const code = created.code;

  browser = await launchChromium();
  const problems = [];
  const page = async (name, opts) => {
    const p = await (await browser.newContext(opts)).newPage();
    p.setDefaultTimeout(T);
    p.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    return p;
  };
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const mod = await page('moderator', {});
  await mod.goto(base + '/favicon.svg');
  await mod.evaluate(moderatorScript, { code, secret: created.moderator_secret });
  const act = async (msg) => {
    const r = await mod.evaluate((m) => window.mod(m), msg);
    assert(r.type === 'ack', `${JSON.stringify(msg)} -> ${JSON.stringify(r)}`);
    return r;
  };
  await act({ type: 'start' });

  async function joinPhone(nick) {
    const p = await page(nick, phone);
    await p.goto(`${base}/#${code}`);
    await p.fill('#join-nick', nick);
    await p.click('#join-btn');
    await p.waitForSelector('#jam-view:visible');
    return p;
  }
  const ana = await joinPhone('Ana');
  const ben = await joinPhone('Ben');
  const screen = await page('screen', { viewport: { width: 1280, height: 720 } });
  await screen.goto(`${base}/screen.html#${code}`);
  const postFrom = async (p, text) => {
    await p.fill('#post-text', text);
    await p.click('#post-btn');
    return until(() => p.evaluate((t) => { for (const it of window.cojam.state.items.values()) if (it.text === t) return it.id; return null; }, text), `item ${text}`);
  };
  const shade = await postFrom(ana, 'More shade trees on the square');
  const dup = await postFrom(ana, 'Trees for shade please');
  const pidOf = (p) => p.evaluate(() => window.cojam.state.you.id);

  await test('an announcement is shown on every phone and on the screen, and goes when cleared', async () => {
    await act({ type: 'announce', text: 'Five minutes left — vote for your top three' });
    for (const p of [ana, ben]) await until(async () => (await p.textContent('#announce-text')).includes('Five minutes left') && p.isVisible('#announce'), 'announcement on a phone');
    await until(async () => (await screen.textContent('#s-announce')).includes('Five minutes left'), 'announcement on the screen');
    await act({ type: 'unannounce' });
    await until(async () => !(await ben.isVisible('#announce')), 'announcement cleared on a phone');
  });

  await test('the spotlight is at the top of the phones and large on the screen, with live votes', async () => {
    await act({ type: 'spotlight', item: shade });
    await until(async () => (await ben.textContent('#spot-text')) === 'More shade trees on the square', 'spotlight on a phone');
    await until(async () => (await screen.textContent('#s-spot-text')) === 'More shade trees on the square', 'spotlight on the screen');
    await ben.evaluate((id) => window.cojam.conn.write({ type: 'vote', item: id }), shade);
    await until(async () => (await screen.textContent('#s-spot-votes')) === '1', 'the screen spotlight counts the vote');
  });

  await test('the author sees the hide reason next to its own item', async () => {
    await act({ type: 'hide', item: dup, preset: 'duplicate', reason: 'same as the shade trees' });
    await ana.click('#tab-mine');
    await until(async () => (await ana.textContent('#mine-list')).includes('Hidden by a moderator: duplicate: same as the shade trees'), 'hide reason in "mine"');
  });

  await test('a muted phone is told in plain words, keeps reading, and is refused a post', async () => {
    await act({ type: 'mute', pid: await pidOf(ben), preset: 'abusive', reason: 'shouting' });
    await until(async () => (await ben.textContent('#mod-status')).includes('A moderator muted you (abusive: shouting)'), 'muted banner');
    const err = await ben.evaluate(() => window.cojam.conn.write({ type: 'post', kind: 'problem', text: 'LOUD' }).then(() => 'ack', (e) => e.code));
    assert(err === 'muted', 'a muted post got ' + err);
    await act({ type: 'unmute', pid: await pidOf(ben) });
    await until(async () => !(await ben.isVisible('#mod-status')), 'the muted banner goes after unmute');
  });

  await test('a banned phone is told why, and its reload is refused in plain words', async () => {
    await act({ type: 'remove', pid: await pidOf(ana), reason: 'posted a phone number', preset: 'personal_data' });
    await ana.waitForSelector('#join-view:visible');
    await until(async () => (await ana.textContent('#join-error')).includes('A moderator removed you from this jam (personal data: posted a phone number)'), 'ban reason on the phone');
    await ana.reload();
    await until(async () => (await ana.textContent('#join-error')).includes('A moderator removed you from this jam'), 'ban after a reload');
  });

  await test('pre-moderation on a phone: its own post says "waiting for review", others do not see it; a reject shows its reason, an approval shows it to everyone', async () => {
    const premod = await (await fetch(base + '/api/jams', {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Reviewed hall', question: 'What should the square become?', agenda: [{ phase: 'explore', duration_s: 0 }], settings: { premoderation: true } }),
    })).json();
    const mod2 = await page('moderator 2', {});
    await mod2.goto(base + '/favicon.svg');
    await mod2.evaluate(moderatorScript, { code: premod.code, secret: premod.moderator_secret });
    const act2 = async (msg) => {
      const r = await mod2.evaluate((m) => window.mod(m), msg);
      assert(r.type === 'ack', `${JSON.stringify(msg)} -> ${JSON.stringify(r)}`);
      return r;
    };
    await act2({ type: 'start' });
    const join = async (nick) => {
      const p = await page(nick, phone);
      await p.goto(`${base}/#${premod.code}`);
      await p.fill('#join-nick', nick);
      await p.click('#join-btn');
      await p.waitForSelector('#jam-view:visible');
      return p;
    };
    const cy = await join('Cy');
    const dee = await join('Dee');
    const bench = await postFrom(cy, 'A bench by the fountain');
    const phoneNo = await postFrom(cy, 'Call me on 0123 456 789');
    await until(async () => (await cy.textContent('#post-status')).includes('A moderator reviews it'), 'the post status says it waits');
    const mine = (id) => `#mine-list li[data-key="${id}"]`;
    await until(async () => (await cy.textContent(mine(bench) + ' .item-meta')).includes('Waiting for review'), 'my item waits for review');
    assert((await cy.textContent(mine(bench) + ' .item-text')) === 'A bench by the fountain', 'with its text');
    assert(!(await dee.textContent('#rank-lists')).includes('bench'), 'another phone does not list it');
    await act2({ type: 'reject', items: [phoneNo], preset: 'personal_data', reason: 'a phone number' });
    await until(async () => (await cy.textContent(mine(phoneNo) + ' .item-meta')).includes('Not approved by a moderator'), 'the reject on my item');
    const why = await cy.textContent(mine(phoneNo) + ' .item-meta');
    assert(why.includes('a phone number'), 'with its reason: ' + why);
    fs.mkdirSync(shots, { recursive: true });
    await cy.click('#tab-mine');
    await cy.waitForSelector('#panel-mine:visible');
    await cy.screenshot({ path: path.join(shots, 'phone-premod.png') });
    await cy.click('#tab-post');
    await act2({ type: 'approve', items: [bench] });
    await until(async () => (await dee.textContent('#rank-lists')).includes('A bench by the fountain'), 'approved: on another phone');
    await until(async () => !(await cy.textContent(mine(bench) + ' .item-meta')).includes('Waiting'), 'approved: no longer waiting');
    // A reload keeps the author's view of its queue (you.queued) and of the reject.
    const still = await postFrom(cy, 'Shade sails over the benches');
    await cy.reload();
    await cy.waitForSelector('#jam-view:visible');
    await until(async () => (await cy.textContent(mine(still) + ' .item-meta')).includes('Waiting for review'), 'after a reload: still waiting');
    await until(async () => (await cy.textContent(mine(phoneNo) + ' .item-meta')).includes('Not approved by a moderator'), 'after a reload: still rejected');
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
