//! [`DynamoConversations`]: de-duplication and thread memory in the shared table, with this
//! replica's [`MemoryStore`] as a mirror and a fallback.
//!
//! - A delivery is claimed with a conditional put (`attribute_not_exists(pk) OR expires_at <
//!   :now`): the first replica wins, retries on any replica lose. The claim is mirrored locally;
//!   if the table cannot be reached the local mirror decides (fail open: a retry reaching another
//!   replica may then be answered twice), counted and logged at most once a minute.
//! - Each turn is its own item (sort key by time), read newest-first with a limit and a key
//!   condition that skips turns older than the thread lifetime; who asked in a thread is one
//!   more item, so a follow-up answered by replica B is recognised after replica A answered.

use super::{Dynamo, Item, condition_failed, fail, get_n, get_s, live, n, s};
use crate::core::inbound::{ChatUser, ThreadKey};
use crate::core::shed::LogEvery;
use crate::store::memory::MemoryStore;
use crate::store::runs::unix_now;
use crate::store::{ConversationStore, StoreError, Turn};
use async_trait::async_trait;
use std::time::Duration;

/// How long a thread's turns and askers are remembered.
pub const THREAD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Conversation state in DynamoDB.
pub struct DynamoConversations {
    db: Dynamo,
    local: MemoryStore,
    log: LogEvery,
}

fn thread_pk(thread: &ThreadKey) -> String {
    format!("t#{}", thread.key())
}

fn turn_sk(at_ms: u64) -> String {
    format!("turn#{at_ms:016}#{:08x}", fastrand::u32(..))
}

impl DynamoConversations {
    /// Conversation state in `db`'s table.
    pub fn new(db: Dynamo) -> Self {
        Self {
            db,
            local: MemoryStore::new(THREAD_TTL),
            log: LogEvery::new(Duration::from_secs(60)),
        }
    }

    fn fell_back(&self, op: &'static str, e: &StoreError) {
        self.db.metrics().store_fallback(op);
        if let Some(n) = self.log.tick() {
            tracing::warn!(
                error = %e,
                failures = n,
                "shared store unreachable; this replica answers from its own memory (de-duplication across replicas is off until it is back)"
            );
        }
    }

    async fn put_delivery(&self, delivery: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = unix_now();
        self.db.op("claim_delivery");
        let r = self
            .db
            .client()
            .put_item()
            .table_name(self.db.table())
            .item("pk", s(format!("d#{delivery}")))
            .item("sk", s("d"))
            .item("expires_at", n(now + ttl.as_secs().max(1) as i64))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(fail("PutItem (delivery)", e)),
        }
    }

    async fn put_turn(&self, thread: &ThreadKey, turn: &Turn) -> Result<(), StoreError> {
        let now = unix_now();
        let expires = now + THREAD_TTL.as_secs() as i64;
        let pk = thread_pk(thread);
        let user = serde_json::to_string(&turn.user).map_err(|e| StoreError(e.to_string()))?;
        self.db.op("put_turn");
        let put_turn = self
            .db
            .client()
            .put_item()
            .table_name(self.db.table())
            .item("pk", s(&pk))
            .item("sk", s(turn_sk(turn.at.saturating_mul(1000).max(1))))
            .item("user", s(user))
            .item("question", s(&turn.question))
            .item("answer", s(&turn.answer))
            .item("at", n(turn.at))
            .item("expires_at", n(expires))
            .send();
        self.db.op("put_asked");
        let put_asked = self
            .db
            .client()
            .put_item()
            .table_name(self.db.table())
            .item("pk", s(&pk))
            .item("sk", s(format!("asked#{}", turn.user.key())))
            .item("expires_at", n(expires))
            .send();
        let (a, b) = tokio::join!(put_turn, put_asked);
        a.map_err(|e| fail("PutItem (turn)", e))?;
        b.map_err(|e| fail("PutItem (asked)", e))?;
        Ok(())
    }

    async fn get_asked(&self, thread: &ThreadKey, user: &ChatUser) -> Result<bool, StoreError> {
        self.db.op("get_asked");
        let r = self
            .db
            .client()
            .get_item()
            .table_name(self.db.table())
            .key("pk", s(thread_pk(thread)))
            .key("sk", s(format!("asked#{}", user.key())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("GetItem (asked)", e))?;
        Ok(r.item().is_some_and(|i| live(i, unix_now())))
    }

    async fn query_turns(&self, thread: &ThreadKey, limit: usize) -> Result<Vec<Turn>, StoreError> {
        let now = unix_now();
        let since_ms = (now - THREAD_TTL.as_secs() as i64).max(0) as u64 * 1000;
        self.db.op("query_turns");
        let r = self
            .db
            .client()
            .query()
            .table_name(self.db.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(thread_pk(thread)))
            .expression_attribute_values(":from", s(format!("turn#{since_ms:016}")))
            .expression_attribute_values(":to", s("turn#~"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("Query (turns)", e))?;
        let mut turns: Vec<Turn> = r
            .items()
            .iter()
            .filter(|i| live(i, now))
            .filter_map(to_turn)
            .collect();
        turns.reverse();
        Ok(turns)
    }
}

fn to_turn(i: &Item) -> Option<Turn> {
    Some(Turn {
        user: serde_json::from_str(get_s(i, "user")?).ok()?,
        question: get_s(i, "question")?.to_string(),
        answer: get_s(i, "answer").unwrap_or_default().to_string(),
        at: get_n(i, "at")?.max(0) as u64,
    })
}

#[async_trait]
impl ConversationStore for DynamoConversations {
    async fn claim_delivery(&self, delivery: &str, ttl: Duration) -> Result<bool, StoreError> {
        let local = self.local.claim_delivery(delivery, ttl).await?;
        if !local {
            // This replica has seen it already: a duplicate whatever the table says.
            return Ok(false);
        }
        match self.put_delivery(delivery, ttl).await {
            Ok(first) => Ok(first),
            Err(e) => {
                self.fell_back("claim_delivery", &e);
                Ok(local)
            }
        }
    }

    async fn add_turn(&self, thread: &ThreadKey, turn: Turn) -> Result<(), StoreError> {
        let shared = self.put_turn(thread, &turn).await;
        self.local.add_turn(thread, turn).await?;
        if let Err(e) = shared {
            self.fell_back("add_turn", &e);
        }
        Ok(())
    }

    async fn asked_in(&self, thread: &ThreadKey, user: &ChatUser) -> Result<bool, StoreError> {
        match self.get_asked(thread, user).await {
            Ok(asked) => Ok(asked),
            Err(e) => {
                self.fell_back("asked_in", &e);
                self.local.asked_in(thread, user).await
            }
        }
    }

    async fn turns(&self, thread: &ThreadKey, limit: usize) -> Result<Vec<Turn>, StoreError> {
        match self.query_turns(thread, limit).await {
            Ok(t) => Ok(t),
            Err(e) => {
                self.fell_back("turns", &e);
                self.local.turns(thread, limit).await
            }
        }
    }
}
