//! Events API end to end: signatures, url_verification, mentions, retries, loops, limits.

use crate::fake_slack::BOT_USER;
use crate::helpers::*;
use opsbot::chat::slack::verify::unix_now;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn url_verification_signed_by_slack_sdk_is_answered() {
    let app = TestApp::start("").await;
    let body = json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let ts = unix_now().to_string();
    let input = json!({"secret": SECRET, "timestamp": ts, "body": body}).to_string();
    let mut child = tokio::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/slack_sign.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the venv python");
    use tokio::io::AsyncWriteExt;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "slack_sdk signer failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["valid"], true);
    let sig = signed["signature"].as_str().unwrap();
    assert_eq!(
        sig,
        opsbot::chat::slack::verify::Verifier::new(SECRET).sign(&ts, body.as_bytes()),
        "same signature as slack_sdk"
    );

    let r = app
        .http
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[tokio::test]
async fn bad_requests_get_401_400_413_and_no_reply() {
    let app = TestApp::start("").await;
    let body = envelope(&event_id(), mention("U1", "C1", "1.1", "hi")).to_string();
    let ts = unix_now().to_string();
    let send = |sig: Option<String>, ts: Option<String>, body: String| {
        let mut req = app
            .http
            .post(app.url("/slack/events"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            req = req.header("x-slack-signature", s);
        }
        if let Some(t) = ts {
            req = req.header("x-slack-request-timestamp", t);
        }
        req.send()
    };
    let good = opsbot::chat::slack::verify::Verifier::new(SECRET).sign(&ts, body.as_bytes());
    let wrong = opsbot::chat::slack::verify::Verifier::new("other").sign(&ts, body.as_bytes());
    let old_ts = (unix_now() - 600).to_string();
    let old = opsbot::chat::slack::verify::Verifier::new(SECRET).sign(&old_ts, body.as_bytes());
    for (name, r) in [
        ("no headers", send(None, None, body.clone()).await.unwrap()),
        (
            "wrong secret",
            send(Some(wrong), Some(ts.clone()), body.clone())
                .await
                .unwrap(),
        ),
        (
            "tampered",
            send(
                Some(good.clone()),
                Some(ts.clone()),
                body.replace("hi", "ho"),
            )
            .await
            .unwrap(),
        ),
        (
            "stale",
            send(Some(old), Some(old_ts), body.clone()).await.unwrap(),
        ),
    ] {
        assert_eq!(r.status(), 401, "{name}");
        assert_eq!(r.text().await.unwrap(), "", "{name}: no detail in the body");
    }
    let r = app
        .post_signed("/slack/events", b"{not json", "application/json", &[])
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .post_signed(
            "/slack/commands",
            b"text=only",
            "application/x-www-form-urlencoded",
            &[],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .post_signed(
            "/slack/interactions",
            b"payload=%7Bnope",
            "application/x-www-form-urlencoded",
            &[],
        )
        .await;
    assert_eq!(r.status(), 400);
    let big = vec![b'a'; 1024 * 1024 + 1];
    let r = app
        .post_signed("/slack/events", &big, "application/json", &[])
        .await;
    assert_eq!(r.status(), 413);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"opsbot_slack_requests_total{route="events",outcome="unauthorized"} 4"#),
        "{metrics}"
    );
    let slack = app.shutdown().await;
    assert!(
        slack.all_calls("chat.postMessage").is_empty(),
        "nothing was answered"
    );
}

#[tokio::test]
async fn mention_gets_exactly_one_threaded_reply_with_progress_shown_and_cleared() {
    let app = TestApp::start("").await;
    let r = app
        .event(&envelope(
            &event_id(),
            mention(
                "U1",
                "C0OPS",
                "1700000100.000100",
                "list EC2 instances in production",
            ),
        ))
        .await;
    assert_eq!(r.status(), 200);
    let posts = app.slack.wait_for("chat.postMessage", 1).await;
    let p = &posts[0].body;
    assert_eq!(p["channel"], "C0OPS");
    assert_eq!(p["thread_ts"], "1700000100.000100");
    assert!(
        p["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("no agent is configured"),
        "{p}"
    );
    let slack = app.shutdown().await;
    assert_eq!(slack.ok_calls("chat.postMessage").len(), 1);
    let add = slack.ok_calls("reactions.add");
    assert_eq!(add.len(), 1);
    assert_eq!(add[0].body["timestamp"], "1700000100.000100");
    assert_eq!(
        slack.ok_calls("reactions.remove").len(),
        1,
        "progress cleared"
    );
}

#[tokio::test]
async fn mention_inside_a_thread_replies_in_that_thread() {
    let app = TestApp::start("").await;
    let mut ev = mention("U1", "C0OPS", "1700000200.000200", "and in eu-west-1?");
    ev["thread_ts"] = json!("1700000100.000100");
    app.event(&envelope(&event_id(), ev)).await;
    let posts = app.slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts[0].body["thread_ts"], "1700000100.000100");
}

#[tokio::test]
async fn same_event_delivered_four_times_gets_one_reply() {
    let app = TestApp::start("").await;
    let id = event_id();
    let env = envelope(
        &id,
        mention("U1", "C0OPS", "1700000300.000300", "show S3 buckets"),
    );
    for retry in 0..4u32 {
        let extra: Vec<(&str, String)> = if retry == 0 {
            vec![]
        } else {
            vec![
                ("x-slack-retry-num", retry.to_string()),
                ("x-slack-retry-reason", "http_timeout".into()),
            ]
        };
        let r = app
            .post_signed(
                "/slack/events",
                env.to_string().as_bytes(),
                "application/json",
                &extra,
            )
            .await;
        assert_eq!(r.status(), 200, "every delivery is acknowledged");
    }
    let slack = app.shutdown().await;
    assert_eq!(slack.ok_calls("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn bots_own_messages_edits_and_chatter_get_no_reply() {
    let app = TestApp::start("").await;
    let own = json!({"type": "message", "channel_type": "im", "user": BOT_USER, "bot_id": "B0BOT", "text": "hello", "ts": "1.1", "channel": "D1"});
    let other_bot = json!({"type": "app_mention", "user": "U2", "bot_id": "B2", "text": "<@UBOT> ping", "ts": "1.2", "channel": "C1"});
    let edit = json!({"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D1", "ts": "1.3",
        "message": {"type": "message", "user": "U1", "text": "edited", "ts": "1.0"}});
    let chatter = json!({"type": "message", "channel_type": "channel", "user": "U1", "text": "lunch?", "ts": "1.4", "channel": "C1"});
    for ev in [own, other_bot, edit, chatter] {
        assert_eq!(app.event(&envelope(&event_id(), ev)).await.status(), 200);
    }
    let slack = app.shutdown().await;
    assert!(
        slack.all_calls("chat.postMessage").is_empty(),
        "{:?}",
        slack.calls()
    );
}

#[tokio::test]
async fn dm_and_follow_up_in_answered_thread_need_no_mention() {
    let app = TestApp::start("").await;
    let dm = json!({"type": "message", "channel_type": "im", "user": "U1", "text": "what accounts can I use?", "ts": "1700000400.000001", "channel": "D0DM"});
    app.event(&envelope(&event_id(), dm)).await;
    let posts = app.slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts[0].body["channel"], "D0DM");

    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700000500.000001", "list lambdas"),
    ))
    .await;
    app.slack.wait_for("chat.postMessage", 2).await;
    let follow = |user: &str, ts: &str| {
        json!({"type": "message", "channel_type": "channel", "user": user,
        "text": "only the stopped ones", "ts": ts, "thread_ts": "1700000500.000001", "channel": "C0OPS"})
    };
    app.event(&envelope(&event_id(), follow("U9", "1700000500.000003")))
        .await;
    app.event(&envelope(&event_id(), follow("U1", "1700000500.000002")))
        .await;
    let posts = app.slack.wait_for("chat.postMessage", 3).await;
    assert_eq!(posts[2].body["thread_ts"], "1700000500.000001");
    let slack = app.shutdown().await;
    assert_eq!(
        slack.ok_calls("chat.postMessage").len(),
        3,
        "someone else in the thread does not trigger the bot"
    );
}

#[tokio::test]
async fn rate_limited_reply_is_retried_and_delivered_once() {
    let app = TestApp::start("").await;
    app.slack.rate_limit("chat.postMessage", 1, 1);
    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700000600.000001", "rds count"),
    ))
    .await;
    app.slack.wait_for("chat.postMessage", 1).await;
    let slack = app.shutdown().await;
    let all = slack.all_calls("chat.postMessage");
    assert_eq!(all.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200]);
}

#[tokio::test]
async fn over_the_limit_the_user_gets_a_busy_reply_not_silence() {
    let app = TestApp::start("[work]\nmax_concurrent = 1\nmax_per_user = 1\n").await;
    app.slack.delay("reactions.add", Duration::from_millis(500));
    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700000700.000001", "first"),
    ))
    .await;
    app.event(&envelope(
        &event_id(),
        mention("U2", "C0OPS", "1700000700.000002", "second"),
    ))
    .await;
    let slack = app.shutdown().await;
    let posts = slack.ok_calls("chat.postMessage");
    assert_eq!(posts.len(), 2);
    let busy = posts
        .iter()
        .find(|p| p.body["thread_ts"] == "1700000700.000002")
        .expect("busy reply in the second thread");
    assert!(
        busy.body["text"].as_str().unwrap().contains("busy"),
        "{:?}",
        busy.body
    );
}

struct Long;
#[async_trait::async_trait]
impl opsbot::core::respond::Responder for Long {
    async fn answer(
        &self,
        _r: opsbot::core::respond::AnswerRequest,
    ) -> Result<opsbot::core::answer::Answer, opsbot::core::respond::AnswerError> {
        Ok(opsbot::core::answer::Answer::text(
            "i-0abc  running  t3.micro\n".repeat(3000),
        ))
    }
}

#[tokio::test]
async fn long_answer_is_uploaded_as_a_file_in_the_thread() {
    let app = TestApp::start_with("", Some(std::sync::Arc::new(Long))).await;
    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700000800.000001", "all instances"),
    ))
    .await;
    let done = app.slack.wait_for("files.completeUploadExternal", 1).await;
    assert_eq!(done[0].body["channel_id"], "C0OPS");
    assert_eq!(done[0].body["thread_ts"], "1700000800.000001");
    let slack = app.shutdown().await;
    let get = slack.ok_calls("files.getUploadURLExternal");
    let up = slack.ok_calls("upload");
    assert_eq!(up.len(), 1);
    assert_eq!(
        up[0].raw.len().to_string(),
        get[0].body["length"].as_str().unwrap()
    );
    assert!(slack.ok_calls("chat.postMessage").is_empty());
}

#[tokio::test]
async fn readiness_waits_for_auth_test_and_metrics_count_requests() {
    let app = TestApp::start("").await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.event(&envelope(&event_id(), mention("U1", "C1", "1.5", "x")))
        .await;
    let m = app.metrics().await;
    assert!(
        m.contains(r#"opsbot_slack_requests_total{route="events",outcome="accepted"} 1"#),
        "{m}"
    );
    assert!(
        m.contains("opsbot_slack_ack_seconds_count{route=\"events\"} 1"),
        "{m}"
    );
}
