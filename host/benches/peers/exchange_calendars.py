"""Peer benchmark: the calendar queries `tickstock bench calendar` times, asked of the
Python library exchange_calendars, on the very same instants.

The instants come from the same xorshift64* generator and seed as
tickstock::bench::calendar::random_instants: whole minutes, uniform over
2000-01-01..2030-12-01 UTC clipped, as tickstock::bench::calendar::bench_range clips it, to the
years tickstock's calendar covers (local midnight of its first year: 2000-01-01 05:00 UTC
for XNYS). Prints one JSON object per exchange (a JSON list), with the
median ns per query of each kind over several rounds and the share of instants that are
open, which should match tickstock's `open_share` where the two calendars agree.

Run through run.sh, which installs exchange_calendars into a throwaway venv.
"""

import argparse
import datetime
import json
import statistics
import sys
import time

# This file shares the library's name, and Python puts the script's folder first on the
# path, so `import exchange_calendars` would import this very file. Drop that entry.
sys.path = [entry for entry in sys.path if entry not in ("", __file__.rsplit("/", 1)[0])]

import exchange_calendars  # noqa: E402
import pandas  # noqa: E402

MASK = (1 << 64) - 1
RANGE_START = int(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
RANGE_END = int(datetime.datetime(2030, 12, 1, tzinfo=datetime.timezone.utc).timestamp())
# First year of tickstock's built-in calendars where it is not 2000 (their last, 2099, lies
# beyond RANGE_END); an instant before local midnight of that year is outside its range.
TICKSTOCK_FIRST_YEAR = {"XETR": 1997, "XTSE": 2010}


def bench_range(mic, timezone):
    """(start, end) Unix seconds, identical to tickstock's bench_range for `mic`."""
    first_year = TICKSTOCK_FIRST_YEAR.get(mic, 2000)
    new_year = int(pandas.Timestamp(datetime.datetime(first_year, 1, 1)).tz_localize(timezone).timestamp())
    return max(RANGE_START, new_year), RANGE_END


def random_instants(mic, timezone, seed, count):
    """Unix seconds, identical to tickstock's random_instants(bench_range(..), seed, count)."""
    range_start, range_end = bench_range(mic, timezone)
    minutes = (range_end - range_start) // 60
    state = max(seed, 1)
    instants = []
    for _ in range(count):
        state ^= state >> 12
        state ^= (state << 25) & MASK
        state ^= state >> 27
        value = (state * 0x2545F4914F6CDD1D) & MASK
        instants.append(range_start + (value % minutes) * 60)
    return instants


def median_ns_per_query(query, minutes, rounds):
    timings = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for minute in minutes:
            query(minute)
        timings.append((time.perf_counter_ns() - started) / len(minutes))
    return statistics.median(timings)


def report(mic, queries, seed, rounds):
    # The library's calendars span 20 years back by default; ask for the benchmark's range
    # (and a margin so next_open/next_close near the end stay inside the bounds).
    calendar = exchange_calendars.get_calendar(mic, start="1999-12-01", end="2031-06-30")
    minutes = [pandas.Timestamp(seconds, unit="s", tz="UTC") for seconds in random_instants(mic, calendar.tz, seed, queries)]

    def status(minute):
        # exchange_calendars has no status call; this is what a caller does to get one.
        if calendar.is_open_on_minute(minute):
            return calendar.next_close(minute)
        return calendar.next_open(minute)

    # Warm the library's lazily built indexes before timing.
    for minute in minutes[:1000]:
        status(minute)

    open_count = sum(1 for minute in minutes if calendar.is_open_on_minute(minute))
    # Cold: a new instance of the calendar's class builds every session of the range at
    # once (get_calendar would return its cached instance).
    started = time.perf_counter()
    type(calendar)(start="1999-12-01", end="2031-06-30")
    build_seconds = time.perf_counter() - started
    return {
        "exchange": mic,
        "library": "exchange_calendars " + exchange_calendars.__version__,
        "queries_per_round": queries,
        "seed": seed,
        "open_share": open_count / len(minutes),
        "warm_ns": {
            "is_open": median_ns_per_query(calendar.is_open_on_minute, minutes, rounds),
            "status": median_ns_per_query(status, minutes, rounds),
            "next_open": median_ns_per_query(calendar.next_open, minutes, rounds),
            "next_close": median_ns_per_query(calendar.next_close, minutes, rounds),
        },
        "cold_build_1999_12_to_2031_06_ms": build_seconds * 1e3,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", default="XNYS,XTKS")
    parser.add_argument("--queries", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    reports = [
        report(mic.strip().upper(), arguments.queries, arguments.seed, arguments.rounds)
        for mic in arguments.exchanges.split(",")
    ]
    json.dump(reports, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
