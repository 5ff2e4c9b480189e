// Browser test of the fair order (issue 12, point 1), against the real cojamd and a private
// redis-server, in headless Debian chromium: a phone's Discover tab shows items it has not written
// and lets it vote there; two phones are offered different items; the console's order switch sets
// the fair order, and the screen and the phone re-sort without a reload (an item voted for from a
// discover view beats one with more votes but many more views).
// Run: cd web-client/tests && node discover.test.mjs. Prints TAP lines, ends "# N passed, N failed".

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
  const phoneOf = async (name) => {
    const p = await page(name, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    await p.goto(`${base}/#${jam.code}`);
    await p.fill('#join-nick', name);
    await p.click('#join-btn');
    await p.waitForSelector('#jam-view:visible');
    return p;
  };
  const author = await phoneOf('Ana');
  const texts = ['Bus stops have no shade', 'No water fountains', 'Hot playgrounds at noon', 'Too much asphalt',
    'No trees on Main Street', 'Dark roofs everywhere', 'Buses without air conditioning', 'Schools without shade',
    'Benches in the sun', 'Markets on hot squares', 'Car parks trap heat', 'No cool rooms for elders'];
  for (const text of texts) {
    await author.evaluate((x) => window.cojam.conn.write({ type: 'post', kind: 'problem', text: x }), text);
  }
  const ben = await phoneOf('Ben');
  const cai = await phoneOf('Cai');
  await until(() => ben.evaluate((n) => window.cojam.state.countVisible('problem') === n, texts.length), 'Ben has the items');
  const cards = (p) => p.$$eval('#discover-list li.item', (lis) => lis.map((li) => Number(li.dataset.key)));

  let benSaw = [];
  await test('the Discover tab shows five items and a vote there counts', async () => {
    await ben.click('#tab-discover');
    await until(async () => (await cards(ben)).length === 5, 'five cards');
    benSaw = await cards(ben);
    const first = benSaw[0];
    await ben.click(`#discover-list li[data-key="${first}"] .vote-btn`);
    await until(() => ben.evaluate((i) => window.cojam.state.votedFor(i), first), 'Ben voted from the card');
    await until(async () => (await ben.getAttribute(`#discover-list li[data-key="${first}"] .vote-btn`, 'aria-pressed')) === 'true', 'the card says voted');
    assert((await cards(ben)).join() === benSaw.join(), 'the cards stay in place after the vote');
  });

  await test('another phone is offered other items; the author none of its own', async () => {
    await cai.click('#tab-discover');
    await until(async () => (await cards(cai)).length === 5, 'five cards for Cai');
    const caiSaw = await cards(cai);
    const both = caiSaw.filter((i) => benSaw.includes(i));
    assert(both.length <= 1, `Ben ${benSaw} and Cai ${caiSaw} share ${both.length}`);
    await author.click('#tab-discover');
    await until(() => author.isVisible('#discover-empty'), 'the author is told there is nothing to discover');
    assert((await cards(author)).length === 0, 'no card for the author');
  });

  await test('the console switches to the fair order; the phone and the screen follow', async () => {
    const screen = await page('screen', { viewport: { width: 1280, height: 720 } });
    await screen.goto(`${base}/screen.html#${jam.code}`);
    // Two items without votes, A older than B and shown more often than B in the discover views
    // so far: Cai votes for both. By votes (top) A comes first, the older of two equals; by votes
    // per showing (fair) B does.
    const voted = benSaw[0];
    const shownOf = () => screen.evaluate(() => Object.fromEntries(Array.from(window.cojam.state.items.values()).map((it) => [it.id, it.shown || 0])));
    // (a vote counts as a showing when there were fewer: A needs two showings at least.)
    const findPair = (sh) => {
      const ids = Object.keys(sh).map(Number).filter((i) => i !== voted).sort((x, y) => x - y);
      for (const a of ids) for (const b of ids) if (a < b && sh[a] > Math.max(sh[b], 1)) return [a, b];
      return null;
    };
    // The showings reach the stream in batches (at most every 2 s): a count read while one is
    // still due may be passed by it later, so the pair is chosen from counts that held still for
    // longer than a batch.
    const settledShown = async () => {
      let last = JSON.stringify(await shownOf()), since = Date.now();
      for (const end = Date.now() + 15000; Date.now() < end && Date.now() - since < 2600;) {
        await new Promise((r) => setTimeout(r, 300));
        const now = JSON.stringify(await shownOf());
        if (now !== last) [last, since] = [now, Date.now()];
      }
      return JSON.parse(last);
    };
    let sh = null, pair = null;
    for (let round = 0; round < 8 && !pair; round++) {
      await ben.click('#discover-more'); // more views: enabled again after a second
      await new Promise((r) => setTimeout(r, 1200));
      const total = 10 + 5 * (round + 1);
      await until(async () => Object.values(await shownOf()).reduce((x, y) => x + y, 0) >= total - 5, 'the showings reach the screen', 10000);
      sh = await settledShown();
      pair = findPair(sh);
    }
    assert(pair, 'two items with different showings: ' + JSON.stringify(sh));
    const [A, B] = pair;
    for (const i of [A, B]) await cai.evaluate((x) => window.cojam.conn.write({ type: 'vote', item: x }), i);
    await until(() => screen.evaluate(([a, b]) => window.cojam.state.items.get(a).votes === 1 && window.cojam.state.items.get(b).votes === 1, [A, B]), 'the votes reach the screen');
    const before = await screen.evaluate(() => window.cojam.state.rankedItems('problem').map((it) => it.id));
    assert(before.indexOf(A) < before.indexOf(B), `top: ${A} before ${B} in ${before}`);
    assert((await screen.evaluate(() => window.cojam.state.order)) === 'top', 'top at first');
    await con.selectOption('#order-mode', 'fair');
    await until(() => screen.evaluate(() => window.cojam.state.order === 'fair'), 'the screen has the fair order');
    await until(() => ben.evaluate(() => window.cojam.state.order === 'fair'), 'the phone has it');
    const order = await screen.evaluate(() => window.cojam.state.rankedItems('problem').map((it) => it.id));
    assert(order.indexOf(B) < order.indexOf(A), `fair: ${B} (shown ${sh[B]}) before ${A} (shown ${sh[A]}) in ${order}`);
    const score = await screen.evaluate(() => window.cojam.state.rankedItems('problem').map((it) => [it.id, it.votes, it.shown]));
    // Everything in the list is sorted by the fair score the server uses for fair_ranking.
    const res = await (await fetch(`${base}/api/jams/${jam.code}/results`)).json();
    assert(res.order === 'fair', 'the results say fair');
    assert(JSON.stringify(res.fair_ranking.problem) === JSON.stringify(order),
      `the screen's fair order ${order} is the server's ${res.fair_ranking.problem} (${JSON.stringify(score)})`);
    await ben.click('#tab-rank');
    await until(() => ben.isVisible('#rank-fair'), 'the phone says the lists are in the fair order');
    const phoneOrder = await ben.$$eval('#rank-lists section[data-kind="problem"] > ol > li.item', (lis) => lis.map((li) => Number(li.dataset.key)));
    assert(JSON.stringify(phoneOrder) === JSON.stringify(order), `the phone's list ${phoneOrder} is the fair order ${order}`);
    await until(async () => (await con.inputValue('#order-mode')) === 'fair', 'the console shows the order in force');
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 150, close: async () => { if (browser) await browser.close(); } });
