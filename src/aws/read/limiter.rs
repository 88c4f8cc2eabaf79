//! Pacing calls to the MCP server within its quotas: requests to one account and region are
//! spaced at `requests_per_second` (the hosted server allows about 3), and at most
//! `concurrency_per_account` are in flight per account. Waiting happens on tokio's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The pacing state; shared by every question.
pub struct Limiter {
    spacing: Duration,
    per_account: usize,
    next: Mutex<HashMap<(String, String), Instant>>,
    accounts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limiter {
    /// A limiter allowing `rps` requests per second per account and region (spaced, with 5%
    /// margin) and `per_account` in flight per account.
    pub fn new(rps: u32, per_account: usize) -> Self {
        Self {
            spacing: Duration::from_secs_f64(1.05 / f64::from(rps.max(1))),
            per_account: per_account.max(1),
            next: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a turn to call `account` in `region`; hold the permit while calling.
    pub async fn acquire(&self, account: &str, region: &str) -> OwnedSemaphorePermit {
        let semaphore = self
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(account.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_account)))
            .clone();
        let permit = semaphore
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = next
                .get(&(account.to_string(), region.to_string()))
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            next.insert((account.to_string(), region.to_string()), at + self.spacing);
            at
        };
        tokio::time::sleep_until(slot).await;
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_account_and_region_is_paced_others_are_not() {
        let l = Arc::new(Limiter::new(3, 8));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..4 {
            let _p = l.acquire("111", "us-east-1").await;
            times.push(start.elapsed());
        }
        assert_eq!(times[0], Duration::ZERO);
        assert!(times[3] >= Duration::from_millis(1050), "{times:?}");
        let t = Instant::now();
        let _p = l.acquire("222", "us-east-1").await;
        let _q = l.acquire("111", "eu-west-1").await;
        assert_eq!(t.elapsed(), Duration::ZERO, "other targets don't wait");
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_per_account_is_bounded() {
        let l = Arc::new(Limiter::new(100, 2));
        let a = l.acquire("111", "r1").await;
        let _b = l.acquire("111", "r2").await;
        let l2 = l.clone();
        let third = tokio::spawn(async move { l2.acquire("111", "r3").await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!third.is_finished(), "a third waits");
        drop(a);
        let _third = third.await.unwrap();
    }
}
