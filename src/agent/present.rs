//! What read results become: the tables people see (built by our code from what AWS returned,
//! never retyped by the model), per-account notes for failures and refusals, and the compact
//! form the model reads (the view's columns only, capped, with an honest "N more").

use crate::aws::read::fanout::{Refused, TargetResult};
use crate::aws::read::guard::ReadCall;
use crate::aws::read::views::{self, View};
use crate::core::answer::{AccountNote, NoteKind, Table};
use serde_json::{Map, Value, json};

/// One validated read and everything that came of it.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// The call.
    pub call: ReadCall,
    /// Per-target results.
    pub results: Vec<TargetResult>,
    /// What was refused (accounts or regions outside the authorization).
    pub refused: Vec<Refused>,
}

/// Friendly names for the built-in views.
fn noun(call: &ReadCall) -> String {
    match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", "DescribeInstances") => "EC2 instances".into(),
        ("s3", "ListBuckets") => "S3 buckets".into(),
        ("lambda", "ListFunctions") => "Lambda functions".into(),
        ("rds", "DescribeDBInstances") => "RDS DB instances".into(),
        ("eks", "ListClusters") => "EKS clusters".into(),
        ("eks", "DescribeCluster") => "EKS cluster".into(),
        (s, o) => format!("{s} {o}"),
    }
}

/// The view used for `call`'s results.
pub fn view_for(call: &ReadCall, results: &[TargetResult]) -> View {
    views::known(&call.service, &call.operation).unwrap_or_else(|| {
        let sample = results
            .iter()
            .find_map(|r| r.outcome.as_ref().ok())
            .cloned()
            .unwrap_or(Value::Null);
        views::generic(&sample)
    })
}

/// Rows of every successful target, account and region first.
pub fn table(record: &ReadRecord) -> Table {
    let view = view_for(&record.call, &record.results);
    let mut columns = vec!["account".to_string(), "region".to_string()];
    columns.extend(view.columns.iter().map(|(h, _)| h.clone()));
    let mut rows = Vec::new();
    for r in &record.results {
        let Ok(v) = &r.outcome else { continue };
        for item in views::items(v, &view) {
            let mut row = vec![r.target.name.clone(), r.target.region.clone()];
            row.extend(
                view.columns
                    .iter()
                    .map(|(_, p)| views::cell(views::select(item, p).first().copied())),
            );
            rows.push(row);
        }
    }
    let accounts = record
        .results
        .iter()
        .map(|r| r.target.account.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Table {
        caption: Some(format!(
            "{} ({} {}, {} account{})",
            noun(&record.call),
            record.call.service,
            record.call.operation,
            accounts,
            if accounts == 1 { "" } else { "s" }
        )),
        columns,
        rows,
    }
}

/// Items per account and region (successful targets), when there is more than one target.
pub fn counts(record: &ReadRecord) -> Option<Table> {
    if record.results.len() < 2 {
        return None;
    }
    let view = view_for(&record.call, &record.results);
    let rows = record
        .results
        .iter()
        .filter_map(|r| {
            let v = r.outcome.as_ref().ok()?;
            Some(vec![
                r.target.name.clone(),
                r.target.region.clone(),
                views::items(v, &view).len().to_string(),
            ])
        })
        .collect();
    Some(Table {
        caption: Some(format!("{} per account and region", noun(&record.call))),
        columns: vec!["account".into(), "region".into(), "count".into()],
        rows,
    })
}

/// Notes for failed targets, refused accounts or regions, and truncated results.
pub fn notes(record: &ReadRecord) -> Vec<AccountNote> {
    let mut out = Vec::new();
    for r in &record.results {
        match &r.outcome {
            Err(e) => out.push(AccountNote {
                account: format!("{} in {}", r.target.label, r.target.region),
                kind: NoteKind::Failed,
                text: format!(
                    "{} {}: {}",
                    record.call.service, record.call.operation, e.message
                ),
            }),
            Ok(_) if r.truncated => out.push(AccountNote {
                account: format!("{} in {}", r.target.label, r.target.region),
                kind: NoteKind::Partial,
                text: "more results than opsbot reads in one answer; narrow the question".into(),
            }),
            Ok(_) => {}
        }
    }
    for f in &record.refused {
        out.push(AccountNote {
            account: f.what.clone(),
            kind: NoteKind::Refused,
            text: f.why.clone(),
        });
    }
    out
}

/// What the model reads about `record`: per target the count and up to `cap` items in total
/// (the view's columns only), failures and refusals with their reasons.
pub fn for_model(record: &ReadRecord, cap: usize) -> Value {
    let view = view_for(&record.call, &record.results);
    let mut left = cap;
    let mut results = Vec::new();
    let mut failed = Vec::new();
    let mut hidden = 0;
    let mut redacted = 0;
    for r in &record.results {
        redacted += r.redacted;
        match &r.outcome {
            Ok(v) => {
                let items = views::items(v, &view);
                let shown: Vec<Value> = items
                    .iter()
                    .take(left)
                    .map(|item| compact(item, &view))
                    .collect();
                left -= shown.len();
                hidden += items.len() - shown.len();
                results.push(json!({
                    "account": r.target.name, "region": r.target.region,
                    "count": items.len(), "items": shown,
                    "truncated": r.truncated,
                }));
            }
            Err(e) => failed.push(json!({
                "account": r.target.name, "region": r.target.region, "error": e.message,
            })),
        }
    }
    let mut out = json!({
        "call": format!("{} {}", record.call.service, record.call.operation),
        "results": results,
    });
    if !failed.is_empty() {
        out["failed"] = Value::Array(failed);
    }
    if !record.refused.is_empty() {
        out["refused"] = Value::Array(
            record
                .refused
                .iter()
                .map(|f| json!({"asked": f.what, "why": f.why}))
                .collect(),
        );
    }
    if hidden > 0 {
        out["not_shown"] = json!(format!(
            "{hidden} more items not shown here; the person sees every row in the table below your answer"
        ));
    }
    if redacted > 0 {
        out["redacted"] = json!(format!("{redacted} secret values were redacted by opsbot"));
    }
    out
}

/// One item as the view's columns (empty cells dropped).
fn compact(item: &Value, view: &View) -> Value {
    let mut m = Map::new();
    for (h, p) in &view.columns {
        let c = views::cell(views::select(item, p).first().copied());
        if !c.is_empty() {
            m.insert(h.clone(), Value::String(c));
        }
    }
    Value::Object(m)
}

/// The same results without compaction (pruned JSON), for measuring what compaction saves.
pub fn uncompacted(record: &ReadRecord) -> Value {
    Value::Array(
        record
            .results
            .iter()
            .map(|r| match &r.outcome {
                Ok(v) => json!({"account": r.target.name, "region": r.target.region, "result": views::prune(v)}),
                Err(e) => json!({"account": r.target.name, "region": r.target.region, "error": e.message}),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::read::fanout::{Target, TargetError};
    use std::time::Duration;

    fn target(name: &str, region: &str) -> Target {
        Target {
            account: format!("{name}-id"),
            label: format!("{name} ({name}-id)"),
            name: name.into(),
            region: region.into(),
        }
    }

    fn record() -> ReadRecord {
        let ok = |name: &str, ids: &[&str]| TargetResult {
            target: target(name, "us-east-1"),
            outcome: Ok(
                json!({"Reservations": [{"Instances": ids.iter().map(|i| json!({
                "InstanceId": i, "State": {"Name": "running"}, "InstanceType": "t3.micro",
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda"}], "Tags": [{"Key": "Name", "Value": format!("n-{i}")}]})).collect::<Vec<_>>()}]}),
            ),
            truncated: false,
            redacted: 0,
            elapsed: Duration::ZERO,
        };
        ReadRecord {
            call: ReadCall {
                service: "ec2".into(),
                operation: "DescribeInstances".into(),
                params: Default::default(),
            },
            results: vec![
                ok("production", &["i-1", "i-2"]),
                ok("sandbox", &["i-3"]),
                TargetResult {
                    target: target("staging", "us-east-1"),
                    outcome: Err(TargetError {
                        code: "AccessDenied".into(),
                        message: "AccessDenied: no".into(),
                    }),
                    truncated: false,
                    redacted: 0,
                    elapsed: Duration::ZERO,
                },
            ],
            refused: vec![Refused {
                what: "billing".into(),
                why: "I don't know an account called \"billing\"".into(),
            }],
        }
    }

    #[test]
    fn the_table_has_every_item_with_its_account() {
        let t = table(&record());
        assert_eq!(t.columns[..3], ["account", "region", "id"]);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[2][0], "sandbox");
        assert!(t.caption.unwrap().starts_with("EC2 instances"));
        let c = counts(&record()).unwrap();
        assert_eq!(
            c.rows,
            [
                ["production", "us-east-1", "2"],
                ["sandbox", "us-east-1", "1"]
            ]
        );
    }

    #[test]
    fn notes_name_the_failed_and_the_refused() {
        let n = notes(&record());
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].kind, NoteKind::Failed);
        assert!(n[0].account.starts_with("staging"));
        assert_eq!(n[1].kind, NoteKind::Refused);
    }

    #[test]
    fn the_model_sees_a_capped_compact_form() {
        let m = for_model(&record(), 2);
        assert_eq!(m["results"][0]["count"], 2);
        assert_eq!(m["results"][0]["items"][0]["id"], "i-1");
        assert!(
            m["results"][0]["items"][0]
                .get("BlockDeviceMappings")
                .is_none()
        );
        assert_eq!(
            m["results"][1]["items"].as_array().unwrap().len(),
            0,
            "cap reached"
        );
        assert!(m["not_shown"].as_str().unwrap().starts_with("1 more"));
        assert_eq!(m["failed"][0]["account"], "staging");
        assert!(m["refused"][0]["why"].as_str().unwrap().contains("billing"));
        let full = uncompacted(&record()).to_string();
        assert!(m.to_string().len() < full.len());
    }
}
