#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - run every server/tests/e2e/NN-*.py in order with /usr/bin/python3 (Debian's
# python3-websockets lives there). Each file prints TAP lines and "# N passed, N failed"; the last
# line here is the total, "N passed, N failed". Exit 1 if anything failed.
# COJAMD=/path/to/cojamd picks the binary (make asan runs the same tests on build/asan/cojamd).
# Optional arguments: a subset of files (e.g. run.sh 40-protocol.py).
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
: "${COJAMD:=$(cd "$here/../../.." && pwd)/build/debug/cojamd}"
export COJAMD
export PYTHONDONTWRITEBYTECODE=1

if [ $# -gt 0 ]; then files="$*"; else files=$(ls "$here" | grep -E '^[0-9][0-9]-.*\.py$' | sort); fi

passed=0
failed=0
for f in $files; do
    case $f in /*) path=$f ;; *) path=$here/$(basename "$f") ;; esac
    echo "# $(basename "$path")"
    out=$(mktemp)
    t0=$(date +%s)
    # A file that dies before its summary still counts as one failure.
    timeout -k 5 "${E2E_FILE_TIMEOUT:-150}" "$py" "$path" 2>&1 | tee "$out"
    summary=$(grep -E '^# [0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
    if [ -n "$summary" ]; then
        p=$(echo "$summary" | sed -E 's/^# ([0-9]+) passed, ([0-9]+) failed$/\1/')
        n=$(echo "$summary" | sed -E 's/^# ([0-9]+) passed, ([0-9]+) failed$/\2/')
        passed=$((passed + p))
        failed=$((failed + n))
    else
        echo "not ok - $(basename "$path") ended without a summary"
        failed=$((failed + 1))
    fi
    rm -f "$out"
    echo "# $(basename "$path"): $(($(date +%s) - t0)) s"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
