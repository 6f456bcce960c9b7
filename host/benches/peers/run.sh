#!/usr/bin/env bash
# Peer benchmarks: tickstock beside a library others use for the same work, installed into
# a throwaway folder (removed on exit; nothing is installed outside it).
#
#   host/benches/peers/run.sh [ARGS]
#       exchange_calendars from PyPI, on the instants `tickstock bench calendar` queries.
#       ARGS go to exchange_calendars.py, e.g. `--queries 50000 --exchanges XNYS,XTKS`.
#
#   host/benches/peers/run.sh queue [--redis URL] [--jobs N] [--runs N] [--tickstock BIN]
#       BullMQ from npm (the version in bullmq/package-lock.json) beside `tickstock bench
#       queue`'s drain: N jobs of tickstock's payload size queued in bulk, then one consumer
#       (a BullMQ Worker of concurrency 1) takes and completes them. Each run does tickstock
#       then BullMQ on the same Redis, and prints the ratio; the JSON report goes to stdout.
#       --redis: default $TICKSTOCK_QUEUE, else redis://127.0.0.1:6379; both use keys
#       under prefixes of their own and delete them. --jobs: default 10000. --runs: paired
#       runs, default 3. --tickstock: default $TICKSTOCK_BIN, else target/release/tickstock
#       of this checkout (`cargo build --release`), else `tickstock` on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

calendar_peer() {
    python3 -m venv "$scratch/venv"
    "$scratch/venv/bin/pip" install --quiet --disable-pip-version-check exchange_calendars >&2
    "$scratch/venv/bin/python" "$here/exchange_calendars.py" "$@"
}

# Reads a JSON document on stdin and prints the value at a path like `backends.1.x`.
json_get() {
    node -e '
        let value = JSON.parse(require("fs").readFileSync(0, "utf8"));
        for (const key of process.argv[1].split(".")) value = value?.[key];
        if (value === undefined) { console.error(`no ${process.argv[1]} in the report`); process.exit(1); }
        console.log(value);
    ' "$1"
}

queue_peer() {
    local redis="${TICKSTOCK_QUEUE:-redis://127.0.0.1:6379}" jobs=10000 runs=3 tickstock="${TICKSTOCK_BIN:-}"
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --redis) redis="$2"; shift 2 ;;
            --jobs) jobs="$2"; shift 2 ;;
            --runs) runs="$2"; shift 2 ;;
            --tickstock) tickstock="$2"; shift 2 ;;
            *) echo "run.sh queue: unknown argument $1 (use --redis URL, --jobs N, --runs N, --tickstock BIN)" >&2; exit 2 ;;
        esac
    done
    if [[ ! "$jobs" =~ ^[1-9][0-9]{0,6}$ || ! "$runs" =~ ^[1-9][0-9]?$ ]]; then
        echo "run.sh queue: --jobs must be 1..9999999 and --runs 1..99" >&2
        exit 2
    fi
    if [[ -z "$tickstock" ]]; then
        local built="$here/../../../target/release/tickstock"
        if [[ -x "$built" ]]; then
            tickstock="$built"
        elif command -v tickstock > /dev/null; then
            tickstock="$(command -v tickstock)"
        else
            echo "run.sh queue: no tickstock binary; run \`cargo build --release\` or give --tickstock BIN" >&2
            exit 2
        fi
    fi

    cp "$here/bullmq/package.json" "$here/bullmq/package-lock.json" "$here/bullmq/drain.mjs" "$scratch/"
    (cd "$scratch" && npm ci --no-audit --no-fund --silent) >&2

    local pairs=() ratios=() run ours tickstock_rate polling_rate job_bytes theirs bullmq_rate version ratio
    for ((run = 1; run <= runs; run++)); do
        ours="$("$tickstock" bench queue --queue "$redis" --drain "$jobs" --singles 100 --bulk 1000 \
            --redis-benchmark-requests 100 --json)"
        tickstock_rate="$(json_get backends.1.drain_jobs_per_second <<< "$ours")"
        polling_rate="$(json_get backends.1.drain_asking_every_tier_jobs_per_second <<< "$ours")"
        job_bytes="$(json_get job_bytes <<< "$ours")"
        theirs="$(node "$scratch/drain.mjs" --redis "$redis" --jobs "$jobs" --payload-bytes "$job_bytes")"
        bullmq_rate="$(json_get drain_jobs_per_second <<< "$theirs")"
        version="$(json_get version <<< "$theirs")"
        ratio="$(node -e 'console.log((process.argv[1] / process.argv[2]).toFixed(2))' "$tickstock_rate" "$bullmq_rate")"
        printf 'run %d: %d jobs of %d bytes: tickstock %.0f jobs/s (%.0f asking every tier before each job), BullMQ %s %.0f jobs/s, ratio %sx\n' \
            "$run" "$jobs" "$job_bytes" "$tickstock_rate" "$polling_rate" "$version" "$bullmq_rate" "$ratio" >&2
        pairs+=("{\"tickstock_jobs_per_second\": $tickstock_rate, \"tickstock_asking_every_tier_jobs_per_second\": $polling_rate, \"bullmq_jobs_per_second\": $bullmq_rate, \"ratio\": $ratio}")
        ratios+=("$ratio")
    done
    local median
    median="$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ values[NR] = $1 } END { print values[int((NR + 1) / 2)] }')"
    echo "median ratio over $runs paired runs: ${median}x" >&2
    local joined
    joined="$(IFS=,; echo "${pairs[*]}")"
    printf '{"redis": "%s", "jobs": %s, "payload_bytes": %s, "bullmq": "%s", "runs": [%s], "median_ratio": %s}\n' \
        "$(sed "s|//[^@/]*@|//|" <<< "$redis")" "$jobs" "$job_bytes" "$version" "$joined" "$median"
}

if [[ "${1:-}" == queue ]]; then
    shift
    queue_peer "$@"
else
    calendar_peer "$@"
fi
