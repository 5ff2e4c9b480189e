// Unit test of the QR encoder: encode strings of many lengths (versions 1–10) and decode them back
// with jsQR (a test-only dependency). Prints TAP and "# N passed, N failed".
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import jsQR from 'jsqr';

globalThis.window = globalThis;
const here = path.dirname(fileURLToPath(import.meta.url));
// qr.js is an ES module for the browser, but public/ has no package.json saying so: Node 18
// (Debian 12's nodejs) loads a bare .js file as CommonJS and stops at `export`. A data: URL of type
// text/javascript is always loaded as an ES module. qr.js imports nothing, so no relative paths break.
const qrSource = fs.readFileSync(path.join(here, '../public/js/qr.js'), 'utf8');
const { encodeQR } = await import('data:text/javascript;base64,' + Buffer.from(qrSource).toString('base64'));

let passed = 0, failed = 0, n = 0;
function check(name, ok, info) {
  n++;
  if (ok) { passed++; console.log(`ok ${n} - ${name}`); }
  else { failed++; console.log(`not ok ${n} - ${name}${info ? ' # ' + info : ''}`); }
}

function decode(qr, scale = 4) {
  const n = qr.size + 8, w = n * scale;
  const data = new Uint8ClampedArray(w * w * 4).fill(255);
  for (let y = 0; y < qr.size; y++) for (let x = 0; x < qr.size; x++) {
    if (!qr.modules[y][x]) continue;
    for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) {
      const o = (((y + 4) * scale + dy) * w + (x + 4) * scale + dx) * 4;
      data[o] = data[o + 1] = data[o + 2] = 0;
    }
  }
  const r = jsQR(data, w, w, { inversionAttempts: 'dontInvert' });
  return r ? r.data : null;
}

const samples = ['1', 'http://127.0.0.1:8080/#482913', 'https://jam.example.org/#000123'];
for (let len = 5; len <= 213; len += 13) samples.push('x'.repeat(len - 3) + 'é!');
const seenVersions = new Set();
for (const s of samples) {
  const qr = encodeQR(s);
  seenVersions.add(qr.version);
  const got = decode(qr);
  check(`round trip v${qr.version} mask ${qr.mask} (${s.length} chars)`, got === s, `got ${JSON.stringify(got)}`);
}
for (let m = 0; m < 8; m++) {
  const s = 'https://cojam.example/screen.html#482913';
  check(`forced mask ${m}`, decode(encodeQR(s, m)) === s);
}
check('versions 1..10 all used', [1,2,3,4,5,6,7,8,9,10].every((v) => seenVersions.has(v)), [...seenVersions].join(','));
let threw = false;
try { encodeQR('y'.repeat(300)); } catch { threw = true; }
check('too long text throws', threw);
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
