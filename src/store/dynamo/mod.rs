//! One DynamoDB table shared by every replica (`[store] kind = "dynamodb"`).
//!
//! Keys `pk`/`sk` (strings), TTL on `expires_at` (Unix seconds). TTL deletes items only
//! eventually (up to about two days late, and expired items stay readable until then), so every
//! read and every condition checks `expires_at` itself. Items:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a delivery id (dedup) | `d#<delivery>` | `d` |
//! | a turn of a thread | `t#<thread key>` | `turn#<ms, 16 digits>#<random>` |
//! | who asked in a thread | `t#<thread key>` | `asked#<user key>` |
//! | a scheduled run (claim, lease, posted) | `r#<schedule>` | `run#<run, 20 digits>` |
//! | a snapshot chunk | `s#<schedule>` | `snap#<run, 20 digits>#<chunk, 4 digits>` |
//! | the latest snapshot of a schedule | `s#<schedule>` | `latest` |
//! | a conversation reference | `ref#<place key>` | `ref` |
//!
//! [`conversations::DynamoConversations`] falls back to this replica's memory when the table
//! cannot be reached (de-duplication fails open, counted in `opsbot_store_fallbacks_total`);
//! [`runs::DynamoRuns`] never does (a schedule must not post twice). The endpoint comes from
//! the standard `AWS_ENDPOINT_URL_DYNAMODB`.

pub mod conversations;
pub mod runs;
pub mod snapshot;

use super::StoreError;
use super::settings::DynamoSettings;
use crate::metrics::Metrics;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::Arc;

/// An item.
pub type Item = HashMap<String, AttributeValue>;

/// The table and its client.
#[derive(Clone)]
pub struct Dynamo {
    client: Client,
    table: String,
    metrics: Arc<Metrics>,
}

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The string attribute `k` of `item`.
pub fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The number attribute `k` of `item`.
pub fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Whether `item` has not expired at `now` (no `expires_at`: never expires).
pub fn live(item: &Item, now: i64) -> bool {
    get_n(item, "expires_at").is_none_or(|e| e > now)
}

/// A store error from an SDK error (with its causes, without request details).
pub fn fail<E: std::error::Error>(op: &str, e: E) -> StoreError {
    let text = aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string();
    StoreError(format!(
        "DynamoDB {op}: {}",
        text.chars().take(300).collect::<String>()
    ))
}

/// Whether an SDK error is a failed condition (a normal "someone else was first").
pub fn condition_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl Dynamo {
    /// A client for `settings` (region from the settings or the SDK chain; endpoint from
    /// `AWS_ENDPOINT_URL_DYNAMODB`), with a 3 s operation timeout ([`crate::aws::sdk`]) and one retry.
    pub async fn connect(settings: &DynamoSettings, metrics: Arc<Metrics>) -> Self {
        let mut loader = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::DynamoDb)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
        if let Some(r) = &settings.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        let config = loader.load().await;
        Self::new(Client::new(&config), &settings.table, metrics)
    }

    /// A store over `client` and `table`.
    pub fn new(client: Client, table: &str, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            table: table.to_string(),
            metrics,
        }
    }

    /// The client (counted: call [`Dynamo::op`] per request).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts one request of `kind`.
    pub fn op(&self, kind: &'static str) {
        self.metrics.store_op(kind);
    }

    /// Checks the table for `opsbot check --aws`: its keys, its TTL attribute, and a write,
    /// read and delete of a probe item. Each line: what was checked and the outcome.
    pub async fn check(&self) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        let t = &self.table;
        let described = self.client.describe_table().table_name(t).send().await;
        out.push((
            format!("table {t}"),
            match &described {
                Ok(d) => {
                    let keys: Vec<String> = d
                        .table()
                        .map(|t| {
                            t.key_schema()
                                .iter()
                                .map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if keys == ["pk HASH", "sk RANGE"] {
                        Ok("keys pk (HASH), sk (RANGE)".into())
                    } else {
                        Err(format!(
                            "keys are {keys:?}; the table needs pk (HASH) and sk (RANGE): deploy iam/store-table.yaml"
                        ))
                    }
                }
                Err(e) => Err(format!(
                    "{}; create it with iam/store-table.yaml and allow dynamodb:DescribeTable",
                    fail("DescribeTable", e).0
                )),
            },
        ));
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(t)
            .send()
            .await;
        out.push((
            "TTL".into(),
            match ttl {
                Ok(d) => match d.time_to_live_description() {
                    Some(x)
                        if x.attribute_name() == Some("expires_at")
                            && x.time_to_live_status().is_some_and(|s| {
                                matches!(s.as_str(), "ENABLED" | "ENABLING")
                            }) =>
                    {
                        Ok("on expires_at".into())
                    }
                    _ => Err(
                        "not enabled on expires_at; expired items are ignored anyway, but the table grows: enable TTL on expires_at"
                            .into(),
                    ),
                },
                Err(e) => Err(fail("DescribeTimeToLive", e).0),
            },
        ));
        let probe = format!("check#{}", fastrand::u64(..));
        let now = super::runs::unix_now();
        let wrote = self
            .client
            .put_item()
            .table_name(t)
            .item("pk", s(&probe))
            .item("sk", s("check"))
            .item("expires_at", n(now + 600))
            .send()
            .await;
        let read = match wrote {
            Err(e) => Err(format!(
                "{}; allow dynamodb:PutItem on the table",
                fail("PutItem", e).0
            )),
            Ok(_) => match self
                .client
                .get_item()
                .table_name(t)
                .key("pk", s(&probe))
                .key("sk", s("check"))
                .consistent_read(true)
                .send()
                .await
            {
                Err(e) => Err(format!(
                    "{}; allow dynamodb:GetItem on the table",
                    fail("GetItem", e).0
                )),
                Ok(g) if g.item().is_none() => Err("wrote an item but could not read it".into()),
                Ok(_) => match self
                    .client
                    .delete_item()
                    .table_name(t)
                    .key("pk", s(&probe))
                    .key("sk", s("check"))
                    .send()
                    .await
                {
                    Err(e) => Err(format!(
                        "{}; allow dynamodb:DeleteItem on the table",
                        fail("DeleteItem", e).0
                    )),
                    Ok(_) => Ok("write, read and delete work".into()),
                },
            },
        };
        out.push(("read/write".into(), read));
        out
    }
}
