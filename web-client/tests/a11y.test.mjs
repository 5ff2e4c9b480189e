// Browser tests of the accessible projector screen (issue 12, point 4): the high-contrast and the
// extra-large modes (keys c and x, ?contrast=high&size=xl) keep the layout guarantees of
// screen.test.mjs at 16:9, 16:10, 4:3 and portrait; every visible text has a WCAG 2.1 contrast
// ratio of at least 4.5:1 against its effective background (7:1 in high contrast), computed in the
// page from the computed styles; the polite live region announces a new leader and phase changes.
// Run: cd web-client/tests && npm ci && node a11y.test.mjs   (env: COJAMD, SCREENSHOT_DIR)
// Prints TAP lines and ends with "# N passed, N failed"; saves screen-a11y-<mode>-<w>x<h>.png.

import fs from 'node:fs';
import path from 'node:path';
import { shots, ADMIN, T, procs, until, startCojam, launchChromium, cleanup, client } from './servers.mjs';
import { LONG_Q, LONG_ITEM, createJam, busyJam, measure } from './screen-kit.mjs';
import { assert, runTap } from './tap.mjs';

const SIZES = [[1920, 1080], [1280, 800], [1024, 768], [1080, 1920]];
// WCAG 2.1 success criteria 1.4.3 (AA, normal text) and 1.4.6 (AAA, enhanced).
const AA = 4.5;
const AAA = 7;

let browser = null;

// The lowest WCAG 2.1 contrast ratio of every visible text in the viewport against what is painted
// under it. The background is composed from the elements under a few points of the text
// (document.elementsFromPoint, bottom to top: background colours with their alpha and the opacity
// of the element and its ancestors); a gradient counts with each of its colours. Runs in the page.
function contrast() {
  const parse = (s) => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(s);
    return m ? { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] } : null;
  };
  const over = (top, a, under) => ({ r: top.r * a + under.r * (1 - a), g: top.g * a + under.g * (1 - a), b: top.b * a + under.b * (1 - a) });
  const lum = (c) => {
    const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  };
  const ratio = (x, y) => { const a = lum(x), b = lum(y); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity); return o; };
  const W = innerWidth, H = innerHeight;
  const texts = [...document.querySelectorAll('body *')].filter((el) => {
    if (![...el.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) return false;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || el.offsetParent === null && cs.position !== 'fixed') return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0 && r.left < W && r.top < H && opacity(el) > 0;
  });
  let min = Infinity;
  const bad = [];
  const name = (el) => el.id ? '#' + el.id : el.className ? '.' + String(el.className).split(' ')[0] : el.tagName.toLowerCase();
  for (const el of texts) {
    const cs = getComputedStyle(el);
    const fg = parse(cs.color);
    const fgAlpha = fg.a * opacity(el);
    const r = el.getBoundingClientRect();
    const y = Math.min(H - 1, Math.max(0, r.top + r.height / 2));
    let worst = Infinity;
    for (const f of [0.05, 0.5, 0.95]) {
      const x = Math.min(W - 1, Math.max(0, r.left + r.width * f));
      const stack = document.elementsFromPoint(x, y);
      const at = stack.indexOf(el);
      const under = (at >= 0 ? stack.slice(at) : stack).reverse();
      let bgs = [{ r: 255, g: 255, b: 255 }]; // the canvas
      for (const e of under) {
        const ecs = getComputedStyle(e);
        const o = opacity(e);
        const bc = parse(ecs.backgroundColor);
        if (bc && bc.a > 0) bgs = bgs.map((b) => over(bc, bc.a * o, b));
        const stops = (ecs.backgroundImage.match(/rgba?\([^)]*\)/g) || []).map(parse);
        if (stops.length) bgs = bgs.flatMap((b) => stops.map((s) => over(s, s.a * o, b)));
      }
      for (const b of bgs) worst = Math.min(worst, ratio(over(fg, fgAlpha, b), b));
    }
    min = Math.min(min, worst);
    el.dataset.contrast = worst.toFixed(2);
    bad.push({ el: name(el), text: el.textContent.trim().slice(0, 30), ratio: worst });
  }
  bad.sort((a, b) => a.ratio - b.ratio);
  return { count: texts.length, min, worst: bad.slice(0, 3) };
}

async function openScreen(base, code, width, height, query = '', rows = 3) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/screen.html${query}#${code}`);
  await until(async () => (await page.$$('#s-list > li')).length >= rows, 'rows on the screen');
  await until(() => page.evaluate(() => !!document.querySelector('#s-qr').dataset.qrText), 'the QR code drawn');
  await settle(page);
  return { ctx, page, errors };
}

// The entry and bump animations end (their colours and opacity are not the ones at rest).
async function settle(page) {
  await page.waitForTimeout(700);
  await until(() => page.evaluate(() => document.getAnimations().every((a) => a.playState !== 'running')), 'the animations end');
}

async function checkContrast(page, min, what) {
  const c = await page.evaluate(contrast);
  console.log(`# ${what}: ${c.count} texts, lowest contrast ${c.min.toFixed(2)}:1 (${c.worst.map((w) => `${w.el} "${w.text}" ${w.ratio.toFixed(2)}`).join('; ')})`);
  assert(c.count >= 20, `only ${c.count} texts checked`);
  assert(c.min >= min, `${what}: contrast ${c.min.toFixed(2)}:1 below ${min}:1 for ${c.worst.map((w) => `${w.el} "${w.text}"`).join(', ')}`);
}

async function main(test) {
  const base = await startCojam();
  console.log('# server at', base);
  browser = await launchChromium();
  fs.mkdirSync(shots, { recursive: true });

  const short = await busyJam(base, 'How do we keep our streets cool in summer?');
  const long = await busyJam(base, LONG_Q);
  await long.mod.write({ type: 'pause' }); // the largest header: long question and "Paused"
  await short.mod.write({ type: 'announce', text: 'Five minutes left: vote for your top three' });
  await short.mod.write({ type: 'spotlight', item: short.ids[1] });

  const modes = [['high', '?contrast=high'], ['xl', '?size=xl'], ['high-xl', '?contrast=high&size=xl']];
  for (const [mode, query] of modes) {
    for (const [w, h] of SIZES) {
      await test(`${mode} ${w}x${h}, long question (paused): nothing leaves the screen or is cut off`, async () => {
        const s = await openScreen(base, long.jam.code, w, h, query);
        try {
          const m = await s.page.evaluate(measure);
          const ds = await s.page.evaluate(() => ({ ...document.body.dataset }));
          await s.page.screenshot({ path: path.join(shots, `screen-a11y-${mode}-${w}x${h}.png`) });
          console.log(`# ${mode} ${w}x${h}: ${m.shown} of ${m.rows} rows shown, QR ${m.qr} px`);
          assert(ds.contrast === (mode.includes('high') ? 'high' : 'normal'), 'contrast mode ' + ds.contrast);
          assert(ds.size === (mode.includes('xl') ? 'xl' : 'normal'), 'size mode ' + ds.size);
          assert(m.bad.length === 0, m.bad.join('; '));
          assert(m.shown >= 2, `only ${m.shown} rows shown`);
          assert(s.errors.length === 0, s.errors.join('; '));
        } finally {
          await s.ctx.close();
        }
      });
    }
  }

  for (const [mode, query, min] of [['normal', '', AA], ['high', '?contrast=high', AAA], ['high-xl', '?contrast=high&size=xl', AAA]]) {
    await test(`contrast ${mode}: every visible text at least ${min}:1 (ranking, spotlight, announcement, paused, words)`, async () => {
      for (const [jam, what] of [[short, 'running with spotlight and announcement'], [long, 'paused']]) {
        const s = await openScreen(base, jam.jam.code, 1280, 800, query);
        try {
          if (jam === short) {
            await until(() => s.page.evaluate(() => !document.querySelector('#s-announce').hidden
              && !document.querySelector('#s-spot').hidden), 'the announcement and the spotlight shown');
          }
          await checkContrast(s.page, min, `${mode}, ${what}`);
          if (jam === short) {
            await s.page.keyboard.press('w');
            await until(async () => (await s.page.$$('#s-cloud > li')).length >= 5, 'the word cloud drawn');
            await settle(s.page);
            await checkContrast(s.page, min, `${mode}, words`);
          }
          assert(s.errors.length === 0, s.errors.join('; '));
        } finally {
          await s.ctx.close();
        }
      }
    });
  }

  await test('keys c and x switch the modes (combinable, the layout holds), w still switches the word cloud', async () => {
    const s = await openScreen(base, short.jam.code, 1024, 768);
    try {
      const ds = () => s.page.evaluate(() => `${document.body.dataset.contrast}/${document.body.dataset.size}/${document.body.dataset.view}`);
      assert(await ds() === 'normal/normal/ranking', 'at start ' + await ds());
      await s.page.keyboard.press('c');
      await until(async () => (await ds()) === 'high/normal/ranking', 'c: high contrast');
      await settle(s.page);
      await checkContrast(s.page, AAA, 'after c');
      await s.page.keyboard.press('x');
      await until(async () => (await ds()) === 'high/xl/ranking', 'x: extra large');
      await settle(s.page);
      const m = await s.page.evaluate(measure);
      assert(m.bad.length === 0, m.bad.join('; '));
      const big = await s.page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('#s-list .s-text')).fontSize));
      await s.page.keyboard.press('x');
      await until(async () => (await ds()) === 'high/normal/ranking', 'x again: normal size');
      const normal = await s.page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('#s-list .s-text')).fontSize));
      assert(big > normal * 1.2, `the ranking's text ${big} px in xl, ${normal} px normal`);
      await s.page.keyboard.press('w');
      await until(async () => (await ds()) === 'high/normal/words', 'w: the word cloud');
      await s.page.keyboard.press('c');
      await until(async () => (await ds()) === 'normal/normal/words', 'c again: normal contrast');
      assert(s.errors.length === 0, s.errors.join('; '));
    } finally {
      await s.ctx.close();
    }
  });

  await test('screen reader: landmarks and labels; the polite live region announces a new leader and phase changes, not every vote', async () => {
    const jam = await createJam(base, 'How do we keep our streets cool?', [{ phase: 'ideate', duration_s: 600 }, { phase: 'design', duration_s: 600 }]);
    const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
    const cits = [];
    for (const nick of ['Ana', 'Ben', 'Chloé']) cits.push(await client(base, { code: jam.code, as: 'citizen', nickname: nick }));
    await mod.write({ type: 'start' });
    const trees = (await cits[0].write({ type: 'post', kind: 'idea', text: 'Plant trees at every bus stop' })).item;
    const water = (await cits[0].write({ type: 'post', kind: 'idea', text: 'Water fountains in the squares' })).item;
    await cits[1].write({ type: 'vote', item: trees });
    const s = await openScreen(base, jam.code, 1280, 800, '', 2);
    const live = () => s.page.textContent('#s-live');
    try {
      const a = await s.page.evaluate(() => {
        const el = document.querySelector('#s-live');
        return {
          role: el.getAttribute('role'), live: el.getAttribute('aria-live'), atomic: el.getAttribute('aria-atomic'),
          main: !!document.querySelector('main'), banner: !!document.querySelector('main > header, body > header'),
          join: document.querySelector('aside').getAttribute('aria-label'),
          rank: document.querySelector('#s-rank-title').textContent,
          rankBy: document.querySelector('section.s-rank').getAttribute('aria-labelledby'),
          code: document.querySelector('#s-code').getAttribute('aria-label'),
        };
      });
      assert(a.role === 'status' && a.live === 'polite' && a.atomic === 'true', 'live region ' + JSON.stringify(a));
      assert(a.main && a.banner && a.join === 'How to join' && a.rankBy === 's-rank-title' && a.rank && a.code === jam.code, 'landmarks ' + JSON.stringify(a));
      assert(await live() === '', 'opening the screen announces nothing: ' + await live());
      await cits[2].write({ type: 'vote', item: trees }); // more votes for the leader: no news
      await until(async () => (await s.page.textContent(`#s-list > li[data-key="${trees}"] .s-vcount`)) === '2', 'the vote on the screen');
      await s.page.waitForTimeout(300);
      assert(await live() === '', 'a vote that changes no leader is announced: ' + await live());
      for (const c of cits) await c.write({ type: 'vote', item: water });
      await until(async () => (await live()) === 'New leader: Water fountains in the squares, 3 votes.', 'the new leader announced', T);
      await mod.write({ type: 'pause' });
      await until(async () => (await live()) === 'Now: Ideate, paused.', 'the pause announced: ' + await live());
      await mod.write({ type: 'resume' });
      await until(async () => (await live()) === 'Now: Ideate.', 'the resume announced');
      await mod.write({ type: 'set_phase', phase: 'design' });
      await until(async () => (await live()) === 'Now: Design.', 'the phase change announced');
      assert(s.errors.length === 0, s.errors.join('; '));
    } finally {
      await s.ctx.close();
      mod.close();
      for (const c of cits) c.close();
    }
  });
}

await runTap(main, { limitS: 300, close: async () => { if (browser) await browser.close(); } });
