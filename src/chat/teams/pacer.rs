//! Per-conversation pacing of outgoing messages, under Teams' documented limits for one bot in
//! one conversation (msteams-docs, "Optimize your bot: rate limiting"): 7 messages a second,
//! 8 in 2 seconds, 60 in 30 seconds. A sender waits for room instead of being throttled. Memory
//! is bounded: conversations idle for a minute are forgotten, and at most
//! [`MAX_CONVERSATIONS`] are tracked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The windows: at most `n` messages in `window`.
pub const LIMITS: [(usize, Duration); 3] = [
    (7, Duration::from_secs(1)),
    (8, Duration::from_secs(2)),
    (60, Duration::from_secs(30)),
];
/// Most conversations tracked at once.
pub const MAX_CONVERSATIONS: u64 = 10_000;

/// Waits for room per conversation.
#[derive(Clone)]
pub struct Pacer {
    recent: moka::sync::Cache<String, Arc<Mutex<VecDeque<Instant>>>>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self {
            recent: moka::sync::Cache::builder()
                .max_capacity(MAX_CONVERSATIONS)
                .time_to_idle(Duration::from_secs(60))
                .build(),
        }
    }
}

/// How long to wait before one more message fits in `sent` at `now` (zero: it fits).
fn wait_needed(sent: &VecDeque<Instant>, now: Instant) -> Duration {
    let mut wait = Duration::ZERO;
    for (n, window) in LIMITS {
        let inside: Vec<&Instant> = sent.iter().filter(|t| now - **t < window).collect();
        if inside.len() >= n {
            // Room appears when the oldest message that keeps the window full leaves it.
            let oldest = *inside[inside.len() - n];
            wait = wait.max(window - (now - oldest));
        }
    }
    wait
}

impl Pacer {
    /// Waits until one more message may go to `conversation`, and counts it.
    pub async fn wait(&self, conversation: &str) {
        let sent = self
            .recent
            .get_with(conversation.to_string(), Default::default);
        loop {
            let wait = {
                let mut sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let longest = LIMITS[LIMITS.len() - 1].1;
                while sent.front().is_some_and(|t| now - *t >= longest) {
                    sent.pop_front();
                }
                let wait = wait_needed(&sent, now);
                if wait.is_zero() {
                    sent.push_back(now);
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_under_every_window() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..70 {
            pacer.wait("19:c@thread.tacv2").await;
            times.push(Instant::now() - start);
        }
        for (n, window) in LIMITS {
            for i in n..times.len() {
                assert!(
                    times[i] - times[i - n] >= window,
                    "message {i} breaks {n} per {window:?}: {:?}",
                    &times[i - n..=i]
                );
            }
        }
        assert_eq!(times[6], Duration::ZERO, "the first seven go at once");
        // Another conversation is not held up by this one.
        let before = Instant::now();
        pacer.wait("a:other").await;
        assert_eq!(Instant::now(), before);
    }
}
