// Browser test of merging duplicates (issue 14, point 2), against the real cojamd and a private
// redis-server, in headless Debian chromium: the console ticks two items and merges them; the
// screen and a phone show "merged into #N" and the target counts each voter once; the console
// unmerges and every count comes back. The screen during the merge is saved as
// build/screenshots/screen-merge.png (the README shows it; `make screenshots` copies it).
// Run: cd web-client/tests && node merge.test.mjs. Prints TAP lines, ends "# N passed, N failed".

import path from 'node:path';
import { T, shots, until, startCojam, launchChromium } from './servers.mjs';
import { assert, runTap } from './tap.mjs';
import { createJam } from './screen-kit.mjs';

let browser = null;

async function main(test) {
  const base = await startCojam();
  const jam = await createJam(base, 'How do we keep our streets cool in summer?', [{ phase: 'explore', duration_s: 0 }], { votes_per_phase: 3 });
  const { code } = jam;
  browser = await launchChromium();
  const problems = [];
  const page = async (name, opts) => {
    const p = await (await browser.newContext(opts)).newPage();
    p.setDefaultTimeout(T);
    p.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    return p;
  };
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const consolePage = await page('console', { viewport: { width: 1366, height: 768 } });
  await consolePage.goto(base + new URL(jam.links.moderate).pathname + new URL(jam.links.moderate).hash);
  await consolePage.waitForSelector('#phase-buttons button', { state: 'attached' });
  await consolePage.click('#btn-start');
  await until(async () => (await consolePage.getAttribute('#clock-state', 'data-state')) === 'running', 'the jam runs');

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
  const post = async (p, text) => {
    await p.fill('#post-text', text);
    await p.click('#post-btn');
    return until(() => p.evaluate((t) => { for (const it of window.cojam.state.items.values()) if (it.text === t) return it.id; return null; }, text), `item ${text}`);
  };
  const first = await post(ben, 'Bus stops have no shade');
  const dup = await post(ana, 'No shade at the bus stops');
  await post(ben, 'Playgrounds are too hot');
  const vote = (p, id) => p.evaluate((i) => window.cojam.conn.write({ type: 'vote', item: i }), id);
  await vote(ana, first);
  await vote(ana, dup);
  await vote(ben, dup);
  const screenVotes = (id) => screen.evaluate((i) => { const it = window.cojam.state.items.get(i); return it ? it.votes : null; }, id);
  await until(async () => (await screenVotes(dup)) === 2 && (await screenVotes(first)) === 1, 'votes before the merge on the screen');

  await test('the console merges two ticked items into the earlier one', async () => {
    for (const id of [first, dup]) {
      await consolePage.waitForSelector(`#items-body tr[data-key="${id}"] .row-check`);
      await consolePage.check(`#items-body tr[data-key="${id}"] .row-check`);
    }
    await until(async () => (await consolePage.textContent('#items-bulk-merge')) === `Merge into #${first}`, 'the merge button names the target');
    await consolePage.click('#items-bulk-merge');
    await until(async () => (await consolePage.textContent(`#items-body tr[data-key="${dup}"]`)).includes(`merged into #${first}`), 'the console row says merged into');
    assert(await consolePage.isVisible(`#items-body tr[data-key="${dup}"] .unmerge-btn`), 'an unmerge button on the duplicate');
  });

  await test('the screen shows "merged into" and counts each voter once', async () => {
    await until(async () => (await screenVotes(first)) === 2, 'the target counts Ana and Ben once each');
    const row = `#s-list li[data-key="${first}"]`;
    await until(async () => (await screen.textContent(row)).includes(`#${dup} merged into #${first}`), 'the screen row names the merge');
    assert(!(await screen.$(`#s-list li[data-key="${dup}"]`)), 'the duplicate has left the screen list');
    await screen.screenshot({ path: path.join(shots, 'screen-merge.png') });
  });

  await test('a phone shows "merged into" on its own item and the target as voted', async () => {
    await ana.click('#tab-mine');
    await until(async () => (await ana.textContent('#mine-list')).includes(`merged into #${first}`), 'Ana\'s duplicate says merged into');
    await ben.click('#tab-rank');
    const btn = `#rank-lists li[data-key="${first}"] .vote-btn`;
    await until(async () => (await ben.getAttribute(btn, 'aria-pressed')) === 'true', 'Ben\'s vote for the duplicate counts for the target');
    await until(async () => (await ben.textContent('#budget')).includes('3'), 'Ana and Ben: one point back each (Ben: 3 of 3)');
  });

  await test('the console unmerges and the counts come back', async () => {
    await consolePage.click(`#items-body tr[data-key="${dup}"] .unmerge-btn`);
    await until(async () => (await screenVotes(dup)) === 2 && (await screenVotes(first)) === 1, 'votes as before the merge');
    await until(async () => !!(await screen.$(`#s-list li[data-key="${dup}"]`)), 'the duplicate is back on the screen');
    assert(!(await screen.textContent('#s-list')).includes('merged into'), 'no merge shown any more');
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
