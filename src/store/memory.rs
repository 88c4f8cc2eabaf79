//! [`MemoryStore`]: conversation state in this process, bounded in entries and bytes.
//!
//! Delivery ids are kept as 64-bit hashes in two generations of a hash set (about ten bytes
//! each): an id is remembered for between one and two TTLs, and a flood that fills the current
//! generation early only shortens the window (counted, logged) — it never grows memory. Threads
//! keep their newest turns, weighed by size (plus a per-entry overhead) so the whole history
//! stays under a fixed budget however long people talk.

use super::{ConversationStore, StoreError, Turn};
use crate::core::inbound::{ChatUser, ThreadKey};
use async_trait::async_trait;
use moka::sync::Cache;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Most turns kept per thread.
pub const TURNS_PER_THREAD: usize = 20;
/// Most bytes of thread history kept in memory, all threads together (about 10,000 threads
/// of a few turns each).
pub const HISTORY_BYTES: u64 = 8 * 1024 * 1024;
/// What one thread costs beyond its text (keys, cache bookkeeping), for the budget.
const THREAD_OVERHEAD: usize = 256;
/// Delivery ids one generation holds before it is rotated early (two generations live).
pub const DELIVERIES_PER_GENERATION: usize = 200_000;

/// Two generations of delivery-id hashes.
struct Seen {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    started: Instant,
}

/// In-process [`ConversationStore`]; the default with one replica.
pub struct MemoryStore {
    hasher: RandomState,
    seen: Mutex<Seen>,
    /// Thread key -> newest turns, oldest first.
    threads: Cache<String, Arc<Vec<Turn>>>,
}

impl MemoryStore {
    /// An empty store; threads are forgotten after `thread_idle` without a new turn.
    pub fn new(thread_idle: Duration) -> Self {
        Self {
            hasher: RandomState::new(),
            seen: Mutex::new(Seen {
                current: HashSet::new(),
                previous: HashSet::new(),
                started: Instant::now(),
            }),
            threads: Cache::builder()
                .weigher(|k: &String, v: &Arc<Vec<Turn>>| {
                    let bytes = THREAD_OVERHEAD
                        + k.len()
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
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let full = seen.current.len() >= DELIVERIES_PER_GENERATION;
        if seen.started.elapsed() >= ttl || full {
            if full {
                tracing::warn!(
                    window_secs = seen.started.elapsed().as_secs(),
                    "many deliveries: de-duplication window shortened to keep memory bounded"
                );
            }
            seen.previous = std::mem::take(&mut seen.current);
            seen.started = Instant::now();
        }
        if seen.previous.contains(&key) {
            return Ok(false);
        }
        Ok(seen.current.insert(key))
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

    #[tokio::test(start_paused = true)]
    async fn first_claim_wins_for_between_one_and_two_ttls() {
        let s = MemoryStore::default();
        let ttl = Duration::from_secs(3600);
        assert!(s.claim_delivery("slack:Ev1", ttl).await.unwrap());
        assert!(!s.claim_delivery("slack:Ev1", ttl).await.unwrap());
        assert!(s.claim_delivery("slack:Ev2", ttl).await.unwrap());
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert!(
            !s.claim_delivery("slack:Ev1", ttl).await.unwrap(),
            "still within 2 TTLs"
        );
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert!(
            s.claim_delivery("slack:Ev1", ttl).await.unwrap(),
            "forgotten"
        );
    }

    #[tokio::test]
    async fn a_flood_of_deliveries_keeps_memory_bounded() {
        let s = MemoryStore::default();
        let ttl = Duration::from_secs(3600);
        for i in 0..(DELIVERIES_PER_GENERATION * 3) {
            s.claim_delivery(&format!("slack:Ev{i}"), ttl)
                .await
                .unwrap();
        }
        {
            let seen = s.seen.lock().unwrap();
            assert!(seen.current.len() <= DELIVERIES_PER_GENERATION);
            assert!(seen.previous.len() <= DELIVERIES_PER_GENERATION);
        }
        let last = format!("slack:Ev{}", DELIVERIES_PER_GENERATION * 3 - 1);
        assert!(
            !s.claim_delivery(&last, ttl).await.unwrap(),
            "recent ids still known"
        );
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
