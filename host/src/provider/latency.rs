//! A provider wrapper that adds a fixed delay to every fetch: what a real vendor's round
//! trip costs, for drills (kill a worker while jobs are in flight) and for benchmarks of
//! the scheduling rather than of the synthetic generator.

use std::sync::Arc;
use std::time::Duration;

use super::{FetchFuture, FetchRequest, Provider};

#[derive(Debug, Clone)]
pub struct WithLatency {
    pub inner: Arc<dyn Provider>,
    pub latency: Duration,
}

impl Provider for WithLatency {
    fn name(&self) -> String {
        format!("{} (+{} ms simulated latency)", self.inner.name(), self.latency.as_millis())
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            self.inner.fetch(request).await
        })
    }
}
