// Browser test of named moderator invites (issue 11, point 5), against the real cojamd and a private
// redis-server, in headless Debian chromium: the organiser's console creates a named invite in its
// "Named invites" section and shows the link once, with the secret in its fragment; a second
// browser opens that link and moderates under the invite's name (the public log says so), sees the
// list but no create or revoke; the organiser revokes it (after a confirmation) and the invited
// console is closed and asks for another link, also when the link is opened again.
// Run: cd web-client/tests && node invites.test.mjs. Prints TAP lines, ends "# N passed, N failed".

import fs from 'node:fs';
import path from 'node:path';
import { shots, T, until, startCojam, launchChromium } from './servers.mjs';
import { assert, runTap } from './tap.mjs';
import { createJam } from './screen-kit.mjs';

let browser = null;

async function main(test) {
  const base = await startCojam();
  const jam = await createJam(base, 'Who moderates with us?', [{ phase: 'explore', duration_s: 0 }]);
  browser = await launchChromium();
  const problems = [];
  const requests = [];
  const page = async (who) => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const p = await ctx.newPage();
    p.setDefaultTimeout(T);
    p.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
    p.on('request', (r) => requests.push(r.url()));
    return p;
  };
  const org = await page('organiser');
  await org.goto(base + new URL(jam.links.moderate).pathname + new URL(jam.links.moderate).hash);
  await org.waitForSelector('#phase-buttons button', { state: 'attached' });
  let link = null;

  await test('the organiser creates a named invite: its link is shown once, with the secret in the fragment', async () => {
    await org.click('#btn-invite');
    await org.waitForSelector('#invite-dialog[open]');
    assert(await org.isVisible('#invites-none'), 'no invites yet');
    await org.fill('#invite-name', 'Bea (city council)');
    await org.click('#invite-create-btn');
    await org.waitForSelector('#invite-new:visible');
    link = await org.inputValue('#invite-new-link');
    const want = new RegExp(`^${base.replace(/[.]/g, '\\.')}/moderate\\.html#${jam.code}\\.i_[0-9a-f]{32}$`);
    assert(want.test(link), 'the link: ' + link);
    await org.waitForSelector('#invites-list li[data-invite="1"]');
    const row = await org.textContent('#invites-list li[data-invite="1"]');
    assert(row.includes('Bea (city council)') && row.includes('active'), 'the row: ' + row);
    assert(await org.isVisible('#invites-list li[data-invite="1"] [data-act="copy"]'), 'a Copy link button for it');
    assert(await org.isVisible('#invites-list li[data-invite="1"] [data-act="revoke"]'), 'a Revoke button');
    assert(!requests.some((u) => u.includes(link.split('.').pop())), 'the invite secret never in a URL requested');
    fs.mkdirSync(shots, { recursive: true });
    await org.screenshot({ path: path.join(shots, 'moderate-invites.png') });
    await org.click('#invite-dialog button[value="close"]');
  });

  const bea = await page('invited');
  await test('the invited console moderates under the invite\'s name, and sees the list only', async () => {
    await bea.goto(link);
    await bea.waitForSelector('#phase-buttons button', { state: 'attached' });
    await until(async () => (await bea.evaluate(() => window.cojam.invites.mine)) === 1, 'you.invite');
    assert(!(await bea.evaluate(() => location.hash)).includes('i_'), 'the address bar holds no secret');
    await bea.click('#btn-start');
    await until(async () => (await bea.getAttribute('#clock-state', 'data-state')) === 'running', 'the jam runs');
    const log = await (await fetch(`${base}/api/jams/${jam.code}/log`)).json();
    const started = log.find((e) => e.action === 'started');
    assert(started && started.moderator === 'Bea (city council)', 'the log names her: ' + JSON.stringify(started));
    await until(async () => (await bea.textContent('#public-log')).includes('Bea (city council)'), 'her console\'s log');
    await bea.click('#btn-invite');
    await bea.waitForSelector('#invite-dialog[open]');
    assert(await bea.isVisible('#invites-organiser-only'), 'says only the organiser mints');
    assert(await bea.isHidden('#invite-create') && await bea.isHidden('#invite-link'), 'no create, no link of hers');
    assert((await bea.textContent('#invites-list')).includes('Bea (city council)'), 'the list');
    assert((await bea.locator('#invites-list [data-act="revoke"]').count()) === 0, 'no revoke');
    await bea.click('#invite-dialog button[value="close"]');
  });

  await test('revoking (after a confirmation) closes the invited console, which asks for another link', async () => {
    await org.click('#btn-invite');
    await org.click('#invites-list li[data-invite="1"] [data-act="revoke"]');
    await org.waitForSelector('#confirm-dialog[open]');
    assert((await org.textContent('#confirm-h')).includes('Bea (city council)'), 'the question names her');
    await org.click('#confirm-ok');
    await org.waitForSelector('#invites-list li[data-invite="1"][data-revoked="true"]');
    assert((await org.locator('#invites-list li[data-invite="1"] button').count()) === 0, 'no buttons on a revoked one');
    await bea.waitForSelector('#secret-form:visible');
    assert((await bea.textContent('#secret-why')).includes('revoked'), 'why: ' + await bea.textContent('#secret-why'));
    const kept = await bea.evaluate((c) => localStorage.getItem(`cojam.modsecret.${c}`), jam.code);
    assert(kept === null, 'the revoked secret is forgotten: ' + kept);
    const log = await (await fetch(`${base}/api/jams/${jam.code}/log`)).json();
    assert(log.some((e) => e.action === 'invite_revoked' && e.invite === 1), 'the public log');
    await until(async () => (await org.textContent('#public-log')).includes('revoked a moderator invite (Bea (city council))'),
      'the organiser\'s log names the invite');
  });

  await test('the revoked link opened again is refused in words', async () => {
    await bea.goto('about:blank');
    await bea.goto(link);
    await bea.waitForSelector('#secret-form:visible');
    assert((await bea.textContent('#secret-why')).includes('revoked'), 'why: ' + await bea.textContent('#secret-why'));
  });

  await test('no script errors on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
}

await runTap(main, { limitS: 120, close: async () => { if (browser) await browser.close(); } });
