// Checks that the test dependencies run on the oldest Node this project supports: the floor of
// package.json's "engines" must include Debian 12's nodejs (18.20.4, bookworm), every package in the
// lock file must accept that floor, and package.json pins exact versions (so `npm install` cannot
// drift to a release that needs a newer Node, as playwright-core 1.62 did by requiring Node 20).
// Prints TAP and "# N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEBIAN_12_NODE = '18.20.4';
const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(here, 'package-lock.json'), 'utf8'));

let passed = 0, failed = 0, n = 0;
function check(name, ok, info) {
  n++;
  if (ok) { passed++; console.log(`ok ${n} - ${name}`); }
  else { failed++; console.log(`not ok ${n} - ${name}${info ? ' # ' + info : ''}`); }
}

const parse = (v) => v.split('.').map(Number);
function cmp(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
// The subset of npm's range grammar that engines fields use: comparators (>=, >, <=, <, =, ^, ~)
// on x, x.y or x.y.z, joined by spaces (and) and "||" (or). Anything else is reported, not guessed.
function comparator(c, v) {
  const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(c);
  if (!m) throw new Error(`cannot read range part "${c}"`);
  const [, op = '=', maj, min, pat] = m;
  const lo = [Number(maj), Number(min || 0), Number(pat || 0)];
  const d = cmp(v, lo);
  switch (op) {
    case '>=': return d >= 0;
    case '>': return d > 0;
    case '<=': return d <= 0;
    case '<': return d < 0;
    case '^': return d >= 0 && v[0] === lo[0];
    case '~': return d >= 0 && v[0] === lo[0] && (min === undefined || v[1] === lo[1]);
    default: // "=" or bare: x and x.y mean any version with that prefix
      return v[0] === lo[0] && (min === undefined || v[1] === lo[1]) && (pat === undefined || v[2] === lo[2]);
  }
}
function satisfies(version, range) {
  const v = parse(version);
  return range.split('||').some((alt) => alt.trim().split(/\s+/).every((c) => comparator(c, v)));
}

const floorMatch = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec((pkg.engines && pkg.engines.node) || '');
check('package.json engines.node is a ">=" floor', floorMatch, JSON.stringify(pkg.engines));
const floor = floorMatch ? [...parse(floorMatch[1]), 0, 0].slice(0, 3).join('.') : DEBIAN_12_NODE;
check(`supported Node range includes Debian 12's nodejs ${DEBIAN_12_NODE}`,
  floorMatch && satisfies(DEBIAN_12_NODE, pkg.engines.node), pkg.engines && pkg.engines.node);

for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
  check(`${name} pinned to an exact version`, /^\d+\.\d+\.\d+$/.test(range), range);
  const entry = lock.packages[`node_modules/${name}`];
  check(`${name} in package-lock.json is the pinned version`, entry && entry.version === range, entry && entry.version);
}
for (const [where, entry] of Object.entries(lock.packages)) {
  if (!where || !entry.engines || !entry.engines.node) continue;
  let ok, info = `needs node ${entry.engines.node}`;
  try { ok = satisfies(floor, entry.engines.node); } catch (e) { ok = false; info = e.message; }
  check(`${where.replace(/^node_modules\//, '')} ${entry.version} runs on Node ${floor}`, ok, info);
}
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
