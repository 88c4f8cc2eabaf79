//! The DynamoDB stores against moto's DynamoDB: claims and leases, snapshots in chunks,
//! pruning, references, and expired items that TTL has not deleted yet.

use crate::dynamo_table::{client, table};
use crate::peers;
use opsbot::core::inbound::{ChatUser, Place, PlaceKind, Platform, ThreadKey};
use opsbot::metrics::Metrics;
use opsbot::store::dynamo::conversations::DynamoConversations;
use opsbot::store::dynamo::runs::DynamoRuns;
use opsbot::store::dynamo::{Dynamo, n, s};
use opsbot::store::runs::{Claim, Item, RunStore, Snapshot, unix_now};
use opsbot::store::{ConversationStore, Turn};
use std::collections::BTreeMap;
use std::time::Duration;

async fn db() -> (aws_sdk_dynamodb::Client, Dynamo) {
    let c = client(&peers::moto());
    let t = table(&c).await;
    (c.clone(), Dynamo::new(c, &t, Metrics::new()))
}

fn snapshot(run: i64, n: usize) -> Snapshot {
    Snapshot {
        run,
        items: (0..n)
            .map(|i| Item {
                kind: "ec2".into(),
                account: "111111111111".into(),
                region: "us-east-1".into(),
                id: format!("i-{:017x}", fastrand::u64(..)),
                name: format!("web-{i}"),
                state: "running".into(),
                size: "t3.micro".into(),
                tags: BTreeMap::from([("owner".into(), format!("{:x}", fastrand::u64(..)))]),
            })
            .collect(),
        failed: vec![],
    }
}

#[tokio::test]
async fn runs_claims_leases_and_takeovers() {
    let (_, db) = db().await;
    let runs = DynamoRuns::new(db);
    let lease = Duration::from_secs(600);
    assert_eq!(runs.claim("w", 100, "a", lease).await.unwrap(), Claim::Won);
    assert_eq!(runs.claim("w", 100, "b", lease).await.unwrap(), Claim::Held);
    assert_eq!(runs.claim("w", 100, "a", lease).await.unwrap(), Claim::Won);
    assert!(runs.mark_posted("w", 100, "b", None).await.is_err());
    runs.mark_posted("w", 100, "a", Some("1.2")).await.unwrap();
    assert_eq!(
        runs.claim("w", 100, "b", lease).await.unwrap(),
        Claim::Posted
    );
    assert_eq!(runs.last_posted("w").await.unwrap(), Some(100));
    assert_eq!(runs.last_posted("other").await.unwrap(), None);
    assert_eq!(
        runs.claim("w", 200, "a", Duration::from_secs(1))
            .await
            .unwrap(),
        Claim::Won
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        runs.claim("w", 200, "b", lease).await.unwrap(),
        Claim::TakenOver,
        "the new owner is told to look for the old owner's post"
    );
    assert_eq!(runs.claim("w", 200, "b", lease).await.unwrap(), Claim::Won);
    runs.mark_posted("w", 200, "b", None).await.unwrap();
    runs.mark_posted("w", 100, "a", None).await.unwrap();
    assert_eq!(runs.last_posted("w").await.unwrap(), Some(200));
}

#[tokio::test]
async fn snapshots_are_chunked_diffed_against_the_previous_run_and_pruned() {
    let (_, db) = db().await;
    let runs = DynamoRuns::new(db);
    let big = snapshot(300, 20_000);
    assert!(
        opsbot::store::dynamo::snapshot::encode(&big).unwrap().len() > 1,
        "big enough to need several chunks"
    );
    for (run, snap) in [
        (100, snapshot(100, 3)),
        (200, snapshot(200, 5)),
        (300, big.clone()),
    ] {
        assert_eq!(snap.run, run);
        runs.save("w", &snap).await.unwrap();
    }
    let prev = runs.previous("w", 301).await.unwrap().unwrap();
    assert_eq!(prev, big, "a multi-chunk snapshot comes back whole");
    assert_eq!(runs.previous("w", 300).await.unwrap().unwrap().run, 200);
    assert!(runs.previous("w", 100).await.unwrap().is_none());
    // A late save of an older run does not hide the newest.
    runs.save("w", &snapshot(250, 2)).await.unwrap();
    assert_eq!(runs.previous("w", 301).await.unwrap().unwrap().run, 300);
    runs.prune("w", 2).await.unwrap();
    assert!(runs.previous("w", 250).await.unwrap().is_none(), "pruned");
    assert_eq!(runs.previous("w", 300).await.unwrap().unwrap().run, 250);
    assert_eq!(runs.reference("teams:19:x").await.unwrap(), None);
    runs.put_reference("teams:19:x", "{\"a\":1}").await.unwrap();
    assert_eq!(
        runs.reference("teams:19:x").await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
}

#[tokio::test]
async fn conversations_ignore_expired_items_that_ttl_has_not_removed() {
    let (c, db) = db().await;
    let table = db.table().to_string();
    let store = DynamoConversations::new(db);
    let ttl = Duration::from_secs(3600);
    assert!(store.claim_delivery("slack:Ev1", ttl).await.unwrap());
    assert!(!store.claim_delivery("slack:Ev1", ttl).await.unwrap());
    // An expired delivery item still in the table (TTL deletes up to days late).
    c.put_item()
        .table_name(&table)
        .item("pk", s("d#slack:Ev0"))
        .item("sk", s("d"))
        .item("expires_at", n(unix_now() - 10))
        .send()
        .await
        .unwrap();
    assert!(store.claim_delivery("slack:Ev0", ttl).await.unwrap());
    let thread = ThreadKey {
        place: Place::new(Platform::Slack, "C1", PlaceKind::Channel),
        root: "1.1".into(),
    };
    let u1 = ChatUser::new(Platform::Slack, "U1");
    assert!(!store.asked_in(&thread, &u1).await.unwrap());
    for i in 0..4u64 {
        store
            .add_turn(
                &thread,
                Turn {
                    user: u1.clone(),
                    question: format!("q{i}"),
                    answer: format!("a{i}"),
                    at: unix_now() as u64 + i,
                },
            )
            .await
            .unwrap();
    }
    assert!(store.asked_in(&thread, &u1).await.unwrap());
    assert!(
        !store
            .asked_in(&thread, &ChatUser::new(Platform::Slack, "U2"))
            .await
            .unwrap()
    );
    let turns = store.turns(&thread, 3).await.unwrap();
    let qs: Vec<&str> = turns.iter().map(|t| t.question.as_str()).collect();
    assert_eq!(qs, ["q1", "q2", "q3"], "the newest three, oldest first");
}

#[tokio::test]
async fn check_aws_reports_the_tables_keys_ttl_and_access() {
    let (c, db) = db().await;
    let lines = db.check().await;
    let what: Vec<&str> = lines.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(what.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|(_, r)| r.is_ok()), "{lines:?}");
    let missing = Dynamo::new(c, "opsbot-no-such-table", Metrics::new());
    let lines = missing.check().await;
    let (_, table) = &lines[0];
    let e = table.as_ref().unwrap_err();
    assert!(e.contains("iam/store-table.yaml"), "{e}");
    assert!(lines.iter().all(|(_, r)| r.is_err()), "{lines:?}");
}
