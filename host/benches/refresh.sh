#!/usr/bin/env bash
# The README's dev-refresh figures: `tickstock refresh patterns` from empty, with nothing
# to do, and one month stale, on SQLite and (when a URL is given) PostgreSQL, measured
# with hyperfine against the release binary. Everything is written to a temp dir (and
# a throwaway database) that is removed on exit.
#
#   cargo build --release && host/benches/refresh.sh [postgres://user@host:port/admin_db]
#
# hyperfine rather than a `tickstock bench` subcommand: the figure that matters is what a
# developer waits for, process start-up and plugin loading included, and that is what
# timing the whole command measures.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="${TICKSTOCK_BIN:-$here/../../target/release/tickstock}"
admin_url="${1:-}"
scratch="$(mktemp -d)"
database="tickstock_bench_refresh_$$"
cleanup() {
    cd / # psql refuses to start in a deleted folder
    rm -rf "$scratch"
    if [[ -n "$admin_url" ]]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null; fi
}
trap cleanup EXIT
export TICKSTOCK_CACHE_DIR="$scratch/cache"
cd "$scratch"

refresh="$binary refresh patterns"
"$binary" refresh --list >/dev/null # fills the artifact cache, as any second run finds it

echo "== SQLite (./d/patterns.db)"
hyperfine -N --warmup 2 --runs 20 --prepare 'rm -rf d' -n 'from empty' "$refresh --today 2024-07-15 --data-dir d"
$refresh --today 2024-07-15 --data-dir d >/dev/null
hyperfine -N --warmup 3 --runs 30 -n 'nothing to do' "$refresh --today 2024-07-15 --data-dir d"
hyperfine -N --warmup 1 --runs 15 -n 'one month stale' \
    --prepare "sh -c 'rm -rf d && $refresh --today 2024-06-15 --data-dir d >/dev/null'" \
    "$refresh --today 2024-07-15 --data-dir d"

if [[ -n "$admin_url" ]]; then
    psql "$admin_url" -qc "CREATE DATABASE $database"
    url="${admin_url%/*}/$database"
    echo "== PostgreSQL (schema dev_patterns)"
    hyperfine -N --warmup 2 --runs 20 -n 'from empty (--full)' "$refresh --today 2024-07-15 --db $url --full"
    $refresh --today 2024-07-15 --db "$url" >/dev/null
    hyperfine -N --warmup 3 --runs 30 -n 'nothing to do' "$refresh --today 2024-07-15 --db $url"
    hyperfine -N --warmup 1 --runs 15 -n 'one month stale' \
        --prepare "$refresh --today 2024-06-15 --db $url --full" \
        "$refresh --today 2024-07-15 --db $url"
fi
