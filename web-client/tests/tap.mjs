// The TAP frame of a browser test file: numbered "ok"/"not ok" lines, a watchdog that ends a run
// that hangs, the output of the servers when the run aborts, and the closing
// "# N passed, N failed" line that run.sh counts.

import { procs, cleanup } from './servers.mjs';

export function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }

// Runs main(test), where test(name, fn) counts one test, then close() (the browser, say) and the
// servers' cleanup, also when the whole run takes longer than limitS seconds. Exits the process:
// 0 when every test passed.
export async function runTap(main, { limitS, close = async () => {} }) {
  let passed = 0, failed = 0, n = 0;
  const print = (e, lines) => {
    for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, lines)) console.log('#   ' + line);
  };
  const test = async (name, fn) => {
    n++;
    try {
      await fn();
      passed++;
      console.log(`ok ${n} - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok ${n} - ${name}`);
      print(e, 6);
    }
  };
  const watchdog = setTimeout(async () => {
    console.log(`not ok - the whole run took longer than ${limitS} s`);
    console.log(`# ${passed} passed, ${failed + 1} failed`);
    try { await close(); } catch { /* ignore */ }
    cleanup();
    process.exit(1);
  }, limitS * 1000);
  try {
    await main(test);
  } catch (e) {
    failed++;
    n++;
    console.log(`not ok ${n} - setup or run aborted`);
    print(e, 8);
    for (const p of procs) console.log(`# ${p.label} output:\n` + p.tail().replace(/^/gm, '# '));
  } finally {
    try { await close(); } catch { /* ignore */ }
    cleanup();
    clearTimeout(watchdog);
    console.log(`1..${n}`);
    console.log(`# ${passed} passed, ${failed} failed`);
  }
  process.exit(failed ? 1 : 0);
}
