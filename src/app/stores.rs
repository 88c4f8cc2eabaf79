//! Where state lives, from `[store]`: conversations in memory or in DynamoDB; scheduled runs,
//! snapshots and conversation references in memory, the SQLite file or DynamoDB.

use super::AppError;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::ConversationStore;
use crate::store::dynamo::Dynamo;
use crate::store::dynamo::conversations::DynamoConversations;
use crate::store::dynamo::runs::DynamoRuns;
use crate::store::memory::MemoryStore;
use crate::store::runs::{MemoryRuns, RunStore};
use crate::store::settings::StoreKind;
use crate::store::sqlite::SqliteRuns;
use std::sync::Arc;

/// The run store and the conversation store for `config`, unless replaced.
pub(super) async fn build(
    config: &Config,
    metrics: &Arc<Metrics>,
    runs: Option<Arc<dyn RunStore>>,
    store: Option<Arc<dyn ConversationStore>>,
    client: Option<aws_sdk_dynamodb::Client>,
) -> Result<(Arc<dyn RunStore>, Arc<dyn ConversationStore>), AppError> {
    let dynamo = match (&config.store.kind, &config.store.dynamodb) {
        (Some(StoreKind::Dynamodb), Some(d)) => Some(match client {
            Some(c) => Dynamo::new(c, &d.table, metrics.clone()),
            None => Dynamo::connect(d, metrics.clone()).await,
        }),
        _ => None,
    };
    let runs: Arc<dyn RunStore> = match (runs, &dynamo, &config.inventory.database) {
        (Some(r), _, _) => r,
        (None, Some(db), _) => Arc::new(DynamoRuns::new(db.clone())),
        (None, None, Some(path))
            if config.store.kind == Some(StoreKind::Sqlite)
                || !config.inventory.schedules.is_empty() =>
        {
            Arc::new(SqliteRuns::open(path).map_err(AppError::Store)?)
        }
        _ => Arc::new(MemoryRuns::default()),
    };
    let store: Arc<dyn ConversationStore> = match (store, &dynamo) {
        (Some(s), _) => s,
        (None, Some(db)) => Arc::new(DynamoConversations::new(db.clone())),
        (None, None) => Arc::new(MemoryStore::default()),
    };
    Ok((runs, store))
}
