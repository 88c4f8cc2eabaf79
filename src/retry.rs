//! One retry loop for every HTTP client (Slack, Okta, Entra, and the AWS-facing clients later):
//! the server's `Retry-After` when it sends one, otherwise exponential backoff with full
//! jitter; bounded in attempts and in the longest single wait. Sleeps on tokio's clock so
//! tests run it with paused time.

use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = try once).
    pub max_retries: u32,
    /// First backoff when the server gives no `Retry-After`; doubles each retry.
    pub base: Duration,
    /// Longest single wait, whatever the server asks for.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// What one attempt says about trying again.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Finished: success or an error not worth retrying.
    Done(Result<T, E>),
    /// Failed in a way that may pass (429, 503, ...): retry after the server's wait if given.
    Retry {
        /// The server's `Retry-After`, if it sent one.
        after: Option<Duration>,
        /// The error to return if no retries are left.
        error: E,
    },
}

/// Runs `attempt` until it is done or `policy.max_retries` retries are spent; returns the last
/// error then. `what` names the call in logs (never a URL with secrets).
pub async fn run<T, E, F, Fut>(policy: RetryPolicy, what: &str, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Attempt::Done(result) => return result,
            Attempt::Retry { after, error } => {
                if retries >= policy.max_retries {
                    return Err(error);
                }
                let wait = wait_for(policy, retries, after);
                retries += 1;
                tracing::info!(
                    call = what,
                    retry = retries,
                    wait_ms = wait.as_millis() as u64,
                    "throttled or unavailable; retrying"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The wait before retry number `retry` (0-based): the server's value, else full jitter over
/// `base * 2^retry`; never more than `max_wait`.
pub fn wait_for(policy: RetryPolicy, retry: u32, after: Option<Duration>) -> Duration {
    let wait = match after {
        Some(a) => a,
        None => {
            let cap = policy.base.saturating_mul(1u32 << retry.min(16));
            let ms = cap.as_millis().min(u64::MAX as u128) as u64;
            Duration::from_millis(fastrand::u64(ms / 2..=ms.max(1)))
        }
    };
    wait.min(policy.max_wait)
}

/// Parses an HTTP `Retry-After` given in seconds (the form Slack, Graph and AWS use).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_the_servers_wait_then_succeeds() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r: Result<u32, &str> = run(policy(3), "t", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Attempt::Retry {
                    after: Some(Duration::from_secs(2)),
                    error: "429",
                },
                n => Attempt::Done(Ok(n)),
            }
        })
        .await;
        assert_eq!(r, Ok(2));
        assert_eq!(start.elapsed(), Duration::from_secs(4), "waited 2 s twice");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_with_the_last_error_and_caps_each_wait() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r: Result<(), String> = run(policy(2), "t", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Attempt::Retry {
                after: Some(Duration::from_secs(3600)),
                error: format!("attempt {n}"),
            }
        })
        .await;
        assert_eq!(r, Err("attempt 2".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(10),
            "two waits of max_wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn done_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), &str> = run(policy(5), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Attempt::Done(Err("403"))
        })
        .await;
        assert_eq!(r, Err("403"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let p = policy(10);
        for retry in 0..8 {
            let cap = Duration::from_millis(100 * (1 << retry)).min(p.max_wait);
            for _ in 0..50 {
                let w = wait_for(p, retry, None);
                assert!(w <= cap, "retry {retry}: {w:?} > {cap:?}");
                assert!(w >= (cap / 2).min(p.max_wait), "retry {retry}: {w:?}");
            }
        }
        assert_eq!(
            wait_for(p, 0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn parses_retry_after_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
