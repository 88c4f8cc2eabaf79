//! [`Workers`]: the bounded set of answers in progress — a global limit, a per-person limit,
//! and a tracker so shutdown can wait for in-flight work. Also owns the `[work]` settings.
//!
//! Admission is decided without awaiting, so a front door can acknowledge at once; the work
//! itself runs on a tracked tokio task.

use crate::aws::read::caps::Caps;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// Why work was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Everyone's limit (`work.max_concurrent`) is reached.
    #[error("the bot is at its limit of answers in progress")]
    Global,
    /// This person's limit (`work.max_per_user`) is reached.
    #[error("you already have the most questions in progress")]
    PerUser,
}

/// `[work]`: how much runs at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkSettings {
    /// Answers in progress at once across everyone (`work.max_concurrent`, default 32).
    pub max_concurrent: usize,
    /// Answers in progress at once for one person (`work.max_per_user`, default 2).
    pub max_per_user: usize,
    /// Longest an answer may take before the person is told it ran out of time
    /// (`work.answer_timeout_seconds`, default 180).
    pub answer_timeout: Duration,
    /// Deliveries being triaged at once (de-duplication, follow-up check); beyond this they
    /// are dropped with a metric (`work.max_queued`, default 1024).
    pub max_queued: usize,
    /// What one answer may read and hold (`work.max_targets_per_read`, default 300;
    /// `work.max_targets_per_answer`, default 600; `work.max_result_mib`, default 16).
    pub read_caps: Caps,
}

impl Default for WorkSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 32,
            max_per_user: 2,
            answer_timeout: Duration::from_secs(180),
            max_queued: 1024,
            read_caps: Caps::default(),
        }
    }
}

/// Raw `[work]` section.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawWork {
    max_concurrent: Option<usize>,
    max_per_user: Option<usize>,
    answer_timeout_seconds: Option<u64>,
    max_queued: Option<usize>,
    max_targets_per_read: Option<usize>,
    max_targets_per_answer: Option<usize>,
    max_result_mib: Option<usize>,
}

impl RawWork {
    /// Validates, pushing every problem.
    pub fn validate(self, problems: &mut Vec<crate::problem::Problem>) -> WorkSettings {
        use crate::problem::Problem;
        let d = WorkSettings::default();
        let s = WorkSettings {
            max_concurrent: self.max_concurrent.unwrap_or(d.max_concurrent),
            max_per_user: self.max_per_user.unwrap_or(d.max_per_user),
            answer_timeout: self
                .answer_timeout_seconds
                .map_or(d.answer_timeout, Duration::from_secs),
            max_queued: self.max_queued.unwrap_or(d.max_queued),
            read_caps: Caps {
                targets_per_read: self
                    .max_targets_per_read
                    .unwrap_or(d.read_caps.targets_per_read),
                targets_per_answer: self
                    .max_targets_per_answer
                    .unwrap_or(d.read_caps.targets_per_answer),
                result_bytes: self
                    .max_result_mib
                    .map_or(d.read_caps.result_bytes, |m| m.saturating_mul(1024 * 1024)),
            },
        };
        if s.max_concurrent == 0 {
            problems.push(Problem::new("work.max_concurrent", "must be at least 1"));
        }
        if s.max_per_user == 0 || s.max_per_user > s.max_concurrent.max(1) {
            problems.push(Problem::new(
                "work.max_per_user",
                "must be between 1 and work.max_concurrent",
            ));
        }
        if !(10..=1800).contains(&s.answer_timeout.as_secs()) {
            problems.push(Problem::new(
                "work.answer_timeout_seconds",
                "must be between 10 and 1800 (Slack's response_url lasts 30 minutes)",
            ));
        }
        let caps = &s.read_caps;
        if !(1..=10_000).contains(&caps.targets_per_read) {
            problems.push(Problem::new(
                "work.max_targets_per_read",
                "must be between 1 and 10000 (account-region targets one read may query)",
            ));
        }
        if caps.targets_per_answer < caps.targets_per_read || caps.targets_per_answer > 100_000 {
            problems.push(Problem::new(
                "work.max_targets_per_answer",
                "must be between work.max_targets_per_read and 100000",
            ));
        }
        if !(1..=1024).contains(&(caps.result_bytes / (1024 * 1024))) {
            problems.push(Problem::new(
                "work.max_result_mib",
                "must be between 1 and 1024 (MiB of results one answer may hold)",
            ));
        }
        if !(1..=100_000).contains(&s.max_queued) {
            problems.push(Problem::new(
                "work.max_queued",
                "must be between 1 and 100000",
            ));
        }
        s
    }
}

/// Admits and runs work with limits.
#[derive(Clone)]
pub struct Workers {
    global: Arc<Semaphore>,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
    max_per_user: usize,
    tracker: TaskTracker,
}

/// Held while admitted work runs; releases both limits when dropped.
pub struct Slot {
    _global: OwnedSemaphorePermit,
    user: String,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

impl Workers {
    /// Workers with `max_concurrent` slots overall and `max_per_user` per person.
    pub fn new(max_concurrent: usize, max_per_user: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(max_concurrent)),
            per_user: Arc::default(),
            max_per_user,
            tracker: TaskTracker::new(),
        }
    }

    /// Reserves a slot for `user` without waiting.
    pub fn admit(&self, user: &str) -> Result<Slot, Busy> {
        let mut map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.get(user).copied().unwrap_or(0);
        if n >= self.max_per_user {
            return Err(Busy::PerUser);
        }
        let permit = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy::Global)?;
        map.insert(user.to_string(), n + 1);
        Ok(Slot {
            _global: permit,
            user: user.to_string(),
            per_user: self.per_user.clone(),
        })
    }

    /// Runs `work` on a tracked task (shutdown waits for it).
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(work);
    }

    /// Whether shutdown has begun (no new work is tracked).
    pub fn is_closed(&self) -> bool {
        self.tracker.is_closed()
    }

    /// Tasks still running.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Stops admitting tracked work and waits up to `deadline` for what runs; true if all finished.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_and_global_limits() {
        let pool = Workers::new(3, 2);
        let a1 = pool.admit("a").unwrap();
        let _a2 = pool.admit("a").unwrap();
        assert_eq!(pool.admit("a").err(), Some(Busy::PerUser));
        let _b1 = pool.admit("b").unwrap();
        assert_eq!(pool.admit("c").err(), Some(Busy::Global));
        drop(a1);
        assert!(pool.admit("a").is_ok(), "slot released on drop");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_work_until_deadline() {
        let pool = Workers::new(4, 4);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        pool.spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert!(pool.drain(Duration::from_secs(5)).await);
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
        let pool = Workers::new(4, 4);
        pool.spawn(tokio::time::sleep(Duration::from_secs(60)));
        assert!(!pool.drain(Duration::from_secs(5)).await);
    }
}
