// Browser test of the exports (issue 14, point 6), against the real cojamd and a private
// redis-server, in headless Debian chromium: the console's JSON and CSV buttons download this
// jam's export with the console's secret (sent in a header, never in a URL); its "Public exports"
// box opens this jam's exports, and the results page then downloads the CSV without a secret.
// Run: cd web-client/tests && node exports.test.mjs. Prints TAP lines, ends "# N passed, N failed".

import fs from 'node:fs';
import { T, until, startCojam, launchChromium } from './servers.mjs';
import { assert, runTap } from './tap.mjs';
import { createJam } from './screen-kit.mjs';

let browser = null;

async function main(test) {
  const base = await startCojam();
  const jam = await createJam(base, 'What do we take away?', [{ phase: 'explore', duration_s: 0 }]);
  browser = await launchChromium();
  const problems = [];
  const requests = [];
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  const con = await ctx.newPage();
  con.setDefaultTimeout(T);
  con.on('pageerror', (e) => problems.push(`console: ${e.message}`));
  con.on('request', (r) => requests.push(r.url()));
  await con.goto(base + new URL(jam.links.moderate).pathname + new URL(jam.links.moderate).hash);
  await con.waitForSelector('#phase-buttons button', { state: 'attached' });
  await con.click('#btn-start');
  await until(async () => (await con.getAttribute('#clock-state', 'data-state')) === 'running', 'the jam runs');
  await con.evaluate(() => window.cojam.conn.write({ type: 'post', kind: 'problem', text: '=SUM(A1) "quoted", shade' }));

  const downloaded = async (page, selector) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
    return { name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), 'utf8') };
  };

  await test('the console downloads the JSON and CSV exports with its secret in a header', async () => {
    const j = await downloaded(con, '#btn-export-json');
    assert(j.name === `cojam-${jam.code}.json`, 'file name ' + j.name);
    const ex = JSON.parse(j.text);
    assert(ex.format === 'cojam-export/1' && ex.items.length === 1 && ex.events.length > 2, 'the export: ' + j.text.slice(0, 120));
    const c = await downloaded(con, '#btn-export-csv');
    const rows = c.text.split('\r\n');
    assert(rows[0].startsWith('id,kind,role,parent,phase,rank,votes'), 'the CSV header: ' + rows[0]);
    assert(rows[1].includes(`"'=SUM(A1) ""quoted"", shade"`), 'the guarded, quoted text cell: ' + rows[1]);
    assert(!requests.some((u) => u.includes(jam.moderator_secret)), 'the secret never in a URL');
  });

  await test('"Public exports" opens this jam: the results page downloads the CSV without a secret', async () => {
    const before = await fetch(`${base}/api/jams/${jam.code}/export.csv`);
    assert(before.status === 401, 'closed before: ' + before.status);
    await con.check('#public-exports');
    await until(async () => (await fetch(`${base}/api/jams/${jam.code}/export.csv`)).status === 200, 'open after the box is ticked');
    const pub = await ctx.newPage();
    pub.on('pageerror', (e) => problems.push(`results: ${e.message}`));
    await pub.goto(`${base}/results.html#${jam.code}`);
    await pub.waitForSelector('#res-csv:visible');
    assert(await pub.isHidden('#res-secret-row'), 'no secret asked on the results page');
    const c = await downloaded(pub, '#res-csv');
    assert(c.text.split('\r\n')[0].startsWith('id,kind,'), 'the public CSV: ' + c.text.slice(0, 60));
    assert(await con.isChecked('#public-exports'), 'the box stays ticked');
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
