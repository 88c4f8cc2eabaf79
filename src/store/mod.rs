//! Conversation state behind one seam, so several replicas can share it later: which
//! deliveries were already handled (de-duplication), who asked the bot in which thread
//! (follow-ups need no mention), and each thread's earlier turns (the agent's context).
//!
//! The core never consults the store before acknowledging a delivery: it acks first and asks
//! the store on the work pool. [`memory::MemoryStore`] is the default (one replica); a shared
//! implementation (DynamoDB) only needs a new impl of [`ConversationStore`].

pub mod dynamo;
pub mod memory;
pub mod runs;
pub mod settings;
pub mod sqlite;

use crate::core::inbound::{ChatUser, ThreadKey};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One question and its answer in a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Who asked.
    pub user: ChatUser,
    /// What they asked.
    pub question: String,
    /// A short summary of the answer (not the whole answer).
    pub answer: String,
    /// When it was answered, seconds since the Unix epoch.
    pub at: u64,
}

/// Why the store could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("conversation store: {0}; check the [store] settings and that the store is reachable")]
pub struct StoreError(pub String);

/// Shared conversation state. Implementations must be safe to call from several replicas at
/// once: [`ConversationStore::claim_delivery`] is first-writer-wins.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// Records `delivery` as handled for `ttl`. `Ok(true)`: this caller is the first (do the
    /// work); `Ok(false)`: already claimed (a retry or a second replica's copy).
    async fn claim_delivery(&self, delivery: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Appends `turn` to `thread` (and remembers that `turn.user` asked there).
    async fn add_turn(&self, thread: &ThreadKey, turn: Turn) -> Result<(), StoreError>;
    /// Whether `user` asked the bot in `thread` (and it is still remembered).
    async fn asked_in(&self, thread: &ThreadKey, user: &ChatUser) -> Result<bool, StoreError>;
    /// The newest `limit` turns of `thread`, oldest first.
    async fn turns(&self, thread: &ThreadKey, limit: usize) -> Result<Vec<Turn>, StoreError>;
}
