//! The optional daily token budget per person (`agent.daily_tokens_per_person`), kept per
//! replica: a person spread over several replicas may use up to that many times the budget,
//! which is an acceptable bound for a cost guard.

use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tokens used per person per UTC day.
pub struct Budget {
    limit: Option<u64>,
    used: Cache<String, Arc<AtomicU64>>,
}

fn today() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

impl Budget {
    /// A budget of `limit` tokens per person per day (`None`: unlimited).
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            used: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(2 * 86_400))
                .build(),
        }
    }

    fn counter(&self, person: &str) -> Arc<AtomicU64> {
        self.used.get_with(format!("{}:{person}", today()), || {
            Arc::new(AtomicU64::new(0))
        })
    }

    /// Tokens left today for `person` (`None`: unlimited).
    pub fn left(&self, person: &str) -> Option<u64> {
        self.limit
            .map(|l| l.saturating_sub(self.counter(person).load(Ordering::SeqCst)))
    }

    /// Records `tokens` used by `person`.
    pub fn charge(&self, person: &str, tokens: u64) {
        if self.limit.is_some() {
            self.counter(person).fetch_add(tokens, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_per_person() {
        let b = Budget::new(Some(1000));
        b.charge("a", 600);
        assert_eq!(b.left("a"), Some(400));
        b.charge("a", 600);
        assert_eq!(b.left("a"), Some(0));
        assert_eq!(b.left("b"), Some(1000));
        assert_eq!(Budget::new(None).left("a"), None);
    }
}
