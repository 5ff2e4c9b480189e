#!/usr/bin/env bash
# Run every test layer against one build flavour and print the total as "N passed, N failed".
# Usage: server/tests/run-all.sh build/debug     (ONLY=unit|e2e|browser|load runs one layer)
# Layers: unit tests, fuzz-corpus replay, end-to-end (real cojamd + redis-server + WebSocket
# clients), browser tests (headless Debian chromium), and a short load-generator smoke.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-build/debug}
case "$out" in /*) ;; *) out="$top/$out" ;; esac
export COJAMD="$out/cojamd"
only=${ONLY:-all}
passed=0 failed=0
log="$top/build/test-logs"
mkdir -p "$log"

# Run one suite, echo its output, and add the last "N passed, N failed" it printed.
run() {
  local name=$1; shift
  echo "=== $name"
  local f="$log/$name.log"
  "$@" >"$f" 2>&1
  local rc=$?
  cat "$f"
  local line
  line=$(grep -E '^(# )?[0-9]+ passed, [0-9]+ failed' "$f" | tail -1 | sed 's/^# //')
  if [ -z "$line" ]; then
    echo "not ok - $name produced no summary (exit $rc)"
    failed=$((failed + 1))
    return
  fi
  local p f2
  p=$(echo "$line" | awk '{print $1}')
  f2=$(echo "$line" | awk '{print $3}')
  if [ "$rc" != 0 ] && [ "$f2" = 0 ]; then f2=1; echo "not ok - $name exited $rc"; fi
  passed=$((passed + p)); failed=$((failed + f2))
}

if [ "$only" = all ] || [ "$only" = unit ]; then
  for t in "$out"/tests/test_*; do
    [ -x "$t" ] || continue
    run "unit-${t##*/test_}" "$t"
  done
  for r in "$out"/tests/replay_*; do
    [ -x "$r" ] || continue
    n=${r##*/replay_}
    run "fuzz-replay-$n" "$r" "$top/server/tests/fuzz/corpus/$n" "$top/proto/examples"
  done
fi
if [ "$only" = all ] || [ "$only" = e2e ]; then
  [ -f "$top/server/tests/e2e/run.sh" ] && run e2e bash "$top/server/tests/e2e/run.sh"
fi
if [ "$only" = all ] || [ "$only" = browser ]; then
  if [ -f "$top/web-client/tests/run.sh" ]; then
    run browser bash "$top/web-client/tests/run.sh"
  fi
fi
if [ "$only" = all ] || [ "$only" = load ]; then
  [ -f "$top/load-tests/smoke.sh" ] && run load-smoke bash "$top/load-tests/smoke.sh"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
