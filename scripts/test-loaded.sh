#!/usr/bin/env bash
# The whole suite (make test's PostgreSQL and SQLite parts) RUNS times in a row while every core is kept
# busy, as on a loaded CI machine: a flaky test shows up here. Prints each run's time and result and
# exits non-zero if any run failed. Logs go to test-artifacts/loaded/.
#
#   scripts/test-loaded.sh [RUNS]        # default 3; BURNERS=n busy loops (default: one per core)
#   TEST_DATABASE_URL=… TEST_REDIS_URL=… scripts/test-loaded.sh   # as for make test
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BURNERS=${BURNERS:-$(nproc)}
LOGS=test-artifacts/loaded
mkdir -p "$LOGS"
make_args=()
[ -n "${TEST_DATABASE_URL:-}" ] && make_args+=("TEST_DATABASE_URL=$TEST_DATABASE_URL")
[ -n "${TEST_REDIS_URL:-}" ] && make_args+=("TEST_REDIS_URL=$TEST_REDIS_URL")

burners=()
stop_burners() { [ ${#burners[@]} -gt 0 ] && kill "${burners[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_burners EXIT
if command -v stress-ng >/dev/null; then
    stress-ng --cpu "$BURNERS" --quiet & burners+=($!)
else
    for _ in $(seq "$BURNERS"); do (while :; do :; done) & burners+=($!); done
fi
echo "$BURNERS CPU burners on $(nproc) cores; $RUNS runs; logs in $LOGS/"

failed=0
for run in $(seq "$RUNS"); do
    for part in test-postgres test-sqlite; do
        log="$LOGS/run-$run-$part.log"
        started=$(date +%s)
        make --no-print-directory "$part" "${make_args[@]}" >"$log" 2>&1
        status=$?
        took=$(($(date +%s) - started))
        summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|[0-9]+ passed' "$log" | tail -1)
        echo "run $run $part: exit $status in ${took}s: $summary"
        [ "$status" -eq 0 ] || failed=1
    done
done
exit $failed
