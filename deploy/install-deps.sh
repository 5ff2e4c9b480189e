#!/usr/bin/env bash
# Install what cojam needs on Debian 12, only what is missing. Used by `make run` and `make test`.
# Usage: deploy/install-deps.sh build|test|fuzz   Debian packages (test = build + test tools + browser)
#        deploy/install-deps.sh npm               the browser tests' node modules, exactly as
#                                                 web-client/tests/package-lock.json pins them
# On failure it says on stderr what is missing and how to fix it, and exits 1.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-build}

fail() {
  echo "install-deps: $*" >&2
  exit 1
}

# npm ci installs the lock file as it is and never rewrites it (npm install may, which would dirty
# the tree). npm writes node_modules/.package-lock.json last, so a copy newer than the lock file
# means the modules match it.
if [ "$what" = npm ]; then
  cd "$top/web-client/tests" || exit 1
  [ node_modules/.package-lock.json -nt package-lock.json ] && exit 0
  command -v npm >/dev/null ||
    fail "npm not found. Fix: sudo apt-get install -y nodejs npm (Debian 12's Node 18 is enough), then run make test again."
  npm ci --no-audit --no-fund --loglevel=error ||
    fail "npm could not install the browser tests' modules (web-client/tests/package-lock.json) from $(npm config get registry 2>/dev/null).
  Fix: check the network, the registry (npm config get registry) and any proxy (npm config get https-proxy), then run make test again."
  exit 0
fi

pkgs=(gcc make pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev libhiredis-dev libjansson-dev libssl-dev redis-server)
case "$what" in
  build) ;;
  test) pkgs+=(python3 python3-websockets python3-jsonschema redis-tools redis-sentinel chromium nodejs npm curl nginx-light) ;;
  fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
  *) fail "unknown set '$what' (build, test, fuzz or npm)" ;;
esac

missing_now() {
  local p
  for p in "${pkgs[@]}"; do
    # nodejs/npm may come from elsewhere on a dev machine: a working binary is enough.
    case "$p" in
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

mapfile -t missing < <(missing_now)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null ||
    fail "missing Debian packages: ${missing[*]}. Fix: as root, apt-get update && apt-get install -y ${missing[*]}"
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
mapfile -t missing < <(missing_now)
[ ${#missing[@]} -eq 0 ] ||
  fail "could not install the Debian packages ${missing[*]} (apt-get's error is above).
  Fix: sudo apt-get update && sudo apt-get install -y ${missing[*]}; check /etc/apt/sources.list* and the network, then run make test again."
exit 0
