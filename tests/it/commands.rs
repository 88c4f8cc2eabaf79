//! Slash commands end to end: ephemeral ack first, answer via response_url.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn ask_is_acked_ephemerally_then_answered_via_response_url() {
    let app = TestApp::start("").await;
    let r = app
        .command("ask how many RDS instances per account?", "U1", "r1")
        .await;
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(ack["text"].as_str().unwrap().contains("Working on it"));
    let got = app.slack.wait_for("response_url", 1).await;
    assert_eq!(got[0].body["_id"], "r1");
    assert_eq!(got[0].body["response_type"], "in_channel");
    assert!(
        got[0].body["text"]
            .as_str()
            .unwrap()
            .contains("no agent is configured")
    );
}

#[tokio::test]
async fn whoami_and_accounts_answer_privately_and_honestly() {
    let app = TestApp::start("").await;
    app.command("whoami", "U7", "w").await;
    app.command("accounts", "U7", "a").await;
    let slack = app.shutdown().await;
    let got = slack.ok_calls("response_url");
    let who = got.iter().find(|c| c.body["_id"] == "w").unwrap();
    assert_eq!(who.body["response_type"], "ephemeral");
    assert!(who.body["text"].as_str().unwrap().contains("U7"));
    let acc = got.iter().find(|c| c.body["_id"] == "a").unwrap();
    assert!(
        acc.body["text"]
            .as_str()
            .unwrap()
            .contains("You may not query any AWS account here")
    );
}

#[tokio::test]
async fn help_and_unknown_subcommands_answer_at_once_with_help() {
    let app = TestApp::start("").await;
    for text in ["", "help", "deploy prod"] {
        let r = app.command(text, "U1", "h").await;
        assert_eq!(r.status(), 200);
        let ack: Value = r.json().await.unwrap();
        let t = ack["text"].as_str().unwrap();
        assert!(
            t.contains("whoami") && t.contains("accounts") && t.contains("ask"),
            "{text}: {t}"
        );
    }
    let slack = app.shutdown().await;
    assert!(
        slack.all_calls("response_url").is_empty(),
        "help needs no follow-up"
    );
}

#[tokio::test]
async fn interactions_are_verified_and_acknowledged() {
    let app = TestApp::start("").await;
    let form = serde_urlencoded::to_string([(
        "payload",
        r#"{"type":"block_actions","user":{"id":"U1"},"actions":[]}"#,
    )])
    .unwrap();
    let r = app
        .post_signed(
            "/slack/interactions",
            form.as_bytes(),
            "application/x-www-form-urlencoded",
            &[],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .post(app.url("/slack/interactions"))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
