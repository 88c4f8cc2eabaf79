//! Socket Mode end to end: a fake `apps.connections.open` hands out a loopback WebSocket that
//! delivers an `events_api` envelope; the bot acks the `envelope_id` and answers in the thread.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn socket_mode_acks_envelope_and_replies() {
    let app = TestApp::start("mode = \"socket\"\nsocket_connections = 1\n").await;
    let r = app
        .http
        .post(app.url("/slack/events"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no public Slack routes in Socket Mode");
    let payload = envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700000900.000001", "list buckets"),
    );
    app.slack.send_envelope(json!({
        "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
        "payload": payload,
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": ""
    }));
    let acks = app.slack.wait_for("socket_ack", 1).await;
    assert_eq!(
        acks[0].body["envelope_id"],
        "57d6a792-4d35-4d0b-b6aa-3361493e1caf"
    );
    let posts = app.slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts[0].body["thread_ts"], "1700000900.000001");
    let opens = app.slack.ok_calls("apps.connections.open");
    assert_eq!(opens.len(), 1);
}

#[tokio::test]
async fn ready_means_a_socket_mode_connection_said_hello() {
    let app = TestApp::start_unready("mode = \"socket\"\nsocket_connections = 1\n", |s| {
        s.hold_sockets()
    })
    .await;
    // auth.test works, but no connection is open: not ready, and it stays so.
    app.slack.wait_for("auth.test", 1).await;
    for _ in 0..20 {
        assert_eq!(app.readiness().await, 503, "no connection yet");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let why = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(why.contains("Socket Mode"), "{why}");
    app.slack.release_sockets();
    app.wait_readiness(200).await;

    // Every connection lost and none coming back: not ready, with the reason; then ready again.
    app.slack.hold_sockets();
    app.slack.close_sockets();
    app.wait_readiness(503).await;
    let why = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(why.contains("closed by Slack"), "{why}");
    app.slack.release_sockets();
    app.wait_readiness(200).await;
    let m = app.metrics().await;
    assert!(
        m.contains("opsbot_socket_reconnects_total{kind=\"lost\"} 1"),
        "{m}"
    );
    assert!(m.contains("opsbot_socket_connections 1"), "{m}");
}

#[tokio::test]
async fn an_envelope_behind_a_disconnect_is_acked_on_the_old_connection_and_answered_once() {
    let app = TestApp::start("mode = \"socket\"\nsocket_connections = 1\n").await;
    let payload = envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700004000.000001", "list buckets"),
    );
    let old = app.slack.disconnect_then(json!({
        "envelope_id": "e-behind-disconnect", "payload": payload, "type": "events_api",
        "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""
    }));
    let acks = app.slack.wait_for("socket_ack", 1).await;
    assert_eq!(acks[0].body["envelope_id"], "e-behind-disconnect");
    assert_eq!(
        acks[0].body["_conn"], old,
        "acked on the connection it came on"
    );
    app.slack.wait_for("chat.postMessage", 1).await;
    // A new connection was opened while the old one drained.
    let opens = app.slack.wait_for("socket_open", 2).await;
    assert!(opens.len() >= 2);
    app.slack.wait_for("socket_close", 1).await;
    app.wait_readiness(200).await;
    let slack = app.shutdown().await;
    assert_eq!(slack.ok_calls("chat.postMessage").len(), 1, "answered once");
    let m_acks = slack.ok_calls("socket_ack");
    assert_eq!(m_acks.len(), 1, "no redelivery needed: {m_acks:?}");
}
