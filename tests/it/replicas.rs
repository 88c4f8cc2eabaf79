//! Several replicas on one DynamoDB table (moto over 127.0.0.1): one answer per event however
//! deliveries and retries are spread; a follow-up answered on the other replica; one post per
//! scheduled run, also when the owner dies after claiming or after posting; and answers keep
//! flowing when the table is unreachable.

use crate::agent::{AgentApp, agent_app_on};
use crate::dynamo_table::{client, table};
use crate::fake_bedrock;
use crate::helpers::*;
use crate::peers::{self, FakeMcp};
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use opsbot::core::answer::{Answer, Target};
use opsbot::core::respond::{AnswerError, AnswerRequest, Responder};
use opsbot::inventory::schedule::Clock;
use opsbot::inventory::{Fired, Scheduler};
use opsbot::metrics::Metrics;
use opsbot::store::dynamo::Dynamo;
use opsbot::store::dynamo::runs::DynamoRuns;
use opsbot::store::runs::{Claim, RunStore};
use std::sync::Arc;
use std::time::Duration;

fn store_toml(table: &str) -> String {
    format!(
        "[server]\nreplicas = 2\n[store]\nkind = \"dynamodb\"\n[store.dynamodb]\ntable = \"{table}\"\nregion = \"us-east-1\"\n"
    )
}

/// Answers with how many earlier turns of the thread it was given.
struct Historian;

#[async_trait]
impl Responder for Historian {
    async fn answer(&self, request: AnswerRequest) -> Result<Answer, AnswerError> {
        Ok(Answer::text(format!(
            "history {}: {}",
            request.history.len(),
            request
                .history
                .iter()
                .map(|t| t.question.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        )))
    }
}

async fn two_replicas(table: &str, c: &aws_sdk_dynamodb::Client) -> (TestApp, TestApp) {
    let (c1, c2) = (c.clone(), c.clone());
    let a = TestApp::start_wired(&store_toml(table), move |b| {
        b.dynamodb(c1).responder(Arc::new(Historian))
    })
    .await;
    let b = TestApp::start_on(
        a.slack.clone(),
        &fixtures_toml(),
        &store_toml(table),
        move |b| b.dynamodb(c2).responder(Arc::new(Historian)),
    )
    .await;
    (a, b)
}

#[tokio::test]
async fn events_and_retries_spread_over_two_replicas_get_one_answer_each() {
    let c = client(&peers::moto());
    let t = table(&c).await;
    let (a, b) = two_replicas(&t, &c).await;
    for i in 0..6 {
        let env = envelope(
            &event_id(),
            mention(
                &format!("U{i}"),
                "C0OPS",
                &format!("1700008000.{i:06}"),
                "hello",
            ),
        );
        // The original to one replica, retries to both (Slack's load balancer picks).
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (r1, r2, r3) = tokio::join!(first.event(&env), second.event(&env), second.event(&env));
        assert!([r1, r2, r3].iter().all(|r| r.status() == 200));
    }
    let posts = a.slack.wait_for("chat.postMessage", 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts_after = a.slack.ok_calls("chat.postMessage");
    assert_eq!(posts_after.len(), 6, "one answer per event: {posts:#?}");
    let mut threads: Vec<String> = posts_after
        .iter()
        .map(|p| p.body["thread_ts"].as_str().unwrap().to_string())
        .collect();
    threads.sort();
    threads.dedup();
    assert_eq!(threads.len(), 6);
    let m = a.metrics().await + &b.metrics().await;
    assert!(
        m.contains("opsbot_store_ops_total{kind=\"claim_delivery\"}"),
        "{m}"
    );
    assert!(!m.contains("opsbot_store_fallbacks_total{"), "{m}");
}

#[tokio::test]
async fn a_follow_up_answered_by_one_replica_is_understood_by_the_other() {
    let c = client(&peers::moto());
    let t = table(&c).await;
    let (a, b) = two_replicas(&t, &c).await;
    a.event(&envelope(
        &event_id(),
        mention(
            "U1",
            "C0OPS",
            "1700009000.000001",
            "list EC2 instances in production",
        ),
    ))
    .await;
    a.slack.wait_for("chat.postMessage", 1).await;
    // A reply in the thread without a mention, delivered to the other replica.
    let follow = serde_json::json!({"type": "message", "channel_type": "channel", "user": "U1",
        "text": "only the stopped ones", "ts": "1700009000.000009",
        "thread_ts": "1700009000.000001", "channel": "C0OPS"});
    b.event(&envelope(&event_id(), follow)).await;
    let posts = a.slack.wait_for("chat.postMessage", 2).await;
    assert_eq!(posts[1].body["thread_ts"], "1700009000.000001");
    let text = posts[1].body.to_string();
    assert!(
        text.contains("history 1: list EC2 instances in production"),
        "{text}"
    );
    // Someone else's unaddressed reply in that thread is still ignored.
    let other = serde_json::json!({"type": "message", "channel_type": "channel", "user": "U2",
        "text": "me too", "ts": "1700009000.000010", "thread_ts": "1700009000.000001", "channel": "C0OPS"});
    a.event(&envelope(&event_id(), other)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.slack.ok_calls("chat.postMessage").len(), 2);
}

#[tokio::test]
async fn answers_keep_flowing_when_the_table_is_unreachable() {
    let gone = client("http://127.0.0.1:9");
    let a = TestApp::start_wired(&store_toml("opsbot-unreachable"), move |b| {
        b.dynamodb(gone).responder(Arc::new(Historian))
    })
    .await;
    let env = envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700010000.000001", "hello"),
    );
    a.event(&env).await;
    a.event(&env).await;
    a.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700010000.000002", "again"),
    ))
    .await;
    a.slack.wait_for("chat.postMessage", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        a.slack.ok_calls("chat.postMessage").len(),
        2,
        "the retry is still de-duplicated by this replica"
    );
    let m = a.metrics().await;
    assert!(
        m.contains("opsbot_store_fallbacks_total{kind=\"claim_delivery\"}"),
        "{m}"
    );
}

const WEEK: i64 = 7 * 24 * 3600;

fn schedule_toml(table: &str) -> String {
    format!(
        "{}[[schedule]]\nname = \"weekly\"\ncron = \"0 9 * * MON\"\ntimezone = \"Europe/Berlin\"\npost_to = \"slack:C0INV\"\n",
        store_toml(table)
    )
}

/// Top-level posts in C0INV.
fn posts(a: &AgentApp) -> usize {
    a.app
        .slack
        .ok_calls("chat.postMessage")
        .iter()
        .filter(|p| p.body["channel"] == "C0INV" && p.body.get("thread_ts").is_none())
        .count()
}

#[tokio::test]
async fn two_replicas_post_each_scheduled_run_once_even_when_the_owner_dies() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let c = client(&peers::moto());
    let t = table(&c).await;
    let script: fake_bedrock::Script = Arc::new(|_| panic!("inventory never calls the model"));
    let (c1, c2) = (c.clone(), c.clone());
    let a = agent_app_on(None, &mcp, script.clone(), &schedule_toml(&t), move |b| {
        b.dynamodb(c1)
    })
    .await;
    let b = agent_app_on(
        Some(a.app.slack.clone()),
        &mcp,
        script,
        &schedule_toml(&t),
        move |b| b.dynamodb(c2),
    )
    .await;
    let monday = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
    // Slack's ts is the post's time: posts happen after the runs below.
    a.app
        .slack
        .set_ts_base((monday.timestamp() + 3 * WEEK + 60) as u64);
    let schedule = a.app.inventory().schedules()[0].clone();
    let sched = |x: &AgentApp, owner: &str, at| {
        Scheduler::new(
            x.app.inventory().clone(),
            x.app.core().clone(),
            Clock::starting_at(at),
            owner.into(),
        )
    };

    // Both replicas fire the same run at once: one posts.
    let (sa, sb) = (sched(&a, "a", monday), sched(&b, "b", monday));
    let (fa, fb) = tokio::join!(sa.fire(&schedule, monday), sb.fire(&schedule, monday));
    let outcomes = [&fa, &fb];
    assert_eq!(
        outcomes
            .iter()
            .filter(|f| matches!(f, Fired::Posted(_)))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(posts(&a), 1);

    // The owner claims the next run and dies before posting: the other replica waits for the
    // lease, then posts once.
    let runs = DynamoRuns::new(Dynamo::new(c.clone(), &t, Metrics::new()));
    let second = monday + chrono::Duration::seconds(WEEK);
    let claim = runs
        .claim("weekly", second.timestamp(), "a", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(claim, Claim::Won);
    assert!(matches!(
        sched(&b, "b", second).fire(&schedule, second).await,
        Fired::Held
    ));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fired = sched(&b, "b", second).fire(&schedule, second).await;
    assert!(matches!(fired, Fired::Posted(_)), "{fired:?}");
    assert_eq!(posts(&a), 2);

    // The owner posts the third run and dies before recording it: the other replica finds the
    // post (its metadata names the run) and does not post again.
    let third = monday + chrono::Duration::seconds(2 * WEEK);
    runs.claim("weekly", third.timestamp(), "a", Duration::from_secs(1))
        .await
        .unwrap();
    let answer = Answer {
        marker: Some(format!("weekly/{}", third.timestamp())),
        ..Answer::text("Inventory (posted just before a crash)")
    };
    let target = Target::Channel {
        place: schedule.post_to.clone(),
        handle: None,
    };
    a.app.core().deliver(&target, &answer).await.unwrap();
    assert_eq!(posts(&a), 3);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fired = sched(&b, "b", third).fire(&schedule, third).await;
    assert!(
        matches!(fired, Fired::AlreadyPosted),
        "{fired:?} {:#?}",
        a.app.slack.all_calls("conversations.history")
    );
    assert_eq!(posts(&a), 3, "not posted twice");
    assert_eq!(
        runs.claim("weekly", third.timestamp(), "c", Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Posted,
        "recorded as posted"
    );
    let history = a.app.slack.ok_calls("conversations.history");
    assert!(!history.is_empty());
    assert_eq!(history[0].body["include_all_metadata"], "true");
}
