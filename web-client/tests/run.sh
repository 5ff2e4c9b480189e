#!/usr/bin/env bash
# Browser tests of the web client in headless Debian chromium (playwright-core, no browser
# download), the QR encoder, dependency checks and jamstate.js unit tests (node --test).
# Prints the TAP of all and one total line.
set -u
cd "$(dirname "$0")"
if ! bash ../../deploy/install-deps.sh npm >/dev/null; then
  echo "not ok - node modules not installed (what to fix is said above)"
  echo "# 0 passed, 1 failed"
  exit 1
fi
passed=0 failed=0
for t in engines.test.mjs qr.test.mjs strings.test.mjs browser.test.mjs tls.test.mjs console.test.mjs screen.test.mjs a11y.test.mjs results.test.mjs moderation.test.mjs merge.test.mjs "--test --test-reporter=tap jamstate.test.mjs"; do
  t0=$(date +%s)
  out=$(node $t 2>&1); rc=$?; out="$out
# ${t##* }: $(($(date +%s) - t0)) s"; out=$(echo "$out" | awk '{print} /^# pass /{p=$3} /^# fail /{f=$3} END{if (p != "") print "# " p " passed, " f " failed"}')
  echo "$out"
  line=$(echo "$out" | grep -E '^# [0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -z "$line" ]; then echo "not ok - $t gave no summary (exit $rc)"; failed=$((failed + 1)); continue; fi
  p=$(echo "$line" | awk '{print $2}'); f=$(echo "$line" | awk '{print $4}')
  [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
  passed=$((passed + p)); failed=$((failed + f))
done
echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
