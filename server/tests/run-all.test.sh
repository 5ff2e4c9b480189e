#!/usr/bin/env bash
# Checks that `run-all.sh --setup` (what `make test` runs) reports a failed set-up step in its
# final "N passed, N failed" line with what to fix, instead of stopping before any summary.
# Each case runs the real run-all.sh and install-deps.sh in a scratch copy of the tree that holds
# only them, the browser tests' package files and a stub server/Makefile; apt-get, dpkg-query and
# sudo are stand-ins on PATH, so nothing is installed. ONLY=none skips the test layers.
# Prints TAP and "# N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0 n=0

check() {
  n=$((n + 1))
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok $n - $1"; else failed=$((failed + 1)); echo "not ok $n - $1"; fi
}

# A tree with the files the set-up steps use. $1: exit status of the stub build.
make_tree() {
  local t="$scratch/tree$n"
  rm -rf "$t"
  mkdir -p "$t/deploy" "$t/server/tests" "$t/web-client/tests"
  cp "$top/deploy/install-deps.sh" "$t/deploy/"
  cp "$top/server/tests/run-all.sh" "$t/server/tests/"
  cp "$top/web-client/tests/package.json" "$top/web-client/tests/package-lock.json" "$t/web-client/tests/"
  printf 'all unit-bins:\n\t@exit %s\n' "$1" >"$t/server/Makefile"
  echo "$t"
}

# Stand-ins: dpkg-query reports every package installed unless FAKE_APT=broken; apt-get then
# fails as it does for a package the lists do not have; npm (FAKE_NPM=ok) installs nothing.
fake="$scratch/bin"
mkdir -p "$fake"
cat >"$fake/dpkg-query" <<'EOF'
#!/bin/sh
[ "${FAKE_APT:-}" = broken ] || printf 'install ok installed'
EOF
cat >"$fake/apt-get" <<'EOF'
#!/bin/sh
[ "$1" = update ] && exit 0
echo "E: Unable to locate package $(echo "$@" | awk '{print $NF}')" >&2
exit 100
EOF
printf '#!/bin/sh\nexec "$@"\n' >"$fake/sudo"
cat >"$fake/npm-ok" <<'EOF'
#!/bin/sh
[ "$1" = ci ] && mkdir -p node_modules && touch node_modules/.package-lock.json
EOF
chmod +x "$fake"/*

# Runs the set-up in a fresh tree; sets $summary and $output. $1: build status; rest: env.
run_setup() {
  local t
  t=$(make_tree "$1"); shift
  output=$(cd "$t" && env "$@" ONLY=none bash server/tests/run-all.sh --setup build/debug 2>&1)
  summary=$(echo "$output" | tail -1)
}
has() { echo "$output" | grep -qF -- "$1"; }
okpath="$scratch/okbin"
mkdir -p "$okpath"
cp "$fake/dpkg-query" "$fake/apt-get" "$fake/sudo" "$okpath/"
cp "$fake/npm-ok" "$okpath/npm"
printf '#!/bin/sh\n' >"$okpath/node"
chmod +x "$okpath"/*

run_setup 0 PATH="$okpath:$PATH"
check "everything in place: three steps pass ($summary)" "$([ "$summary" = "3 passed, 0 failed" ]; echo $?)"

run_setup 0 PATH="$okpath:$PATH" FAKE_APT=broken
check "apt-get fails: the package step is counted as failed ($summary)" "$([ "$summary" = "2 passed, 1 failed" ]; echo $?)"
check "apt-get fails: the output names the packages and the apt-get command to run" \
  "$(has 'could not install the Debian packages gcc' && has 'Fix: sudo apt-get update && sudo apt-get install -y gcc' &&
     has 'not ok - setup-packages'; echo $?)"

run_setup 2 PATH="$okpath:$PATH"
check "the build fails: counted, and the layers are said to be skipped ($summary)" \
  "$([ "$summary" = "2 passed, 1 failed" ] && has 'not ok - build: every layer is skipped'; echo $?)"

if command -v npm >/dev/null && command -v node >/dev/null; then
  # Port 9 (discard) on loopback refuses at once; an empty cache keeps npm from installing offline.
  run_setup 0 PATH="$fake:$PATH" npm_config_registry=http://127.0.0.1:9/ npm_config_cache="$scratch/npm-cache" \
    npm_config_fetch_retries=0 npm_config_update_notifier=false
  check "the npm registry is unreachable: the npm step is counted as failed ($summary)" \
    "$([ "$summary" = "2 passed, 1 failed" ]; echo $?)"
  check "the npm registry is unreachable: the output names the registry and what to check" \
    "$(has 'npm could not install' && has 'http://127.0.0.1:9/' && has 'not ok - setup-npm'; echo $?)"
else
  echo "ok $((n + 1)) - npm registry case # SKIP npm not installed"
  n=$((n + 1))
fi
echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
