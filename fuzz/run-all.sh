#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) in turn, SECONDS each (default 60), on one
# core, with the memory limits the decoders promise to stay under. New corpus entries go
# to fuzz/corpus/<target> (ignored by git); the committed seeds in fuzz/seeds/<target>
# are read too. Crashes land in fuzz/artifacts/<target>/; logs in fuzz/logs/.
#
#   fuzz/run-all.sh 300                   # five minutes per target
#   fuzz/run-all.sh 600 table_open api_ops
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(block_decode table_open log_read manifest_decode batch_decode api_ops)
fi
export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build || exit 1
mkdir -p logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "=== $t: ${secs}s"
    # One process on one core (libFuzzer's default: no -jobs/-workers forks).
    nice -n 10 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=512 -malloc_limit_mb=64 \
        -print_final_stats=1 >"logs/$t.log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log")
    if [ $status -eq 0 ]; then
        echo "    ok: ${runs:-?} executions, ${rate:-?} exec/s"
    else
        echo "    FAILED (exit $status): see fuzz/logs/$t.log and fuzz/artifacts/$t/"
        grep -m1 -E '^(==[0-9]+==ERROR|thread .* panicked)' "logs/$t.log" | sed 's/^/    /'
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]}"
    exit 1
fi
