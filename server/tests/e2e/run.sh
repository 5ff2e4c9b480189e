#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - run every server/tests/e2e/NN-*.py with /usr/bin/python3 (Debian's python3-websockets
# lives there), E2E_JOBS (default 2) files at a time; each file starts its own redis-server and
# cojamd on free ports. Each file prints TAP lines and "# N passed, N failed"; the last line here
# is the total, "N passed, N failed". Exit 1 if anything failed.
# COJAMD=/path/to/cojamd picks the binary (make asan runs the same tests on build/asan/cojamd).
# Optional arguments: a subset of files (e.g. run.sh 40-protocol.py).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../jobs.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
: "${COJAMD:=$(cd "$here/../../.." && pwd)/build/debug/cojamd}"
export COJAMD
export PYTHONDONTWRITEBYTECODE=1

# The longest files first (their seconds are printed after each), so that two at a time end
# together; then the rest in name order.
slow="70-faults.py 80-issue-15-outage.py 71-faults-embedded.py 80-issue-10-connections.py 60-recovery.py"
if [ $# -gt 0 ]; then
    files="$*"
else
    files=$(for f in $slow; do [ -f "$here/$f" ] && echo "$f"; done
            ls "$here" | grep -E '^[0-9][0-9]-.*\.py$' | sort | grep -vxF -f <(printf '%s\n' $slow))
fi

one_file() {
    local f=$1 path out summary t0
    case $f in /*) path=$f ;; *) path=$here/$(basename "$f") ;; esac
    echo "# $(basename "$path")"
    out=$(mktemp)
    t0=$(date +%s)
    # A file that dies before its summary still counts as one failure.
    timeout -k 5 "${E2E_FILE_TIMEOUT:-150}" "$py" "$path" >"$out" 2>&1
    cat "$out"
    summary=$(grep -E '^# [0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
    rm -f "$out"
    echo "# $(basename "$path"): $(($(date +%s) - t0)) s"
    if [ -n "$summary" ]; then
        echo "$summary" | sed -E 's/^# ([0-9]+) passed, ([0-9]+) failed$/#= \1 \2/'
    else
        echo "not ok - $(basename "$path") ended without a summary"
        echo "#= 0 1"
    fi
}

# Files run alone, after the others: the Sentinel failover test uses a 1 s down-after, and with
# another file's servers on the same 2 cores the sentinels sometimes fail over a second time on
# their own (a new primary slow to answer right after the first). The test follows the sentinels
# (settle_topology) and survives that, but the extra failover drops the writes of its window.
solo="80-issue-13-sentinel.py"
paired=$(printf '%s\n' $files | grep -vxF -f <(printf '%s\n' $solo))
alone=$(printf '%s\n' $files | grep -xF -f <(printf '%s\n' $solo))
# shellcheck disable=SC2086 # the file names have no spaces
run_jobs "${E2E_JOBS:-2}" one_file $paired
# shellcheck disable=SC2086
run_jobs 1 one_file $alone
echo "$JOBS_PASSED passed, $JOBS_FAILED failed"
[ "$JOBS_FAILED" -eq 0 ]
