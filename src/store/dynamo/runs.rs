//! [`DynamoRuns`]: scheduled runs, snapshots and conversation references in the shared table.
//!
//! A run is claimed with one conditional `UpdateItem` (free, or ours, or an expired lease of
//! someone else's — and never once posted); the old item comes back, so taking over an expired
//! claim is reported as [`Claim::TakenOver`] and the scheduler checks whether the crashed owner
//! posted before it posts. Marking posted is conditional on the owner. Snapshots are
//! compressed chunks written with the schedule's `latest` pointer in one transaction. Unlike
//! conversations there is no local fallback: if the table is unreachable, the run waits.

use super::snapshot;
use super::{Dynamo, Item, condition_failed, fail, get_n, get_s, n, s};
use crate::store::StoreError;
use crate::store::runs::{Claim, RunStore, Snapshot, unix_now};
use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use std::time::Duration;

/// Scheduled runs in DynamoDB.
pub struct DynamoRuns {
    db: Dynamo,
}

fn run_sk(run: i64) -> String {
    format!("run#{:020}", run.max(0))
}

fn snap_prefix(run: i64) -> String {
    format!("snap#{:020}#", run.max(0))
}

impl DynamoRuns {
    /// Runs in `db`'s table.
    pub fn new(db: Dynamo) -> Self {
        Self { db }
    }

    /// Every item under `pk` whose sort key starts with `prefix`, oldest first, following
    /// pages (a page holds at most 1 MB: a few snapshot chunks). `only_sk`: read the keys only.
    async fn items(
        &self,
        pk: &str,
        prefix: &str,
        only_sk: bool,
        op: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            self.db.op(op);
            let mut q = self
                .db
                .client()
                .query()
                .table_name(self.db.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if only_sk {
                q = q.projection_expression("sk");
            }
            let r = q.send().await.map_err(|e| fail("Query", e))?;
            out.extend(r.items().iter().cloned());
            match r.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// Every sort key under `pk` starting with `prefix`, oldest first.
    async fn keys(&self, pk: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let items = self.items(pk, prefix, true, "query_keys").await?;
        Ok(items
            .iter()
            .filter_map(|i| get_s(i, "sk").map(str::to_string))
            .collect())
    }

    async fn delete(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.db.op("delete");
        self.db
            .client()
            .delete_item()
            .table_name(self.db.table())
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("DeleteItem", e))
    }

    async fn put_item(
        &self,
        pk: &str,
        sk: &str,
        extra: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        self.db.op("put");
        let mut req = self
            .db
            .client()
            .put_item()
            .table_name(self.db.table())
            .item("pk", s(pk))
            .item("sk", s(sk));
        for (k, v) in extra {
            req = req.item(k, v);
        }
        req.send().await.map(|_| ()).map_err(|e| fail("PutItem", e))
    }

    fn put(
        &self,
        pk: &str,
        sk: &str,
        extra: Vec<(&str, AttributeValue)>,
    ) -> Result<Put, StoreError> {
        let mut b = Put::builder()
            .table_name(self.db.table())
            .item("pk", s(pk))
            .item("sk", s(sk));
        for (k, v) in extra {
            b = b.item(k, v);
        }
        b.build()
            .map_err(|e| StoreError(format!("DynamoDB put: {e}")))
    }
}

#[async_trait]
impl RunStore for DynamoRuns {
    async fn claim(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let now = unix_now();
        let pk = format!("r#{schedule}");
        self.db.op("claim_run");
        let r = self
            .db
            .client()
            .update_item()
            .table_name(self.db.table())
            .key("pk", s(&pk))
            .key("sk", s(run_sk(run)))
            .update_expression("SET #o = :me, #l = :until, #p = if_not_exists(#p, :no)")
            .condition_expression(
                "attribute_not_exists(pk) OR (#p = :no AND (#o = :me OR #l < :now))",
            )
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#l", "lease_until")
            .expression_attribute_names("#p", "posted")
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", n(now + lease.as_secs() as i64))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match r {
            Ok(out) => {
                let before = out.attributes().and_then(|a| get_s(a, "owner"));
                Ok(match before {
                    Some(o) if !o.is_empty() && o != owner => Claim::TakenOver,
                    _ => Claim::Won,
                })
            }
            Err(e) if condition_failed(&e) => {
                self.db.op("get_run");
                let item = self
                    .db
                    .client()
                    .get_item()
                    .table_name(self.db.table())
                    .key("pk", s(&pk))
                    .key("sk", s(run_sk(run)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| fail("GetItem (run)", e))?;
                let posted = item
                    .item()
                    .and_then(|i| i.get("posted"))
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false);
                Ok(if posted { Claim::Posted } else { Claim::Held })
            }
            Err(e) => Err(fail("UpdateItem (claim)", e)),
        }
    }

    async fn mark_posted(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        post: Option<&str>,
    ) -> Result<(), StoreError> {
        let pk = format!("r#{schedule}");
        self.db.op("mark_posted");
        self.db
            .client()
            .update_item()
            .table_name(self.db.table())
            .key("pk", s(&pk))
            .key("sk", s(run_sk(run)))
            .update_expression("SET #p = :yes, post = :post")
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#p", "posted")
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":post", s(post.unwrap_or("")))
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e) {
                    StoreError(format!("run {run} of {schedule} is not claimed by {owner}"))
                } else {
                    fail("UpdateItem (posted)", e)
                }
            })?;
        self.db.op("mark_last");
        let last = self
            .db
            .client()
            .update_item()
            .table_name(self.db.table())
            .key("pk", s(&pk))
            .key("sk", s("last"))
            .update_expression("SET #r = :run")
            .condition_expression("attribute_not_exists(#r) OR #r < :run")
            .expression_attribute_names("#r", "run")
            .expression_attribute_values(":run", n(run))
            .send()
            .await;
        match last {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(fail("UpdateItem (last posted)", e)),
        }
    }

    async fn last_posted(&self, schedule: &str) -> Result<Option<i64>, StoreError> {
        self.db.op("get_last");
        let r = self
            .db
            .client()
            .get_item()
            .table_name(self.db.table())
            .key("pk", s(format!("r#{schedule}")))
            .key("sk", s("last"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("GetItem (last posted)", e))?;
        Ok(r.item().and_then(|i| get_n(i, "run")))
    }

    async fn save(&self, schedule: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        let chunks = snapshot::encode(snapshot)?;
        let pk = format!("s#{schedule}");
        let count = chunks.len();
        let mut items = Vec::with_capacity(count + 1);
        for (i, c) in chunks.into_iter().enumerate() {
            let sk = format!("{}{i:04}", snap_prefix(snapshot.run));
            items.push(
                TransactWriteItem::builder()
                    .put(self.put(
                        &pk,
                        &sk,
                        vec![
                            ("body", AttributeValue::B(Blob::new(c))),
                            ("chunks", n(count)),
                            ("run", n(snapshot.run)),
                        ],
                    )?)
                    .build(),
            );
        }
        let pointer = Put::builder()
            .table_name(self.db.table())
            .item("pk", s(&pk))
            .item("sk", s("latest"))
            .item("run", n(snapshot.run))
            .condition_expression("attribute_not_exists(pk) OR #r <= :run")
            .expression_attribute_names("#r", "run")
            .expression_attribute_values(":run", n(snapshot.run))
            .build()
            .map_err(|e| StoreError(format!("DynamoDB put: {e}")))?;
        let mut with_pointer = items.clone();
        with_pointer.push(TransactWriteItem::builder().put(pointer).build());
        self.db.op("save_snapshot");
        let r = self
            .db
            .client()
            .transact_write_items()
            .set_transact_items(Some(with_pointer))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // A newer snapshot is already the latest (a late run): store this one alone.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                self.db.op("save_snapshot");
                self.db
                    .client()
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| fail("TransactWriteItems (snapshot)", e))
            }
            Err(e) => Err(fail("TransactWriteItems (snapshot)", e)),
        }
    }

    async fn previous(&self, schedule: &str, run: i64) -> Result<Option<Snapshot>, StoreError> {
        let pk = format!("s#{schedule}");
        self.db.op("query_previous");
        let newest = self
            .db
            .client()
            .query()
            .table_name(self.db.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":from", s("snap#"))
            .expression_attribute_values(":to", s(snap_prefix(run)))
            .scan_index_forward(false)
            .projection_expression("#r")
            .expression_attribute_names("#r", "run")
            .limit(1)
            .send()
            .await
            .map_err(|e| fail("Query (previous snapshot)", e))?;
        let Some(prev) = newest.items().first().and_then(|i| get_n(i, "run")) else {
            return Ok(None);
        };
        if prev >= run {
            return Ok(None);
        }
        let items = self
            .items(&pk, &snap_prefix(prev), false, "query_snapshot")
            .await?;
        let expected = items.first().and_then(|i| get_n(i, "chunks")).unwrap_or(0) as usize;
        let chunks: Vec<Vec<u8>> = items
            .iter()
            .filter_map(|i| i.get("body").and_then(|b| b.as_b().ok()))
            .map(|b| b.as_ref().to_vec())
            .collect();
        if chunks.len() != expected {
            return Err(StoreError(format!(
                "snapshot {prev} of {schedule} has {} of {expected} chunks",
                chunks.len()
            )));
        }
        snapshot::decode(&chunks).map(Some)
    }

    async fn prune(&self, schedule: &str, keep: usize) -> Result<(), StoreError> {
        let snaps = format!("s#{schedule}");
        let keys = self.keys(&snaps, "snap#").await?;
        let mut runs: Vec<&str> = keys.iter().map(|k| &k[..5 + 20]).collect();
        runs.dedup();
        let cut = runs.len().saturating_sub(keep);
        for old in &runs[..cut] {
            for k in keys.iter().filter(|k| k.starts_with(old)) {
                self.delete(&snaps, k).await?;
            }
        }
        let run_pk = format!("r#{schedule}");
        let run_keys = self.keys(&run_pk, "run#").await?;
        let cut = run_keys.len().saturating_sub(keep);
        for k in &run_keys[..cut] {
            self.delete(&run_pk, k).await?;
        }
        Ok(())
    }

    async fn put_reference(&self, place: &str, reference: &str) -> Result<(), StoreError> {
        self.put_item(
            &format!("ref#{place}"),
            "ref",
            vec![("body", s(reference)), ("updated", n(unix_now()))],
        )
        .await
    }

    async fn reference(&self, place: &str) -> Result<Option<String>, StoreError> {
        self.db.op("get_reference");
        let r = self
            .db
            .client()
            .get_item()
            .table_name(self.db.table())
            .key("pk", s(format!("ref#{place}")))
            .key("sk", s("ref"))
            .send()
            .await
            .map_err(|e| fail("GetItem (reference)", e))?;
        Ok(r.item().and_then(|i| get_s(i, "body")).map(str::to_string))
    }
}
