// Browser test of reveal control (issue 14, point 4), against the real cojamd and a private
// redis-server, in headless Debian chromium: the console sets the votes hidden; without a reload
// the screen and a phone say "Votes are hidden until the moderator reveals them" and show no
// count, while the console keeps counting; set live again, both show the counts.
// Run: cd web-client/tests && node reveal.test.mjs. Prints TAP lines, ends "# N passed, N failed".

import { T, until, startCojam, launchChromium } from './servers.mjs';
import { assert, runTap } from './tap.mjs';
import { createJam } from './screen-kit.mjs';

let browser = null;

async function main(test) {
  const base = await startCojam();
  const jam = await createJam(base, 'How do we keep our streets cool?', [{ phase: 'explore', duration_s: 0 }]);
  browser = await launchChromium();
  const problems = [];
  const page = async (name, opts) => {
    const p = await (await browser.newContext(opts)).newPage();
    p.setDefaultTimeout(T);
    p.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    return p;
  };
  const con = await page('console', { viewport: { width: 1366, height: 768 } });
  await con.goto(base + new URL(jam.links.moderate).pathname + new URL(jam.links.moderate).hash);
  await con.waitForSelector('#phase-buttons button', { state: 'attached' });
  await con.click('#btn-start');
  await until(async () => (await con.getAttribute('#clock-state', 'data-state')) === 'running', 'the jam runs');
  const phone = await page('phone', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  await phone.goto(`${base}/#${jam.code}`);
  await phone.fill('#join-nick', 'Ana');
  await phone.click('#join-btn');
  await phone.waitForSelector('#jam-view:visible');
  const screen = await page('screen', { viewport: { width: 1280, height: 720 } });
  await screen.goto(`${base}/screen.html#${jam.code}`);
  await phone.fill('#post-text', 'Bus stops have no shade');
  await phone.click('#post-btn');
  const id = await until(() => phone.evaluate(() => { for (const it of window.cojam.state.items.values()) if (it.text) return it.id; return null; }), 'the item');
  const row = `#s-list li[data-key="${id}"] .s-vcount`;
  await until(async () => (await screen.textContent(row)) === '0', 'the screen shows 0 votes');

  await test('hidden: the screen and the phone say so and show no count, the console still counts', async () => {
    await con.selectOption('#reveal-mode', 'hidden');
    await until(() => screen.isVisible('#s-reveal'), 'the screen says votes are hidden');
    assert((await screen.textContent('#s-reveal')) === 'Votes are hidden until the moderator reveals them', 'the words');
    await until(() => phone.isVisible('#reveal-note'), 'the phone says so');
    await phone.evaluate((i) => window.cojam.conn.write({ type: 'vote', item: i }), id);
    await until(async () => (await con.textContent(`#items-body tr[data-key="${id}"] td:nth-child(5)`)) === '1', 'the console counts the vote');
    await until(async () => (await con.textContent('#st-votes')) === '1', 'the console total');
    assert((await screen.textContent(row)) === '–', 'the screen shows no count: ' + await screen.textContent(row));
    const sv = await screen.evaluate((i) => window.cojam.state.items.get(i).votes, id);
    assert(sv === undefined || sv === 0, 'the screen was never sent the count: ' + sv);
  });

  await test('live again: the counts are revealed without a reload', async () => {
    await con.selectOption('#reveal-mode', 'live');
    await until(async () => (await screen.textContent(row)) === '1', 'the screen shows the vote');
    await until(async () => !(await screen.isVisible('#s-reveal')), 'the notice goes');
    await until(async () => !(await phone.isVisible('#reveal-note')), 'the phone notice goes');
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
