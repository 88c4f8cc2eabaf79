//! The neutral core end to end: the same question through Slack HTTP, Slack Socket Mode and
//! the terminal gives the same answer; the ack never waits on the conversation store; commands
//! typed as mentions; deactivated people and guests.

use crate::fake_slack::BOT_TOKEN;
use crate::helpers::*;
use async_trait::async_trait;
use opsbot::core::answer::{Answer, Target};
use opsbot::core::inbound::{ChatUser, Platform, ThreadKey};
use opsbot::store::memory::MemoryStore;
use opsbot::store::{ConversationStore, StoreError, Turn};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn tapped(extra: &str) -> (TestApp, Arc<Tap>) {
    let tap: Arc<Mutex<Option<Arc<Tap>>>> = Arc::default();
    let slot = tap.clone();
    let app = TestApp::start_wired(extra, move |b| {
        let t = Tap::for_builder(&b);
        *slot.lock().unwrap() = Some(t.clone());
        b.sink(Platform::Slack, t)
    })
    .await;
    let tap = tap.lock().unwrap().clone().unwrap();
    (app, tap)
}

async fn first_answer(tap: &Tap) -> Answer {
    tap.answer(1).await
}

#[tokio::test]
async fn the_same_question_through_http_socket_mode_and_the_terminal_gives_the_same_answer() {
    let question = "list S3 buckets across all accounts";

    let (http, http_tap) = tapped("").await;
    http.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700003000.000001", question),
    ))
    .await;
    let via_http = first_answer(&http_tap).await;

    let (socket, socket_tap) = tapped("mode = \"socket\"\nsocket_connections = 1\n").await;
    socket.slack.send_envelope(json!({
        "envelope_id": "e-1", "type": "events_api", "accepts_response_payload": false,
        "retry_attempt": 0, "retry_reason": "",
        "payload": envelope(&event_id(), mention("U1", "C0OPS", "1700003000.000002", question)),
    }));
    let via_socket = first_answer(&socket_tap).await;

    // The terminal: the real binary, the same Slack user (looked up by email in the fake
    // Slack), the same channel.
    let dir = std::env::temp_dir().join(format!("opsbot-it-{}-core", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("opsbot.toml");
    std::fs::write(&cfg, fixtures_toml()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["ask", "--config"])
        .arg(&cfg)
        .args([
            "--as",
            "u1@example.com",
            "--channel",
            "slack:C0OPS",
            "--json",
            question,
        ])
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", http.slack.api_url())
        .env_remove("SLACK_SIGNING_SECRET")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_terminal: Answer = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(via_http, via_socket);
    assert_eq!(via_http, via_terminal);
    let text = via_http.to_markdown();
    assert!(text.contains("no agent is configured"), "{text}");
    assert!(
        text.contains("production (111111111111), sandbox (333333333333), staging (222222222222)"),
        "the person's accounts in #ops: {text}"
    );
}

/// A memory store whose delivery claims take two seconds, counting finished claims.
struct SlowStore {
    inner: MemoryStore,
    claims_done: AtomicUsize,
}

#[async_trait]
impl ConversationStore for SlowStore {
    async fn claim_delivery(&self, d: &str, ttl: Duration) -> Result<bool, StoreError> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let r = self.inner.claim_delivery(d, ttl).await;
        self.claims_done.fetch_add(1, Ordering::SeqCst);
        r
    }
    async fn add_turn(&self, t: &ThreadKey, turn: Turn) -> Result<(), StoreError> {
        self.inner.add_turn(t, turn).await
    }
    async fn asked_in(&self, t: &ThreadKey, u: &ChatUser) -> Result<bool, StoreError> {
        self.inner.asked_in(t, u).await
    }
    async fn turns(&self, t: &ThreadKey, n: usize) -> Result<Vec<Turn>, StoreError> {
        self.inner.turns(t, n).await
    }
}

#[tokio::test]
async fn a_duplicate_is_acked_at_once_and_answered_once_even_when_the_store_is_slow() {
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        claims_done: AtomicUsize::new(0),
    });
    let s = store.clone();
    let app = TestApp::start_wired("", move |b| b.store(s)).await;
    let env = envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700003100.000001", "count RDS instances"),
    );
    for retry in 0..2u32 {
        let extra: Vec<(&str, String)> = if retry == 0 {
            vec![]
        } else {
            vec![("x-slack-retry-num", retry.to_string())]
        };
        let r = app
            .post_signed(
                "/slack/events",
                env.to_string().as_bytes(),
                "application/json",
                &extra,
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            store.claims_done.load(Ordering::SeqCst),
            0,
            "acknowledged while the store was still deciding"
        );
    }
    app.slack.wait_for("chat.postMessage", 1).await;
    let slack = app.shutdown().await;
    assert_eq!(store.claims_done.load(Ordering::SeqCst), 2);
    assert_eq!(slack.ok_calls("chat.postMessage").len(), 1, "answered once");
}

#[tokio::test]
async fn whoami_as_a_mention_is_answered_privately_in_the_thread() {
    let app = TestApp::start("").await;
    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700003200.000001", "whoami"),
    ))
    .await;
    let got = app.slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(got[0].body["user"], "U1");
    assert_eq!(got[0].body["channel"], "C0OPS");
    assert_eq!(got[0].body["thread_ts"], "1700003200.000001");
    let text = got[0].body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.contains("u1@example.com") && text.contains("platform-admins"),
        "{text}"
    );
    let slack = app.shutdown().await;
    assert!(
        slack.ok_calls("chat.postMessage").is_empty(),
        "nothing public"
    );
}

#[tokio::test]
async fn deactivated_people_are_refused_and_guests_get_only_guest_grants() {
    let app = TestApp::start("").await;
    app.event(&envelope(
        &event_id(),
        mention("UDEAD00001", "C0OPS", "1700003300.000001", "list buckets"),
    ))
    .await;
    // Refused in a channel: the details go to the person only (a notice in the thread).
    let private = app.slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(private[0].body["user"], "UDEAD00001");
    let reply = private[0].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(reply.contains("deactivated"), "{reply}");
    assert!(
        !reply.contains("no agent"),
        "never reaches the responder: {reply}"
    );

    let r = app.command("whoami", "UGUEST00001", "g").await;
    assert_eq!(r.status(), 200);
    let got = app.slack.wait_for("response_url", 1).await;
    let text: String = got[0].body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or(""))
        .collect();
    assert!(text.contains("*guest*"), "{text}");
    assert!(
        text.contains("sandbox (333333333333) — regions us-east-1 — granted by contractors"),
        "{text}"
    );
    assert!(
        !text.contains("production")
            && !text.contains("111111111111")
            && text.contains("guests = true"),
        "admin grants don't reach a guest, who is not told which accounts they withhold: {text}"
    );
}

#[tokio::test]
async fn a_new_channel_post_carries_its_long_table_as_csv_in_its_own_thread() {
    use opsbot::core::answer::Table;
    use opsbot::core::inbound::{Place, PlaceKind};
    let app = TestApp::start("").await;
    let table = Table {
        caption: Some("EC2 instances".into()),
        columns: vec!["account".into(), "id".into(), "state".into()],
        rows: (0..100)
            .map(|i| vec!["production".into(), format!("i-{i:04}"), "running".into()])
            .collect(),
    };
    let answer = Answer::text("**Weekly inventory**").table(table);
    let target = Target::Channel {
        place: Place::new(Platform::Slack, "C0OPS", PlaceKind::Channel),
        handle: None,
    };
    app.core().deliver(&target, &answer).await;
    let posts = app.slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts[0].body["channel"], "C0OPS");
    assert!(
        posts[0].body.get("thread_ts").is_none(),
        "a new top-level message"
    );
    let done = app.slack.wait_for("files.completeUploadExternal", 1).await;
    assert_eq!(done[0].body["channel_id"], "C0OPS");
    assert_eq!(
        done[0].body["thread_ts"], "1700000000.000001",
        "the CSV goes into the post's own thread"
    );
    let uploads = app.slack.ok_calls("upload");
    assert_eq!(
        String::from_utf8_lossy(&uploads[0].raw).lines().count(),
        101,
        "every row in the CSV"
    );
}
