//! Reading an inventory: every kind in every target account × region through the same read
//! path as the agent (validated calls, the person's or schedule's credentials, the MCP client,
//! the limiter, pagination), items extracted with the kind's paths. Failures are per target and
//! recorded, never hidden.

use super::kinds::Kind;
use crate::aws::read::caps::Budget;
use crate::aws::read::fanout::{self, Refused};
use crate::aws::read::reader::{Read, Reader};
use crate::aws::read::views::{cell, select};
use crate::aws::scoped::ScopedAws;
use crate::store::runs::{Failed, Item, Snapshot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Most tags kept per item.
const MAX_TAGS: usize = 30;

/// A collected inventory with what it cost.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Items and failed targets.
    pub snapshot: Snapshot,
    /// Accounts or regions asked for but not allowed.
    pub refused: Vec<Refused>,
    /// Calls made (targets).
    pub calls: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Account id → name, for posts.
    pub names: BTreeMap<String, String>,
    /// Every (kind, account, region) read, whether it answered or failed.
    pub targets: Vec<(String, String, String)>,
}

/// The items of one result for `kind`.
pub fn items(kind: &Kind, account: &str, region: &str, result: &Value) -> Vec<Item> {
    select(result, &kind.items)
        .into_iter()
        .filter_map(|item| {
            let field = |path: &str| -> String {
                if path.is_empty() {
                    String::new()
                } else {
                    cell(select(item, path).first().copied())
                }
            };
            let id = if kind.id.is_empty() {
                cell(Some(item))
            } else {
                field(&kind.id)
            };
            if id.is_empty() {
                return None;
            }
            let tags = if kind.tags.is_empty() {
                BTreeMap::new()
            } else {
                select(item, &kind.tags)
                    .first()
                    .and_then(|t| t.as_array())
                    .into_iter()
                    .flatten()
                    .take(MAX_TAGS)
                    .filter_map(|t| {
                        Some((
                            t.get("Key")?.as_str()?.to_string(),
                            t.get("Value")?.as_str()?.chars().take(100).collect(),
                        ))
                    })
                    .collect()
            };
            Some(Item {
                kind: kind.name.clone(),
                account: account.to_string(),
                region: region.to_string(),
                id,
                name: field(&kind.name_path),
                state: field(&kind.state),
                size: field(&kind.size),
                tags,
            })
        })
        .collect()
}

/// Reads `kinds` in `accounts` (names or `all`) and `regions` (empty: each account's) within
/// what `aws` may reach; all kinds and targets at once, batched and paced by the reader.
pub async fn collect(
    reader: &Reader,
    aws: &ScopedAws,
    kinds: &[Kind],
    accounts: &[String],
    regions: &[String],
    run: i64,
) -> Collected {
    let started = Instant::now();
    let mut refused = Vec::new();
    let mut plans = Vec::new();
    for kind in kinds {
        let mut plan = fanout::plan(aws, &kind.call, accounts, regions);
        if kind.global {
            let mut seen = Vec::new();
            plan.targets.retain(|t| {
                let first = !seen.contains(&t.account);
                seen.push(t.account.clone());
                first
            });
        }
        if refused.is_empty() {
            refused = plan.refused.clone();
        }
        plans.push((kind, plan));
    }
    // Every kind in every target in one go: the reader batches all reads of one account
    // through one endpoint into as few requests as it can.
    let mut reads = Vec::new();
    let mut kind_of = Vec::new();
    for (kind, plan) in &plans {
        for t in &plan.targets {
            reads.push(Read {
                call: kind.call.clone(),
                target: t.clone(),
            });
            kind_of.push(*kind);
        }
    }
    let calls = reads.len();
    let results = reader
        .run_all(aws, &reads, &Budget::unlimited(), &|_, _| {})
        .await;
    let mut snapshot = Snapshot {
        run,
        ..Snapshot::default()
    };
    let mut names = BTreeMap::new();
    let mut targets = Vec::new();
    for (kind, r) in kind_of.into_iter().zip(results) {
        names.insert(r.target.account.clone(), r.target.name.clone());
        targets.push((
            kind.name.clone(),
            r.target.account.clone(),
            r.target.region.clone(),
        ));
        match r.outcome {
            Ok(v) => snapshot
                .items
                .extend(items(kind, &r.target.account, &r.target.region, &v)),
            Err(e) => snapshot.failed.push(Failed {
                kind: kind.name.clone(),
                account: r.target.account.clone(),
                region: r.target.region.clone(),
                error: e.message,
            }),
        }
    }
    snapshot.items.sort();
    Collected {
        snapshot,
        refused,
        calls,
        elapsed: started.elapsed(),
        names,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::kinds::builtins;
    use serde_json::json;

    #[test]
    fn items_take_id_name_state_size_and_tags() {
        let ec2 = &builtins()[0];
        let got = items(
            ec2,
            "111",
            "us-east-1",
            &json!({"Reservations": [{"Instances": [{"InstanceId": "i-1", "InstanceType": "t3.micro",
                "State": {"Name": "running"}, "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "a"}]}]}]}),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].id.as_str(),
                got[0].name.as_str(),
                got[0].state.as_str(),
                got[0].size.as_str()
            ),
            ("i-1", "web", "running", "t3.micro")
        );
        assert_eq!(got[0].tags["team"], "a");
        let eks = &builtins()[4];
        let got = items(eks, "222", "eu-west-1", &json!({"clusters": ["a", "b"]}));
        assert_eq!(
            got.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
