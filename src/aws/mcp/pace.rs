//! Pacing every request to the AWS MCP Server within its documented quotas: 3 requests per
//! second sustained **per account per endpoint Region**, counting every request (initialize,
//! notifications, tools/list, tools/call, DELETE), and 27 concurrent connections per account per
//! Region. One [`Pacer`] is shared by every session: a key is (account, endpoint Region), not the
//! Region a call targets, and not the signing identity (two people querying one account share
//! its budget).
//!
//! Rate: a token bucket kept as a theoretical arrival time (GCRA): each request reserves the next
//! free slot, spaced `1 / requests_per_second` apart (with a small margin, so requests that
//! arrive a little bunched still fit a strict one-second window) after an initial `burst`.
//! Reservations are made in order, so waiting requests keep their turn. A 429 pushes the key's
//! next slot to after the server's `Retry-After`, for every request of that key. Concurrency: a
//! semaphore per key, held for the whole request. Waiting happens on tokio's clock, and never
//! past the caller's deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Spacing margin over the exact `1 / rate`, so a strict 1-second window on the server holds.
const MARGIN: f64 = 1.05;
/// Keys kept before idle ones are forgotten.
const MAX_KEYS: usize = 20_000;

/// How hard to push one (account, endpoint Region).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceSettings {
    /// Sustained requests per second (`mcp.requests_per_second`, default 3).
    pub requests_per_second: f64,
    /// Requests that may go at once before spacing applies (`mcp.burst`, default 1).
    pub burst: u32,
    /// Requests in flight at once (`mcp.concurrency_per_account`, at most 27).
    pub in_flight: usize,
}

impl Default for PaceSettings {
    fn default() -> Self {
        Self {
            requests_per_second: 3.0,
            burst: 1,
            in_flight: 8,
        }
    }
}

/// What is paced: one account through one endpoint Region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaceKey {
    /// Account id of the signing identity.
    pub account: String,
    /// The Region of the MCP endpoint (its signing Region), not the Region a call targets.
    pub endpoint: String,
}

/// The request could not be sent before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late;

/// Held while a request is in flight.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

struct Key {
    /// When the next request may go (GCRA theoretical arrival time).
    tat: Instant,
    gate: Arc<Semaphore>,
}

/// The shared pacing state.
pub struct Pacer {
    settings: PaceSettings,
    interval: Duration,
    tolerance: Duration,
    keys: Mutex<HashMap<PaceKey, Key>>,
}

impl Pacer {
    /// A pacer with `settings`.
    pub fn new(settings: PaceSettings) -> Self {
        let rate = settings.requests_per_second.max(0.01);
        let interval = Duration::from_secs_f64(MARGIN / rate);
        Self {
            settings,
            interval,
            tolerance: interval * settings.burst.max(1).saturating_sub(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> PaceSettings {
        self.settings
    }

    /// Waits for a connection slot and a rate slot for `key`, both before `deadline`.
    pub async fn turn(&self, key: &PaceKey, deadline: Instant) -> Result<Turn, Late> {
        let gate = self.with_key(key, |k| k.gate.clone());
        let permit = tokio::time::timeout_at(deadline, gate.acquire_owned())
            .await
            .map_err(|_| Late)?
            .map_err(|_| Late)?;
        let slot = self.reserve(key, deadline).ok_or(Late)?;
        tokio::time::sleep_until(slot).await;
        Ok(Turn { _permit: permit })
    }

    /// Reserves the next rate slot for `key`, unless it is after `deadline`.
    fn reserve(&self, key: &PaceKey, deadline: Instant) -> Option<Instant> {
        let now = Instant::now();
        let (interval, tolerance) = (self.interval, self.tolerance);
        self.with_key(key, |k| {
            let tat = k.tat.max(now);
            let slot = tat.checked_sub(tolerance).map_or(now, |s| s.max(now));
            if slot > deadline {
                return None;
            }
            k.tat = tat + interval;
            Some(slot)
        })
    }

    /// The server said to wait `wait` (429 `Retry-After`): no request for `key` goes before.
    pub fn back_off(&self, key: &PaceKey, wait: Duration) {
        let until = Instant::now() + wait;
        let tolerance = self.tolerance;
        self.with_key(key, |k| {
            // The next slot (tat - tolerance) is no earlier than `until`.
            let at_least = until + tolerance;
            if k.tat < at_least {
                k.tat = at_least;
            }
        });
    }

    fn with_key<T>(&self, key: &PaceKey, f: impl FnOnce(&mut Key) -> T) -> T {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            let now = Instant::now();
            keys.retain(|_, k| k.tat > now || Arc::strong_count(&k.gate) > 1);
        }
        let in_flight = self.settings.in_flight.max(1);
        let k = keys.entry(key.clone()).or_insert_with(|| Key {
            tat: Instant::now(),
            gate: Arc::new(Semaphore::new(in_flight)),
        });
        f(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: &str, endpoint: &str) -> PaceKey {
        PaceKey {
            account: account.into(),
            endpoint: endpoint.into(),
        }
    }

    fn pacer(rps: f64, burst: u32, in_flight: usize) -> Arc<Pacer> {
        Arc::new(Pacer::new(PaceSettings {
            requests_per_second: rps,
            burst,
            in_flight,
        }))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    /// Most requests in any window of one second.
    fn most_per_second(times: &[Duration]) -> usize {
        times
            .iter()
            .map(|t| {
                times
                    .iter()
                    .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn one_key_never_exceeds_the_rate_in_any_second() {
        let p = pacer(3.0, 1, 27);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            let _t = p.turn(&key("111", "us-east-1"), far()).await.unwrap();
            times.push(start.elapsed());
        }
        assert_eq!(most_per_second(&times), 3, "{times:?}");
        // 12 requests at 3/s: the last goes after ~11 intervals, not much later.
        assert!(times[11] <= Duration::from_millis(3900), "{times:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_spacing_applies() {
        let p = pacer(3.0, 3, 27);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..6 {
            let _t = p.turn(&key("111", "us-east-1"), far()).await.unwrap();
            times.push(start.elapsed());
        }
        assert_eq!(&times[..3], &[Duration::ZERO; 3]);
        assert!(times[3] > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_account_and_endpoint_region() {
        let p = pacer(3.0, 1, 27);
        let _a = p.turn(&key("111", "us-east-1"), far()).await.unwrap();
        let t = Instant::now();
        // Another account, or the same account through another endpoint: no wait.
        let _b = p.turn(&key("222", "us-east-1"), far()).await.unwrap();
        let _c = p.turn(&key("111", "eu-west-1"), far()).await.unwrap();
        assert_eq!(t.elapsed(), Duration::ZERO);
        // The same account and endpoint, whatever Region the call targets, waits.
        let _d = p.turn(&key("111", "us-east-1"), far()).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(333));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_per_key_is_bounded() {
        let p = pacer(100.0, 100, 2);
        let a = p.turn(&key("111", "r"), far()).await.unwrap();
        let _b = p.turn(&key("111", "r"), far()).await.unwrap();
        let p2 = p.clone();
        let third = tokio::spawn(async move { p2.turn(&key("111", "r"), far()).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!third.is_finished(), "a third waits for a connection");
        drop(a);
        assert!(third.await.unwrap().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_waits_past_the_deadline_and_a_late_request_keeps_no_slot() {
        let p = pacer(1.0, 1, 27);
        let k = key("111", "us-east-1");
        let _a = p.turn(&k, far()).await.unwrap();
        let soon = Instant::now() + Duration::from_millis(500);
        assert_eq!(p.turn(&k, soon).await.unwrap_err(), Late);
        // The refused request took no slot: the next one goes one interval after the first.
        let t = Instant::now();
        let _b = p.turn(&k, far()).await.unwrap();
        assert!(
            t.elapsed() <= Duration::from_millis(1050),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_every_request_of_the_key() {
        let p = pacer(3.0, 3, 27);
        let k = key("111", "us-east-1");
        p.back_off(&k, Duration::from_secs(2));
        let t = Instant::now();
        let _a = p.turn(&k, far()).await.unwrap();
        assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
        let t = Instant::now();
        let _b = p.turn(&key("222", "us-east-1"), far()).await.unwrap();
        assert_eq!(t.elapsed(), Duration::ZERO, "other accounts are not held");
    }
}
