// Completeness of the string tables: every language has exactly the keys of `en`, each string with
// the same {placeholders} as its `en` string, and the plural and error helpers pick the language's
// forms. Prints TAP and "# N passed, N failed".
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
// strings.js is a browser ES module that imports nothing: load it through a data: URL, as
// qr.test.mjs does, since public/ has no package.json making bare .js files ES modules for Node 18.
const src = fs.readFileSync(path.join(here, '../public/js/strings.js'), 'utf8');
const S = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));

let passed = 0, failed = 0, n = 0;
function check(name, ok, info) {
  n++;
  if (ok) { passed++; console.log(`ok ${n} - ${name}`); }
  else { failed++; console.log(`not ok ${n} - ${name}${info ? ' # ' + info : ''}`); }
}

function placeholders(s) {
  return [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
}

const en = S.STRINGS.en;
const langs = Object.keys(S.STRINGS);
check('four languages at least, each named by the picker', ['en', 'de', 'fr', 'es'].every((l) => langs.includes(l))
  && langs.every((l) => typeof S.LANGUAGES[l] === 'string'), langs.join(','));
for (const lang of langs.filter((l) => l !== 'en')) {
  const table = S.STRINGS[lang];
  const missing = Object.keys(en).filter((k) => !(k in table));
  const extra = Object.keys(table).filter((k) => !(k in en));
  check(`${lang}: no key missing`, missing.length === 0, missing.join(' '));
  check(`${lang}: no extra key`, extra.length === 0, extra.join(' '));
  const differ = Object.keys(en).filter((k) => k in table
    && (typeof table[k] !== 'string' || table[k].trim() === '' || placeholders(table[k]) !== placeholders(en[k])));
  check(`${lang}: every string non-empty with the placeholders of en`, differ.length === 0,
    differ.map((k) => `${k}: {${placeholders(en[k])}} vs {${placeholders(String(table[k]))}}`).join('; '));
}
// Plural pairs are base_one + base_other, never the old ad-hoc _1/_n pairs.
const ones = Object.keys(en).filter((k) => k.endsWith('_one'));
check('every base_one has its base_other and both count {n}', ones.length > 0
  && ones.every((k) => en[k.replace(/_one$/, '_other')] !== undefined && placeholders(en[k]) === 'n'));
check('no _1/_n plural pairs left', !Object.keys(en).some((k) => k.endsWith('_1')));

// Every error code of proto/messages.md's table is shown in words, not as "Error: code".
const spec = fs.readFileSync(path.join(here, '../../proto/messages.md'), 'utf8');
const table = spec.slice(spec.indexOf('## Error codes'), spec.indexOf('## Close codes'));
const codes = [...new Set(table.split('\n').filter((l) => l.startsWith('| `'))
  .flatMap((l) => [...l.split('|')[1].matchAll(/`([a-z_]+)`/g)].map((m) => m[1])))];
const wordless = codes.filter((c) => !(('err_' + c) in en));
check(`every error code of the spec has its words (${codes.length} codes)`, codes.length > 20 && wordless.length === 0,
  wordless.join(' '));

S.setLanguage('en');
check('en: 1 vote, 2 votes, 0 = no votes', S.votesText(1) === '1 vote' && S.votesText(2) === '2 votes' && S.votesText(0) === 'no votes');
S.setLanguage('fr');
check('fr: 0 and 1 are singular by Intl.PluralRules', S.plural('res_ideas', 0) === '0 idée' && S.plural('res_ideas', 1) === '1 idée'
  && S.plural('res_ideas', 2) === '2 idées', S.plural('res_ideas', 0));
S.setLanguage('de');
check('de: 1 Stimme, 3 Stimmen', S.votesText(1) === '1 Stimme' && S.votesText(3) === '3 Stimmen');
check('de: error codes shown in German, unknown code kept', S.errorText('jam_full') === 'Der Jam ist voll.'
  && S.errorText('no_such_code_x') === 'Fehler: no_such_code_x');
check('de: times in the German format', /^\d\d:\d\d:\d\d$/.test(S.timeText(Date.UTC(2026, 0, 2, 13, 4, 5))));
S.setLanguage('es');
check('es: UTC dates in Spanish', S.utcText(Date.UTC(2026, 0, 2, 13, 4, 5)).includes('ene'), S.utcText(Date.UTC(2026, 0, 2, 13, 4, 5)));
S.setLanguage('xx');
check('an unknown language falls back to en', S.currentLanguage() === 'en');
check('chooseLanguage: first supported tag by its primary subtag', S.chooseLanguage(['pt-BR', 'de-AT', 'fr']) === 'de'
  && S.chooseLanguage(['ja']) === 'en' && S.chooseLanguage([null, 'ES']) === 'es');

console.log(`1..${n}`);
console.log(`# pass ${passed}`);
console.log(`# fail ${failed}`);
process.exitCode = failed ? 1 : 0;
