//! `tickstock bench plan`: planning alone, what `POST /loads` does before it answers: N
//! generated symbols x Y years of daily bars against an empty store, from the request to
//! the checked jobs. A request over the symbol cap is timed up to its refusal, which is
//! what a server does with it.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::api::load::{LoadSpec, RequestLimits, SymbolsSpec};
use crate::plugin::Registry;

pub fn run(registry: Arc<Registry>, symbols: u64, years: u32, max_symbols: usize) -> anyhow::Result<()> {
    let spec = LoadSpec {
        symbols: SymbolsSpec::Count(symbols),
        exchange: None,
        from: None,
        to: Some("2024-12-31".into()),
        years: Some(years),
        timeframe: None,
        tier: None,
        policy: None,
        max_symbols_per_job: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let missing = tempfile::tempdir()?;
        let store = crate::store::Store::open_read_only(&missing.path().join("none.db").display().to_string()).await?;
        let started = Instant::now();
        let request = spec.to_request(Utc::now().date_naive(), &RequestLimits { max_symbols });
        let outcome = match request {
            Ok(request) => crate::load::plan_load(&registry, &store, &request).await.map_err(anyhow::Error::from),
            Err(error) => Err(error.into()),
        };
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(plan) => println!(
                "planned {symbols} symbols x {years} years in {seconds:.3} s: {} gaps, {} jobs, {} expected rows",
                plan.summary.gaps, plan.summary.jobs, plan.summary.expected_rows
            ),
            Err(error) => println!("refused {symbols} symbols x {years} years in {seconds:.3} s: {error}"),
        }
        store.close().await;
        anyhow::Ok(())
    })
}
