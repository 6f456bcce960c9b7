//! The market-aware throttle: per-exchange semaphores applied while the exchange trades,
//! or holding jobs until their exchanges close (`--max-jobs-while-open`, `--when-closed`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Throttle;
use crate::plugin::Registry;

/// The market-aware throttle: per-exchange semaphores applied while the exchange trades,
/// or holding jobs until their exchanges close.
pub(super) struct ExchangeThrottle {
    options: Throttle,
    open_limits: Mutex<BTreeMap<String, Arc<Semaphore>>>,
}

impl ExchangeThrottle {
    pub(super) fn new(options: Throttle) -> ExchangeThrottle {
        ExchangeThrottle { options, open_limits: Mutex::new(BTreeMap::new()) }
    }

    /// Waits until the job may run; the permits it returns are held for the job's life.
    pub(super) async fn admit(
        &self,
        registry: &Registry,
        job: &crate::queue::JobPayload,
    ) -> Result<Vec<tokio::sync::OwnedSemaphorePermit>, String> {
        let mut exchanges: Vec<&str> = job.gaps.iter().map(|gap| gap.exchange.as_str()).collect();
        exchanges.sort_unstable();
        exchanges.dedup();
        let mut permits = Vec::new();
        for mic in exchanges {
            let Some(calendar) = registry.calendar(mic) else { continue };
            if self.options.only_when_closed {
                loop {
                    let now = self.options.clock.now();
                    match calendar.is_open(now) {
                        Ok(false) | Err(_) => break,
                        Ok(true) => {
                            let close = calendar.next_close(now).map_err(|error| error.to_string())?;
                            let wait = (close - now).to_std().unwrap_or_default();
                            tracing::info!(
                                exchange = mic,
                                wait_s = wait.as_secs(),
                                "holding the job until the exchange closes"
                            );
                            self.options.clock.sleep(wait.max(Duration::from_millis(10))).await;
                        }
                    }
                }
            }
            if let Some(limit) = self.options.max_jobs_while_open
                && calendar.is_open(self.options.clock.now()).unwrap_or(false)
            {
                let semaphore = self
                    .open_limits
                    .lock()
                    .expect("throttle lock")
                    .entry(mic.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(limit.max(1))))
                    .clone();
                permits.push(semaphore.acquire_owned().await.map_err(|error| error.to_string())?);
            }
        }
        Ok(permits)
    }
}
