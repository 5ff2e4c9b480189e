#!/usr/bin/env bash
# Run every test layer against one build flavour and print the total as "N passed, N failed".
# Usage: server/tests/run-all.sh [--setup] build/debug   (ONLY=unit|e2e|browser|load runs one layer,
#                                                         ONLY=none only the set-up steps)
# Layers: unit tests (with run-all.test.sh, the check of this script's set-up report), fuzz-corpus
# replay, end-to-end (real cojamd + redis-server + WebSocket clients), browser tests (headless
# Debian chromium), and a short load-generator smoke.
# --setup first installs the Debian packages and node modules and builds the flavour (the
# directory's name), each a counted step: a step that fails is one failed test with a line saying
# what to fix, and the layers that do not need it still run. `make test` uses it.
# A run that changes the git work tree (tracked files, or new untracked ones) fails as well.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P) # physical, as git rev-parse prints it
setup=0
if [ "${1:-}" = --setup ]; then setup=1; shift; fi
out=${1:-build/debug}
case "$out" in /*) ;; *) out="$top/$out" ;; esac
export COJAMD="$out/cojamd"
only=${ONLY:-all}
passed=0 failed=0
log="$top/build/test-logs"
mkdir -p "$log"

# What a test run must leave unchanged: git's view of the work tree and the content of every
# changed tracked file. Taken before and after, so a developer's uncommitted work is no failure.
tree_state() {
  git -C "$top" status --porcelain --untracked-files=all
  git -C "$top" diff --binary HEAD | sha256sum
}
in_git=0
git -C "$top" rev-parse --show-toplevel 2>/dev/null | grep -qxF "$top" && in_git=1
[ "$in_git" = 1 ] && tree_before=$(tree_state)

# Run one set-up step; on failure count it and print what to fix ($2).
step() {
  local name=$1 fix=$2; shift 2
  echo "=== $name"
  "$@" 2>&1 | tee "$log/$name.log"
  if [ "${PIPESTATUS[0]}" = 0 ]; then
    echo "ok - $name"
    passed=$((passed + 1))
    return 0
  fi
  echo "not ok - $name: $fix"
  failed=$((failed + 1))
  return 1
}

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

built=1 modules=1
if [ "$setup" = 1 ]; then
  step setup-packages "install the Debian packages named above (see deploy/install-deps.sh), then run make test again" \
    bash "$top/deploy/install-deps.sh" test
  step setup-npm "the browser layer is skipped; fix npm as said above, then run make test again" \
    bash "$top/deploy/install-deps.sh" npm || modules=0
  step build "every layer is skipped; fix the build error above (missing packages: see setup-packages)" \
    make --no-print-directory -s -C "$top/server" FLAVOUR="${out##*/}" all unit-bins || built=0
fi
if [ "$built" = 0 ]; then only=none; fi

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
  run setup-report bash "$top/server/tests/run-all.test.sh"
fi
if [ "$only" = all ] || [ "$only" = e2e ]; then
  [ -f "$top/server/tests/e2e/run.sh" ] && run e2e bash "$top/server/tests/e2e/run.sh"
fi
if [ "$only" = all ] || [ "$only" = browser ]; then
  if [ "$modules" = 0 ]; then
    echo "=== browser skipped: its node modules are missing (setup-npm)"
  elif [ -f "$top/web-client/tests/run.sh" ]; then
    run browser bash "$top/web-client/tests/run.sh"
  fi
fi
if [ "$only" = all ] || [ "$only" = load ]; then
  [ -f "$top/load-tests/smoke.sh" ] && run load-smoke bash "$top/load-tests/smoke.sh"
fi
if [ "$in_git" = 1 ]; then
  tree_after=$(tree_state)
  if [ "$tree_after" != "$tree_before" ]; then
    echo "not ok - the test run changed the git work tree (tests must write under build/ only)"
    diff <(echo "$tree_before") <(echo "$tree_after") | grep '^[<>] .. ' ||
      echo "#   files that were already changed before the run were rewritten (see git diff)"
    failed=$((failed + 1))
  fi
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
