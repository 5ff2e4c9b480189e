// Browser test of the console's themes panel (issue 12, point 2), against the real cojamd and a
// private redis-server, in headless Debian chromium: the panel lists the live themes; a moderator
// renames one (the screen's themes show the label), ticks two and merges them (one theme with both
// counts, "with …"), hides one (it leaves the screen's themes and the cloud) and undoes the hide
// and the merge from the rules list; the public log says each in words.
// Run: cd web-client/tests && node themes.test.mjs. Prints TAP lines, ends "# N passed, N failed".

import fs from 'node:fs';
import path from 'node:path';
import { shots, T, until, startCojam, launchChromium, client } from './servers.mjs';
import { assert, runTap } from './tap.mjs';
import { createJam } from './screen-kit.mjs';

let browser = null;

const TEXTS = ['Shade at the bus stops', 'Trees for shade', 'Shade sails on the square',
  'Bus lanes on main street', 'Night bus', 'More trees in the square', 'Plant trees'];

async function main(test) {
  const base = await startCojam();
  const jam = await createJam(base, 'How do we keep the streets cool?', [{ phase: 'explore', duration_s: 0 }]);
  const mod = await client(base, { code: jam.code, as: 'moderator', nickname: 'Mod', secret: jam.moderator_secret });
  const cit = await client(base, { code: jam.code, as: 'citizen', nickname: 'Ana' });
  await mod.write({ type: 'start' });
  for (const text of TEXTS) await cit.write({ type: 'post', kind: 'problem', text });
  browser = await launchChromium();
  const problems = [];
  const page = async (who, viewport) => {
    const ctx = await browser.newContext({ viewport });
    const p = await ctx.newPage();
    p.setDefaultTimeout(T);
    p.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
    return p;
  };
  const con = await page('console', { width: 1366, height: 768 });
  await con.goto(base + new URL(jam.links.moderate).pathname + new URL(jam.links.moderate).hash);
  const screen = await page('screen', { width: 1280, height: 720 });
  await screen.goto(`${base}/screen.html?view=words#${jam.code}`);
  const screenThemes = () => screen.$$eval('#s-themes .s-theme-word', (els) => els.map((e) => e.textContent));
  const row = (word) => `#themes-list li[data-key="${word}"]`;

  await test('the panel lists the live themes, the screen shows them', async () => {
    await con.waitForSelector(row('shade'));
    await con.waitForSelector(row('bus'));
    assert(await con.isHidden('#themes-none'), 'not "no themes"');
    await until(async () => (await screenThemes()).includes('shade'), 'the screen\'s themes');
  });

  await test('rename: the screen shows the label, the rules list it', async () => {
    await con.fill(`${row('shade')} .theme-label`, 'Shade & cool');
    await con.click(`${row('shade')} .theme-rename button`);
    await until(async () => (await screenThemes()).includes('Shade & cool'), 'the label on the screen');
    await until(async () => (await con.textContent(row('shade'))).includes('Shade & cool (shade)'), 'the console row');
    assert((await con.textContent('#theme-rules')).includes('“Shade & cool”'), 'the rule');
  });

  await test('merge: tick two, choose the target, one theme with both', async () => {
    await con.check(`${row('bus')} .theme-pick`);
    await con.check(`${row('shade')} .theme-pick`);
    await con.waitForSelector('#theme-merge-form:visible');
    await con.selectOption('#theme-into', 'shade');
    await con.click('#theme-merge');
    await until(async () => (await con.$(row('bus'))) === null, 'bus makes no theme of its own');
    await until(async () => (await con.textContent(row('shade'))).includes('with bus'), 'shade says it has bus');
    assert((await con.textContent(row('shade'))).includes('5 contributions'), 'five items: ' + await con.textContent(row('shade')));
    await until(async () => !(await screenThemes()).includes('bus'), 'bus left the screen\'s themes');
  });

  await test('hide: the theme leaves the screen and the cloud', async () => {
    await con.click(`${row('trees')} .theme-hide`);
    await until(async () => !(await screenThemes()).includes('trees'), 'trees left the screen\'s themes');
    const cloud = await screen.$$eval('#s-cloud li', (els) => els.map((e) => e.dataset.key));
    assert(!cloud.includes('trees'), 'trees left the cloud: ' + cloud.join(' '));
    await until(async () => (await con.textContent('#theme-rules')).includes('trees is hidden'), 'the rule');
    fs.mkdirSync(shots, { recursive: true });
    await con.locator('.themes-panel').screenshot({ path: path.join(shots, 'moderate-themes.png') });
    await screen.screenshot({ path: path.join(shots, 'screen-themes.png') });
  });

  await test('the rules list undoes the hide and the merge', async () => {
    await con.click('#theme-rules li[data-word="trees"] button');
    await until(async () => (await screenThemes()).includes('trees'), 'trees back on the screen');
    await con.click('#theme-rules li[data-word="bus"] button');
    await until(async () => (await screenThemes()).includes('bus'), 'bus back on the screen');
  });

  await test('the public log says each action in words', async () => {
    await until(async () => {
      const log = await con.textContent('#public-log');
      return log.includes('renamed the theme shade to “Shade & cool”') && log.includes('merged bus into the theme shade')
        && log.includes('hid the theme trees') && log.includes('unhid the theme trees') && log.includes('unmerged bus');
    }, 'the public log', T * 2);
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
  mod.close();
  cit.close();
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
