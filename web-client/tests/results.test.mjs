// Browser tests of the results page, results.html#<code> (issue 14, points 5 and 6): a jam run
// through every phase shows its final ranking per phase with the lineage (ideas under their
// problem, refinements and pledges under their idea, pledges counted), the process record (the
// agenda as run with the pause and the extension, participation, the moderation log with its
// reasons, the chain head the server publishes), fits a phone without sideways scrolling, prints
// without its buttons, and downloads the CSV and JSON exports with the moderator secret. And the
// phone's Mine tab (point 3): what became of each of my contributions, live.
// Run: cd web-client/tests && npm ci && node results.test.mjs   (env: COJAMD, SCREENSHOT_DIR)
// Prints TAP lines and ends with "# N passed, N failed"; saves results.png.

import fs from 'node:fs';
import path from 'node:path';
import { shots, ADMIN, T, procs, until, startCojam, launchChromium, cleanup, client } from './servers.mjs';
import { assert, runTap } from './tap.mjs';

let browser = null;

const AGENDA = ['explore', 'ideate', 'design', 'diffuse'].map((phase) => ({ phase, duration_s: 600 }))
  .concat([{ phase: 'results', duration_s: 0 }]);

// Items: 1 problem, 2 problem (hidden), 3 idea of 1, 4 idea, 5 refinement of 3, 6 and 7 pledges of 3.
async function runJam(base) {
  const r = await fetch(base + '/api/jams', {
    method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Cooler streets', question: 'How do we keep our streets cool?', agenda: AGENDA }),
  });
  assert(r.status === 201, 'create jam: ' + r.status);
  const jam = await r.json();
  const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
  const ana = await client(base, { code: jam.code, as: 'citizen', nickname: 'Ana' });
  const ben = await client(base, { code: jam.code, as: 'citizen', anonymous: true });
  await mod.write({ type: 'start' });
  await ana.write({ type: 'post', kind: 'problem', text: 'Bus stops have no shade' });
  await ben.write({ type: 'post', kind: 'problem', text: 'Buy my sunglasses' });
  await ben.write({ type: 'vote', item: 1 });
  await mod.write({ type: 'hide', item: 2, reason: 'advertising' });
  await mod.write({ type: 'pause' });
  await mod.write({ type: 'resume' });
  await mod.write({ type: 'extend', seconds: 120 });
  await mod.write({ type: 'set_phase', phase: 'ideate' });
  await ben.write({ type: 'post', kind: 'idea', text: 'Plant trees at every stop', parent: 1 });
  await ana.write({ type: 'post', kind: 'idea', text: 'Water fountains' });
  await ana.write({ type: 'vote', item: 3 });
  await ben.write({ type: 'vote', item: 3 });
  await mod.write({ type: 'set_phase', phase: 'design' });
  await ana.write({ type: 'post', kind: 'refinement', text: 'Start at the schools', parent: 3 });
  await mod.write({ type: 'set_phase', phase: 'diffuse' });
  await ana.write({ type: 'post', kind: 'pledge', text: 'I water two trees', parent: 3 });
  await ben.write({ type: 'post', kind: 'pledge', text: 'I bring a spade', parent: 3 });
  await mod.write({ type: 'set_phase', phase: 'results' });
  for (const c of [mod, ana, ben]) c.close();
  return jam;
}

async function openResults(base, code, viewport) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/results.html#${code}`);
  await page.waitForSelector('#res-ranking:not([hidden])');
  return { ctx, page, errors };
}

async function main(test) {
  const base = await startCojam();
  console.log('# server at', base);
  browser = await launchChromium();
  fs.mkdirSync(shots, { recursive: true });
  const jam = await runJam(base);
  const summary = await (await fetch(`${base}/api/jams/${jam.code}`)).json();

  await test('the final ranking per phase, with the lineage and the pledges counted', async () => {
    const s = await openResults(base, jam.code, { width: 1280, height: 900 });
    try {
      const v = await s.page.evaluate(() => {
        const sec = (k) => document.querySelector(`.res-phase[data-kind="${k}"]`);
        const ids = (el, sel) => Array.from(el.querySelectorAll(sel), (x) => Number(x.dataset.id));
        const idea3 = sec('idea').querySelector('.res-list > li[data-id="3"]');
        return {
          status: document.querySelector('#res-status').textContent,
          kinds: Array.from(document.querySelectorAll('.res-phase'), (x) => x.dataset.kind),
          problems: ids(sec('problem'), '.res-list > li'),
          underProblem1: ids(sec('problem').querySelector('.res-list > li[data-id="1"]'), '.res-kids > li'),
          ideas: ids(sec('idea'), '.res-list > li'),
          underIdea3: Array.from(idea3.querySelectorAll('.res-kids > li'), (x) => x.dataset.kind + x.dataset.id),
          idea3Meta: idea3.querySelector('.res-meta').textContent,
          pledges: ids(sec('pledge'), '.res-list > li'),
          hiddenText: document.body.textContent.includes('Buy my sunglasses'),
          h1: document.querySelectorAll('h1').length,
        };
      });
      await s.page.screenshot({ path: path.join(shots, 'results.png'), fullPage: true });
      assert(v.status === 'Final results: the jam is over.', 'status: ' + v.status);
      assert(JSON.stringify(v.kinds) === '["problem","idea","refinement","pledge"]', 'sections ' + v.kinds);
      assert(JSON.stringify(v.problems) === '[1]' && JSON.stringify(v.underProblem1) === '[3]', `problems ${v.problems}, under 1: ${v.underProblem1}`);
      assert(JSON.stringify(v.ideas) === '[3,4]', 'ideas ' + v.ideas);
      assert(JSON.stringify(v.underIdea3) === '["refinement5","pledge6","pledge7"]', 'under idea 3: ' + v.underIdea3);
      assert(v.idea3Meta.includes('2 votes') && v.idea3Meta.includes('1 refinement') && v.idea3Meta.includes('2 pledges'), 'idea 3: ' + v.idea3Meta);
      assert(v.idea3Meta.startsWith('Anonymous'), 'an anonymous author: ' + v.idea3Meta);
      assert(!v.hiddenText, 'the hidden item\'s text is not shown');
      assert(v.h1 === 1, 'one h1');
      assert(s.errors.length === 0, s.errors.join('; '));
    } finally {
      await s.ctx.close();
    }
  });

  await test('the process record: agenda as run, participation, moderation log with reasons, chain head', async () => {
    const s = await openResults(base, jam.code, { width: 1280, height: 900 });
    try {
      const v = await s.page.evaluate(() => ({
        agenda: Array.from(document.querySelectorAll('#res-agenda > li'), (x) => x.dataset.action),
        agendaText: document.querySelector('#res-agenda').textContent,
        stats: Object.fromEntries(Array.from(document.querySelectorAll('#res-stats > div'), (d) => [d.dataset.stat, d.querySelector('dd').textContent])),
        hidden: Array.from(document.querySelectorAll('#res-modlog tbody tr[data-action="hidden"] td'), (td) => td.textContent),
        heads: Array.from(document.querySelectorAll('#res-modlog tbody tr code'), (c) => c.title),
        chain: document.querySelector('#res-chain').textContent,
        th: Array.from(document.querySelectorAll('#res-modlog th'), (x) => x.getAttribute('scope')),
      }));
      assert(JSON.stringify(v.agenda) === '["started","paused","resumed","extended","phase_set","phase_set","phase_set","phase_set"]', 'agenda ' + v.agenda);
      assert(v.agendaText.includes('Extended (+120 s)') && v.agendaText.includes('Phase set (Results)'), v.agendaText);
      assert(JSON.stringify(v.stats) === '{"participants":"2","contributors":"2","voters":"2","items":"6","votes":"3"}', JSON.stringify(v.stats));
      assert(v.hidden[2].includes('item #2') && v.hidden[3] === 'advertising' && v.hidden[4] === 'Mod', 'hide row: ' + v.hidden);
      assert(v.heads.every((x) => /^[0-9a-f]{64}$/.test(x)), 'each entry has its head');
      assert(v.chain === summary.chain.head, `chain ${v.chain} vs the summary's ${summary.chain.head}`);
      assert(v.th.every((x) => x === 'col'), 'table headers are scoped');
      assert(s.errors.length === 0, s.errors.join('; '));
    } finally {
      await s.ctx.close();
    }
  });

  await test('on a phone nothing scrolls sideways; printed, the buttons are left out', async () => {
    const s = await openResults(base, jam.code, { width: 360, height: 740 });
    try {
      const w = await s.page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
      assert(w[0] <= w[1], `the page is ${w[0]} px wide in ${w[1]}`);
      await s.page.emulateMedia({ media: 'print' });
      const printed = await s.page.evaluate(() => getComputedStyle(document.querySelector('#res-exports')).display);
      assert(printed === 'none', 'the export buttons print: ' + printed);
    } finally {
      await s.ctx.close();
    }
  });

  await test('exports: a wrong secret says so; the moderator secret downloads CSV and JSON', async () => {
    const s = await openResults(base, jam.code, { width: 1280, height: 900 });
    try {
      assert(await s.page.isVisible('#res-secret'), 'the secret field is shown (exports are not public)');
      await s.page.fill('#res-secret', 'wrong');
      await s.page.click('#res-csv');
      await s.page.waitForSelector('#res-export-error:not([hidden])');
      const err = await s.page.textContent('#res-export-error');
      assert(err.includes('unauthorized'), 'error: ' + err);
      await s.page.fill('#res-secret', jam.moderator_secret);
      for (const [btn, name, head] of [['#res-csv', `cojam-${jam.code}.csv`, 'id,kind,role,parent'], ['#res-json', `cojam-${jam.code}.json`, '{"format":"cojam-export/1"']]) {
        const [dl] = await Promise.all([s.page.waitForEvent('download'), s.page.click(btn)]);
        assert(dl.suggestedFilename() === name, 'file name ' + dl.suggestedFilename());
        const text = fs.readFileSync(await dl.path(), 'utf8');
        assert(text.startsWith(head), `${name} starts ${JSON.stringify(text.slice(0, 40))}`);
      }
      assert(s.errors.length === 0, s.errors.join('; '));
    } finally {
      await s.ctx.close();
    }
  });

  await test('similar: typing a near-duplicate offers the existing item, and one tap votes for it', async () => {
    const r = await fetch(base + '/api/jams', {
      method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Similar', question: 'How do we keep our streets cool?', agenda: AGENDA }),
    });
    const j = await r.json();
    const mod = await client(base, { code: j.code, as: 'moderator', nickname: 'Mod', secret: j.moderator_secret });
    const ben = await client(base, { code: j.code, as: 'citizen', nickname: 'Ben' });
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    try {
      await mod.write({ type: 'start' });
      const shade = (await ben.write({ type: 'post', kind: 'problem', text: 'No shade at the bus stops' })).item;
      await ben.write({ type: 'post', kind: 'problem', text: 'Bike lanes on Main Street' });
      const page = await ctx.newPage();
      page.setDefaultTimeout(T);
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/#${j.code}`);
      await page.fill('#join-nick', 'Ana');
      await page.click('#join-btn');
      await page.waitForSelector('#jam-view:visible');
      await page.fill('#post-text', 'Bus stops have no shade');
      await page.waitForSelector('#post-similar:visible');
      const offered = await page.$$eval('#post-similar-list li', (els) => els.map((li) => [Number(li.dataset.key), li.textContent]));
      assert(offered.length === 1 && offered[0][0] === shade, 'offered: ' + JSON.stringify(offered));
      await page.screenshot({ path: path.join(shots, 'participant-similar.png') });
      await page.click('#post-similar-list .similar-vote');
      await until(async () => (await page.textContent('#post-similar-list .similar-vote')) === 'Voted', 'the vote shown');
      await until(() => page.evaluate((id) => window.cojam.state.items.get(id).votes === 1, shade), 'the vote counted');
      await page.fill('#post-text', 'x');
      await until(async () => !(await page.isVisible('#post-similar')), 'the offer goes with the text');
      assert(errors.length === 0, errors.join('; '));
    } finally {
      await ctx.close();
      mod.close();
      ben.close();
    }
  });

  await test('Mine: each of my contributions says, live, what became of it (built on, pledges, hidden with the reason)', async () => {
    const r = await fetch(base + '/api/jams', {
      method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Mine', question: 'How do we keep our streets cool?', agenda: AGENDA }),
    });
    const j = await r.json();
    const mod = await client(base, { code: j.code, as: 'moderator', nickname: 'Mod', secret: j.moderator_secret });
    const ben = await client(base, { code: j.code, as: 'citizen', nickname: 'Ben' });
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    try {
      await mod.write({ type: 'start' });
      const page = await ctx.newPage();
      page.setDefaultTimeout(T);
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/#${j.code}`);
      await page.fill('#join-nick', 'Ana');
      await page.click('#join-btn');
      await page.waitForSelector('#jam-view:visible');
      const mine = [];
      const post = async (text) => {
        await page.fill('#post-text', text);
        await page.click('#post-btn');
        await until(async () => (await page.getAttribute('#post-status', 'data-kind')) === 'ok', 'post acknowledged');
        mine.push(await until(() => page.evaluate((t) => {
          for (const it of window.cojam.state.items.values()) if (it.text === t) return it.id;
          return null;
        }, text), 'the item id of ' + text));
      };
      await post('Bus stops have no shade');
      await post('Hot playgrounds');
      await mod.write({ type: 'hide', item: mine[1], reason: 'a duplicate of #1' });
      await mod.write({ type: 'set_phase', phase: 'ideate' });
      await ben.write({ type: 'post', kind: 'idea', text: 'Trees at the stops', parent: mine[0] });
      // The explore form's title is there already: wait for the ideate form itself (typing before it
      // replaces the explore form would go into the problem's draft).
      await until(async () => /idea/i.test(await page.textContent('#post-title')), 'the ideate form');
      await post('Water fountains in every square');
      await page.click('#tab-mine');
      const line = (id, cls) => page.evaluate(([i, c]) => {
        const el = document.querySelector(`#mine-list li[data-key="${i}"] .${c}`);
        return el && !el.hidden ? el.textContent : null;
      }, [id, cls]);
      await until(async () => (await line(mine[0], 'item-outcome')) === 'built on by 1 idea', 'built on by 1 idea');
      await until(async () => (await line(mine[1], 'item-meta')) === 'Hidden by a moderator: a duplicate of #1', 'the hide with its reason');
      await ben.write({ type: 'post', kind: 'idea', text: 'Awnings', parent: mine[0] });
      await until(async () => (await line(mine[0], 'item-outcome')) === 'built on by 2 ideas', 'live: built on by 2 ideas');
      await mod.write({ type: 'set_phase', phase: 'design' });
      await ben.write({ type: 'post', kind: 'refinement', text: 'Drinking water too', parent: mine[2] });
      await mod.write({ type: 'set_phase', phase: 'diffuse' });
      await ben.write({ type: 'post', kind: 'pledge', text: 'I clean one', parent: mine[2] });
      await until(async () => (await line(mine[2], 'item-outcome')) === 'built on by 1 refinement · supported by 1 pledge', 'refinement and pledge counted');
      const meta = await line(mine[0], 'item-meta');
      assert(meta.includes('rank 1 of 1 problems'), 'its rank: ' + meta);
      await page.screenshot({ path: path.join(shots, 'participant-mine.png') });
      assert(errors.length === 0, errors.join('; '));
    } finally {
      await ctx.close();
      mod.close();
      ben.close();
    }
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
