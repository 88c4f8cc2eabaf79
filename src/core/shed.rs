//! Shedding excess work politely and within bounds.
//!
//! When the work limits are reached a person gets a "busy" notice instead of silence — but a
//! flood must not turn into a flood of notices: at most one notice per person per minute,
//! queued in a bounded channel that one task drains; everything beyond is dropped, counted in
//! `opsbot_shed_total{what}` and summarised in a log line at most every ten seconds.

use super::answer::{Answer, Target};
use super::inbound::ChatUser;
use crate::chat::Sinks;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Text people see when the bot is at its limits.
pub const BUSY_TEXT: &str =
    "I'm busy with other questions right now. Please try again in a minute.";

/// How long after one busy notice the same person gets no other.
pub const NOTICE_EVERY: Duration = Duration::from_secs(60);
/// Busy notices waiting to be sent, at most.
pub const NOTICE_QUEUE: usize = 64;

/// What happened to an offered notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued for sending.
    Queued,
    /// This person got a notice less than a minute ago.
    RateLimited,
    /// Too many notices waiting.
    QueueFull,
}

/// Logs "dropped N …" at most once per period, counting in between.
pub struct LogEvery {
    period: Duration,
    started: Instant,
    /// Milliseconds since `started` of the last log line.
    last: AtomicU64,
    count: AtomicU64,
}

impl LogEvery {
    /// A limiter logging at most once per `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            started: Instant::now(),
            last: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Counts one event; returns how many to report when a log line is due now.
    pub fn tick(&self) -> Option<u64> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= self.period.as_millis() as u64;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count.fetch_sub(n, Ordering::Relaxed);
            return Some(n);
        }
        None
    }
}

/// The bounded busy-notice sender.
pub struct BusyNotices {
    recent: moka::sync::Cache<String, ()>,
    tx: mpsc::Sender<Target>,
    metrics: Arc<Metrics>,
    log: LogEvery,
}

impl BusyNotices {
    /// Starts the sender task, which delivers notices through `sinks`.
    pub fn start(sinks: Sinks, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Target>(NOTICE_QUEUE);
        let m = metrics.clone();
        tokio::spawn(async move {
            while let Some(target) = rx.recv().await {
                let Some(sink) = sinks.get(target.place().platform) else {
                    continue;
                };
                match sink.send(&target, &Answer::text(BUSY_TEXT)).await {
                    Ok(_) => m.reply("busy"),
                    Err(e) => {
                        m.error(e.kind());
                        tracing::warn!(error = %e, "busy notice not delivered");
                    }
                }
            }
        });
        Self {
            recent: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(NOTICE_EVERY)
                .build(),
            tx,
            metrics,
            log: LogEvery::new(Duration::from_secs(10)),
        }
    }

    /// Offers a busy notice for `user` at `target`; never waits.
    pub fn offer(&self, user: &ChatUser, target: Target) -> Offer {
        let offer = if !self.recent.entry(user.key()).or_insert(()).is_fresh() {
            Offer::RateLimited
        } else if self.tx.try_send(target).is_err() {
            Offer::QueueFull
        } else {
            Offer::Queued
        };
        match offer {
            Offer::Queued => {}
            Offer::RateLimited => self.shed("busy_notice_rate_limited"),
            Offer::QueueFull => self.shed("busy_notice_queue_full"),
        }
        offer
    }

    fn shed(&self, what: &'static str) {
        self.metrics.shed(what);
        if let Some(n) = self.log.tick() {
            tracing::warn!(
                dropped = n,
                "busy: notices dropped (one per person per minute, at most {NOTICE_QUEUE} waiting)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn log_every_reports_once_per_period_with_the_count() {
        let l = LogEvery::new(Duration::from_secs(10));
        assert_eq!(l.tick(), Some(1));
        for _ in 0..5 {
            assert_eq!(l.tick(), None);
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(l.tick(), Some(6), "the five in between plus this one");
    }
}
