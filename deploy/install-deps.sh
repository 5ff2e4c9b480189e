#!/usr/bin/env bash
# Install what cojam needs on Debian 12, only what is missing. Used by `make run` and `make test`.
# Usage: deploy/install-deps.sh [build|test|fuzz]   (test = build + test tools + browser)
set -euo pipefail
what=${1:-build}
pkgs=(gcc make pkg-config libwebsockets-dev libhiredis-dev libjansson-dev libssl-dev redis-server)
case "$what" in
  test) pkgs+=(python3 python3-websockets redis-tools chromium nodejs npm curl) ;;
  fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  # nodejs/npm may come from elsewhere on a dev machine: a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$what" = test ] && [ -f web-client/tests/package.json ] && [ ! -d web-client/tests/node_modules ]; then
  (cd web-client/tests && npm install --no-audit --no-fund --loglevel=error)
fi
exit 0
