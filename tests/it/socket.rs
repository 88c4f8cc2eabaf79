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
