// Browser tests of the projector screen (issue 14, point 8): at 16:9, 16:10, 4:3 and portrait, with a
// short and a 500-character question, nothing overflows the viewport or is cut off (code, QR code,
// counters, clock, the ranking: no partial row), "Paused" is written when paused, the join address
// and QR code are the server's --public-url, the counters count citizens only, and in design the
// refinements stand under their idea on the screen and on a phone.
// Run: cd web-client/tests && npm ci && node screen.test.mjs   (env: COJAMD, SCREENSHOT_DIR)
// Prints TAP lines and ends with "# N passed, N failed"; saves screen-<w>x<h>-<question>.png.

import fs from 'node:fs';
import path from 'node:path';
import { shots, ADMIN, T, procs, until, startCojam, launchChromium, cleanup, client } from './servers.mjs';
import { LONG_Q, LONG_ITEM, createJam, busyJam, measure } from './screen-kit.mjs';
import { assert, runTap } from './tap.mjs';

const PUBLIC = 'https://jam.example.org/hall'; // not the address the pages are opened on
const SIZES = [[1920, 1080], [1280, 800], [1024, 768], [1080, 1920]];
let browser = null;

async function openScreen(base, code, width, height) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/screen.html#${code}`);
  await until(async () => (await page.$$('#s-list > li')).length >= 6, 'six rows on the screen');
  await until(() => page.evaluate(() => !!document.querySelector('#s-qr').dataset.qrText), 'the QR code drawn');
  await page.waitForTimeout(900); // the rows' entry animations (600 ms) end
  return { ctx, page, errors };
}

async function main(test) {
  // The pages under test are on the loopback base, not on --public-url: allow their origin too.
  const base = await startCojam(['--public-url', PUBLIC], [new URL(PUBLIC).origin]);
  console.log('# server at', base, 'public url', PUBLIC);
  browser = await launchChromium();
  fs.mkdirSync(shots, { recursive: true });

  const short = await busyJam(base, 'How do we keep our streets cool in summer?');
  const long = await busyJam(base, LONG_Q);
  await long.mod.write({ type: 'pause' }); // the long one is measured paused: the largest header
  const jams = [['short', short], ['long', long]];

  for (const [w, h] of SIZES) {
    for (const [qname, j] of jams) {
      await test(`${w}x${h}, ${qname} question${qname === 'long' ? ' (paused)' : ''}: nothing leaves the screen or is cut off`, async () => {
        const s = await openScreen(base, j.jam.code, w, h);
        try {
          const m = await s.page.evaluate(measure);
          await s.page.screenshot({ path: path.join(shots, `screen-${w}x${h}-${qname}.png`) });
          console.log(`# ${w}x${h} ${qname}: ${m.shown} of ${m.rows} rows shown, QR ${m.qr} px`);
          assert(m.bad.length === 0, m.bad.join('; '));
          assert(m.shown >= 3, `only ${m.shown} rows shown`);
          assert(s.errors.length === 0, s.errors.join('; '));
          if (qname === 'long') assert(m.paused === 'Paused', `"Paused" written on the screen: ${m.paused}`);
          else assert(m.paused === null, 'no "Paused" while running');
          assert(m.host === 'jam.example.org/hall', `join address ${m.host}`);
          assert(m.qrText === `${PUBLIC}/#${j.jam.code}`, `QR text ${m.qrText}`);
        } finally {
          await s.ctx.close();
        }
      });
    }
  }

  await test('the counters count the citizens only: not the moderator, not the screen', async () => {
    const s = await openScreen(base, short.jam.code, 1280, 800);
    try {
      const m = await s.page.evaluate(measure);
      assert(m.participants === '3' && m.online === '3', `participants ${m.participants}, online ${m.online} (want 3 and 3)`);
      short.cits[0].close();
      await until(async () => (await s.page.textContent('#s-online')) === '2', 'online 2 once Ana left');
    } finally {
      await s.ctx.close();
    }
  });

  await test('design: refinements stand under their idea on the screen and on a phone', async () => {
    const jam = await createJam(base, 'How do we keep our streets cool?', [{ phase: 'ideate', duration_s: 600 }, { phase: 'design', duration_s: 600 }]);
    const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
    const ana = await client(base, { code: jam.code, as: 'citizen', nickname: 'Ana' });
    await mod.write({ type: 'start' });
    const ideas = [];
    for (let i = 0; i < 30; i++) ideas.push((await ana.write({ type: 'post', kind: 'idea', text: `Idea ${i + 1}: ${LONG_ITEM}` })).item);
    await mod.write({ type: 'set_phase', phase: 'design' });
    await ana.write({ type: 'vote', item: ideas[0] });
    const ref = (await ana.write({ type: 'post', kind: 'refinement', text: 'Start with the ten busiest stops', parent: ideas[0] })).item;
    const lastRef = (await ana.write({ type: 'post', kind: 'refinement', text: 'Ask the tree nursery first', parent: ideas[29] })).item;
    const s = await openScreen(base, jam.code, 1920, 1080);
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      await until(async () => (await s.page.textContent(`#s-list > li[data-key="${ideas[0]}"] .s-kids`)).includes('ten busiest stops'), 'the refinement under its idea on the screen');
      await s.page.screenshot({ path: path.join(shots, 'screen-design.png') });
      const m = await s.page.evaluate(measure);
      assert(m.bad.length === 0, m.bad.join('; '));
      const phone = await ctx.newPage();
      phone.setDefaultTimeout(T);
      const phoneErrors = [];
      phone.on('pageerror', (e) => phoneErrors.push(e.message));
      await phone.goto(`${base}/#${jam.code}`);
      await phone.fill('#join-nick', 'Ben');
      await phone.click('#join-btn');
      await phone.waitForSelector('#jam-view:visible');
      await phone.click('#tab-rank');
      const sel = (idea, r) => `#rank-lists li[data-key="${idea}"] .item-children li[data-key="${r}"]`;
      await phone.waitForSelector(sel(ideas[0], ref));
      await phone.waitForSelector(sel(ideas[29], lastRef));
      const y = await phone.evaluate(([i, r]) => {
        const top = (el) => el.getBoundingClientRect().top + scrollY;
        const a = document.querySelector(`#rank-lists li[data-key="${i}"]`);
        const b = a.querySelector(`.item-children li[data-key="${r}"]`);
        return { idea: top(a), ref: top(b), sections: Array.from(document.querySelectorAll('#rank-lists > section')).map((x) => x.dataset.kind) };
      }, [ideas[0], ref]);
      await phone.screenshot({ path: path.join(shots, 'participant-design.png') });
      console.log(`# phone: idea at ${Math.round(y.idea)} px, its refinement at ${Math.round(y.ref)} px; sections ${y.sections}`);
      assert(y.ref - y.idea < 400, `the refinement is ${Math.round(y.ref - y.idea)} px below its idea`);
      assert(!y.sections.includes('refinement'), 'no separate list of refinements');
      assert(phoneErrors.length === 0, 'phone page errors: ' + phoneErrors.join('; '));
    } finally {
      await s.ctx.close();
      await ctx.close();
      mod.close();
      ana.close();
    }
  });

  await test('words: ?view=words shows the word cloud and themes from the server, inside the screen; w switches back', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${base}/screen.html?view=words#${short.jam.code}`);
      await until(async () => (await page.$$('#s-cloud > li')).length >= 5, 'the word cloud drawn');
      const m = await page.evaluate(() => {
        const words = [...document.querySelectorAll('#s-cloud > li')];
        const W = innerWidth, H = innerHeight;
        const out = words.filter((li) => { const r = li.getBoundingClientRect(); return r.right > W + 0.5 || r.bottom > H + 0.5; });
        return {
          first: words[0].textContent, firstSize: parseFloat(words[0].style.fontSize), lastSize: parseFloat(words[words.length - 1].style.fontSize),
          words: words.map((li) => li.textContent), outside: out.length,
          themes: [...document.querySelectorAll('#s-themes > li .s-theme-word')].map((e) => e.textContent),
          rankShown: !document.querySelector('.s-rank').hidden,
        };
      });
      await page.screenshot({ path: path.join(shots, 'screen-words.png') });
      console.log(`# words view: ${m.words.length} words, first '${m.first}', themes ${m.themes.join(', ')}`);
      // Every one of the 12 problems says "shade" (4 of them in the long text's "shade trees").
      assert(m.first === 'shade', 'the most used word first: ' + m.first);
      assert(m.firstSize > m.lastSize, `sized by use: ${m.firstSize} vs ${m.lastSize}`);
      for (const stop of ['the', 'and', 'too', 'on']) assert(!m.words.includes(stop), `stop word ${stop} in the cloud`);
      assert(m.themes.length >= 1 && m.themes[0] === 'shade', 'themes: ' + m.themes.join(', '));
      assert(m.outside === 0, `${m.outside} words outside the screen`);
      assert(!m.rankShown, 'the ranking is shown in the words view');
      await page.keyboard.press('w');
      await until(() => page.evaluate(() => !document.querySelector('.s-rank').hidden && document.querySelector('#s-words').hidden), 'w switches to the ranking');
      assert(errors.length === 0, errors.join('; '));
    } finally {
      await ctx.close();
    }
  });

  await test('results: the screen and a phone show the final ranking with the lineage, pledges counted, no clock', async () => {
    const agenda = ['ideate', 'design', 'diffuse'].map((phase) => ({ phase, duration_s: 600 })).concat([{ phase: 'results', duration_s: 0 }]);
    const jam = await createJam(base, 'How do we keep our streets cool?', agenda);
    const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
    const ana = await client(base, { code: jam.code, as: 'citizen', nickname: 'Ana' });
    await mod.write({ type: 'start' });
    const trees = (await ana.write({ type: 'post', kind: 'idea', text: 'Plant trees at every bus stop' })).item;
    await ana.write({ type: 'post', kind: 'idea', text: 'Water fountains in the squares' });
    await ana.write({ type: 'vote', item: trees });
    await mod.write({ type: 'set_phase', phase: 'design' });
    const ref = (await ana.write({ type: 'post', kind: 'refinement', text: 'Start with the ten busiest stops', parent: trees })).item;
    await mod.write({ type: 'set_phase', phase: 'diffuse' });
    const pledge = (await ana.write({ type: 'post', kind: 'pledge', text: 'I water two trees', parent: trees })).item;
    await mod.write({ type: 'post', kind: 'pledge', text: 'The city pays the trees', parent: trees });
    await mod.write({ type: 'set_phase', phase: 'results' });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const phoneCtx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await ctx.newPage();
      page.setDefaultTimeout(T);
      await page.goto(`${base}/screen.html#${jam.code}`);
      await until(async () => (await page.textContent('#s-rank-title')) === 'Final ranking: Ideas', 'the final ranking on the screen');
      await until(() => page.evaluate(() => !!document.querySelector('#s-qr').dataset.qrText), 'the QR code drawn');
      await page.waitForTimeout(900);
      const row = `#s-list > li[data-key="${trees}"]`;
      const v = await page.evaluate((sel) => ({
        clock: document.querySelector('#s-clock').textContent, clockShown: document.querySelector('#s-clock').offsetParent !== null,
        kids: document.querySelector(sel + ' .s-kids').textContent, sub: document.querySelector(sel + ' .s-sub').textContent,
      }), row);
      await page.screenshot({ path: path.join(shots, 'screen-results.png') });
      const m = await page.evaluate(measure);
      assert(m.bad.length === 0, m.bad.join('; '));
      assert(v.clock === '' && !v.clockShown, `a clock in the results: ${JSON.stringify(v.clock)} shown ${v.clockShown}`);
      assert(v.kids.includes('ten busiest stops'), 'the refinement under its idea: ' + v.kids);
      assert(v.sub.includes('2 pledges'), 'the pledges counted: ' + v.sub);
      const phone = await phoneCtx.newPage();
      phone.setDefaultTimeout(T);
      const errors = [];
      phone.on('pageerror', (e) => errors.push(e.message));
      await phone.goto(`${base}/#${jam.code}`);
      await phone.fill('#join-nick', 'Ben');
      await phone.click('#join-btn');
      await phone.waitForSelector('#jam-view:visible');
      await phone.click('#tab-rank');
      const sel = (r) => `#rank-lists li[data-key="${trees}"] .item-children li[data-key="${r}"]`;
      await phone.waitForSelector(sel(ref));
      await phone.waitForSelector(sel(pledge));
      const p = await phone.evaluate((pl) => ({
        sections: Array.from(document.querySelectorAll('#rank-lists > section'), (x) => x.dataset.kind),
        clock: document.querySelector('#clock') ? document.querySelector('#clock').textContent : '',
        pledgeRank: document.querySelector(pl + ' .item-rank').textContent,
      }), sel(pledge));
      await phone.screenshot({ path: path.join(shots, 'participant-results.png') });
      assert(JSON.stringify(p.sections) === '["idea"]', 'the phone lists ' + p.sections);
      assert(p.clock === '', 'a clock on the phone: ' + p.clock);
      assert(p.pledgeRank === '#1', 'the best pledge is #1 among the pledges, not after the refinement: ' + p.pledgeRank);
      assert(errors.length === 0, 'phone page errors: ' + errors.join('; '));
    } finally {
      await ctx.close();
      await phoneCtx.close();
      mod.close();
      ana.close();
    }
  });
}

await runTap(main, { limitS: 300, close: async () => { if (browser) await browser.close(); } });
