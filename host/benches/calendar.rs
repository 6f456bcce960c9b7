//! Calendar engine benchmarks: warm ns/query of `is_open`, `status`, `next_open` and
//! `next_close` on random whole-minute instants over 2000-2030 (the same instants
//! `tickstock bench calendar` and the peer script use), and the cold build of one
//! exchange-year, through the plugin and by the engine alone.
//!
//! Run: `cargo bench --bench calendar` (from the repository root). `cargo test --bench
//! calendar` runs each benchmark once, unmeasured: `.ci/run` does that so a broken
//! benchmark fails CI.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tickstock::bench::calendar::{bench_range, engine_only_calendar, fresh_calendar, random_instants};
use tickstock::exchanges::Exchanges;

/// Instants cycled through by the warm benchmarks; a power of two so the index is a mask.
const INSTANT_COUNT: usize = 1 << 16;

fn calendar_benchmarks(criterion: &mut Criterion) {
    let exchanges = Exchanges::builtin().expect("built-in calendar plugins load");
    for mic in ["XNYS", "XTKS"] {
        let calendar = exchanges.calendar(mic).expect("built-in calendar");
        let range = bench_range(calendar.spec()).expect("the calendar covers part of the benchmark's range");
        let instants = random_instants(range, 2024, INSTANT_COUNT);
        for &at in &instants {
            calendar.status(at).expect("instants lie inside the calendar's years");
        }

        let mut warm = criterion.benchmark_group(format!("calendar/{mic}/warm"));
        let mut next_index = 0usize;
        let instants = &instants;
        let mut next_instant = move || {
            next_index = next_index.wrapping_add(1);
            instants[next_index & (INSTANT_COUNT - 1)]
        };
        warm.bench_function("is_open", |bencher| bencher.iter(|| calendar.is_open(black_box(next_instant())).unwrap()));
        warm.bench_function("status", |bencher| bencher.iter(|| calendar.status(black_box(next_instant())).unwrap()));
        warm.bench_function("next_open", |bencher| {
            bencher.iter(|| calendar.next_open(black_box(next_instant())).unwrap())
        });
        warm.bench_function("next_close", |bencher| {
            bencher.iter(|| calendar.next_close(black_box(next_instant())).unwrap())
        });
        warm.finish();

        let mut cold = criterion.benchmark_group(format!("calendar/{mic}/cold"));
        cold.sample_size(20);
        cold.bench_function("year_through_plugin", |bencher| {
            bencher.iter_batched(
                || fresh_calendar(&exchanges, mic).expect("fresh generation"),
                |fresh| fresh.warm([2024]).expect("2024 builds"),
                BatchSize::PerIteration,
            )
        });
        cold.bench_function("year_engine_only", |bencher| {
            bencher.iter_batched(
                || engine_only_calendar(&calendar, 2024).expect("2024 special days"),
                |engine| engine.warm([2024]).expect("2024 builds"),
                BatchSize::PerIteration,
            )
        });
        cold.finish();
    }
}

criterion_group!(benches, calendar_benchmarks);
criterion_main!(benches);
