//! [`MemoryStore`]: conversation state in this process, bounded in entries and bytes.
//!
//! Delivery ids are kept as 64-bit hashes for the de-duplication window (a flood of unique
//! deliveries costs tens of bytes each); threads keep their newest turns, weighed by size so
//! the whole store stays under a fixed budget however long people talk.

use super::{ConversationStore, StoreError, Turn};
use crate::core::inbound::{ChatUser, ThreadKey};
use async_trait::async_trait;
use moka::sync::Cache;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

/// Most turns kept per thread.
pub const TURNS_PER_THREAD: usize = 20;
/// Most bytes of thread history kept in memory, all threads together.
pub const HISTORY_BYTES: u64 = 32 * 1024 * 1024;
/// Most delivery ids remembered at once.
pub const DELIVERIES: u64 = 500_000;

/// In-process [`ConversationStore`]; the default with one replica.
pub struct MemoryStore {
    hasher: RandomState,
    /// Delivery id hash -> claim expiry (moka expires entries per their own TTL).
    deliveries: Cache<u64, Duration>,
    /// Thread key -> newest turns, oldest first.
    threads: Cache<String, Arc<Vec<Turn>>>,
}

struct PerEntryTtl;

impl moka::Expiry<u64, Duration> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &u64,
        ttl: &Duration,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(*ttl)
    }
}

impl MemoryStore {
    /// An empty store; threads are forgotten after `thread_idle` without a new turn.
    pub fn new(thread_idle: Duration) -> Self {
        Self {
            hasher: RandomState::new(),
            deliveries: Cache::builder()
                .max_capacity(DELIVERIES)
                .expire_after(PerEntryTtl)
                .build(),
            threads: Cache::builder()
                .weigher(|k: &String, v: &Arc<Vec<Turn>>| {
                    let bytes = k.len()
                        + v.iter()
                            .map(|t| 64 + t.question.len() + t.answer.len() + t.user.id.len())
                            .sum::<usize>();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(HISTORY_BYTES)
                .time_to_idle(thread_idle)
                .build(),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(Duration::from_secs(7 * 24 * 3600))
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn claim_delivery(&self, delivery: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = self.hasher.hash_one(delivery);
        Ok(self.deliveries.entry(key).or_insert(ttl).is_fresh())
    }

    async fn add_turn(&self, thread: &ThreadKey, turn: Turn) -> Result<(), StoreError> {
        self.threads.entry(thread.key()).and_compute_with(|old| {
            let mut turns: Vec<Turn> = old.map(|e| e.into_value().to_vec()).unwrap_or_default();
            turns.push(turn);
            let excess = turns.len().saturating_sub(TURNS_PER_THREAD);
            turns.drain(..excess);
            moka::ops::compute::Op::Put(Arc::new(turns))
        });
        Ok(())
    }

    async fn asked_in(&self, thread: &ThreadKey, user: &ChatUser) -> Result<bool, StoreError> {
        Ok(self
            .threads
            .get(&thread.key())
            .is_some_and(|t| t.iter().any(|turn| &turn.user == user)))
    }

    async fn turns(&self, thread: &ThreadKey, limit: usize) -> Result<Vec<Turn>, StoreError> {
        Ok(self
            .threads
            .get(&thread.key())
            .map(|t| t[t.len().saturating_sub(limit)..].to_vec())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::{Place, PlaceKind, Platform};

    fn thread(root: &str) -> ThreadKey {
        ThreadKey {
            place: Place::new(Platform::Slack, "C1", PlaceKind::Channel),
            root: root.into(),
        }
    }

    fn turn(user: &str, q: &str) -> Turn {
        Turn {
            user: ChatUser::new(Platform::Slack, user),
            question: q.into(),
            answer: format!("answer to {q}"),
            at: 1,
        }
    }

    #[tokio::test]
    async fn first_claim_wins_until_it_expires() {
        let s = MemoryStore::default();
        let ttl = Duration::from_millis(200);
        assert!(s.claim_delivery("slack:Ev1", ttl).await.unwrap());
        assert!(!s.claim_delivery("slack:Ev1", ttl).await.unwrap());
        assert!(s.claim_delivery("slack:Ev2", ttl).await.unwrap());
        // moka runs on the system clock: wait out the short TTL.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(s.claim_delivery("slack:Ev1", ttl).await.unwrap(), "expired");
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        let s = Arc::new(MemoryStore::default());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.claim_delivery("slack:Ev9", Duration::from_secs(60))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
    }

    #[tokio::test]
    async fn threads_keep_newest_turns_and_who_asked() {
        let s = MemoryStore::default();
        let t = thread("1.0");
        for i in 0..25 {
            s.add_turn(&t, turn("U1", &format!("q{i}"))).await.unwrap();
        }
        let all = s.turns(&t, 100).await.unwrap();
        assert_eq!(all.len(), TURNS_PER_THREAD);
        assert_eq!(all.last().unwrap().question, "q24");
        let two = s.turns(&t, 2).await.unwrap();
        assert_eq!(
            two.iter().map(|t| t.question.as_str()).collect::<Vec<_>>(),
            ["q23", "q24"]
        );
        let u1 = ChatUser::new(Platform::Slack, "U1");
        let u2 = ChatUser::new(Platform::Slack, "U2");
        assert!(s.asked_in(&t, &u1).await.unwrap());
        assert!(!s.asked_in(&t, &u2).await.unwrap());
        assert!(!s.asked_in(&thread("2.0"), &u1).await.unwrap());
        assert!(s.turns(&thread("2.0"), 5).await.unwrap().is_empty());
    }
}
