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
. ../../server/tests/jobs.sh

one_file() {
  local t=$1 out rc line t0
  t0=$(date +%s)
  echo "# ${t##* }"
  # shellcheck disable=SC2086 # jamstate's entry is node's flags and the file
  out=$(node $t 2>&1); rc=$?
  out=$(echo "$out" | awk '{print} /^# pass /{p=$3} /^# fail /{f=$3} END{if (p != "") print "# " p " passed, " f " failed"}')
  echo "$out"
  echo "# ${t##* }: $(($(date +%s) - t0)) s"
  line=$(echo "$out" | grep -E '^# [0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -z "$line" ]; then echo "not ok - $t gave no summary (exit $rc)"; echo "#= 0 1"; return; fi
  set -- $line
  local p=$2 f=$4
  [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
  echo "#= $p $f"
}

# The long files first, BROWSER_JOBS (default 2) at a time: each starts its own cojamd, Redis and
# chromium on free ports and writes its own screenshots.
run_jobs "${BROWSER_JOBS:-2}" one_file console.test.mjs a11y.test.mjs browser.test.mjs \
  screen.test.mjs tls.test.mjs results.test.mjs moderation.test.mjs merge.test.mjs reveal.test.mjs \
  discover.test.mjs themes.test.mjs exports.test.mjs invites.test.mjs engines.test.mjs qr.test.mjs \
  strings.test.mjs "--test --test-reporter=tap jamstate.test.mjs"
echo "# $JOBS_PASSED passed, $JOBS_FAILED failed"
[ "$JOBS_FAILED" = 0 ]
