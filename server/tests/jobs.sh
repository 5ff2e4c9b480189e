# SPDX-License-Identifier: MIT
# jobs.sh - sourced by the test layers' runners (server/tests/e2e/run.sh, web-client/tests/run.sh).
# run_jobs N FUNC ITEM...: runs "FUNC ITEM" for every item, at most N at a time (N=1: one after
# the other, in order). Each run's output goes to its own file and is printed whole when the run
# ends, so the TAP of two files never interleaves. FUNC must end its output with one line
#   "#= <passed> <failed> <label>"
# which is summed into JOBS_PASSED and JOBS_FAILED (a run without one counts as one failure).
# Most test files spend their time waiting on servers and timers, not on a core: two at a time
# on a 2-core machine halves the wall time of a layer.

JOBS_PASSED=0
JOBS_FAILED=0

_jobs_collect() { # the output file of a run that ended
    local f=$1 tally
    grep -v '^#= ' "$f"
    tally=$(grep '^#= ' "$f" | tail -1)
    if [ -n "$tally" ]; then
        set -- $tally
        JOBS_PASSED=$((JOBS_PASSED + $2))
        JOBS_FAILED=$((JOBS_FAILED + $3))
    else
        echo "not ok - $(head -1 "$f" | sed 's/^# //') ended without a tally"
        JOBS_FAILED=$((JOBS_FAILED + 1))
    fi
    rm -f "$f"
}

run_jobs() {
    local n=$1 fn=$2 dir pid item i=0
    shift 2
    [ "$n" -ge 1 ] 2>/dev/null || n=1
    dir=$(mktemp -d)
    declare -A out=()
    for item in "$@"; do
        while [ "${#out[@]}" -ge "$n" ]; do
            wait -n -p pid
            _jobs_collect "${out[$pid]}"
            unset "out[$pid]"
        done
        i=$((i + 1))
        "$fn" "$item" >"$dir/$i" 2>&1 &
        out[$!]=$dir/$i
    done
    while [ "${#out[@]}" -gt 0 ]; do
        wait -n -p pid
        _jobs_collect "${out[$pid]}"
        unset "out[$pid]"
    done
    rmdir "$dir" 2>/dev/null
}
