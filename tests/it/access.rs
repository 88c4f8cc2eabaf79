//! Identity and policy end to end: `/aws whoami` and `/aws accounts` for different people in
//! different channels, Slack user groups through the fake, and failing closed.

use crate::helpers::*;

/// Static groups plus Slack user groups (U3 is in the Slack user group `data`).
pub(crate) async fn app() -> TestApp {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    let app = TestApp::start_raw(&format!(
        "[accounts]\nfile = \"{dir}/accounts.toml\"\naccess_file = \"{dir}/access.toml\"\n\
         [identity]\nproviders = [\"static\", \"slack_usergroups\"]\nstatic_file = \"{dir}/groups.toml\"\nhelp_contact = \"#platform\"\n"
    ))
    .await;
    app.slack
        .set_usergroups(&[("data", &["U3"]), ("oncall", &["U1", "U3"])]);
    app
}

pub(crate) async fn answer(app: &TestApp, sub: &str, user: &str, channel: &str) -> String {
    let id = format!("{sub}-{user}-{channel}").replace(' ', "_");
    let r = app.command_in(sub, user, channel, &id).await;
    assert_eq!(r.status(), 200);
    for _ in 0..500 {
        if let Some(c) = app
            .slack
            .ok_calls("response_url")
            .into_iter()
            .find(|c| c.body["_id"] == id.as_str())
        {
            assert_eq!(
                c.body["response_type"], "ephemeral",
                "only the asker sees it"
            );
            return c.body["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["text"]["text"].as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no response for {id}");
}

pub(crate) fn listed(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("• "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn accounts_for_three_people_in_two_channels() {
    let app = app().await;
    let cases: &[(&str, &str, &[&str])] = &[
        ("U1", "C0OPS", &["production", "sandbox", "staging"]),
        ("U1", "C0GENERAL", &["sandbox"]),
        ("U2", "C0OPS", &["sandbox", "staging"]),
        ("U2", "C0GENERAL", &["sandbox"]),
        ("U3", "C0OPS", &["sandbox"]),
        ("U1", "C0RANDOM", &[]),
        ("U1", "D0DM", &["production", "sandbox", "staging"]),
    ];
    for (user, channel, want) in cases {
        let text = answer(&app, "accounts", user, channel).await;
        assert_eq!(listed(&text), *want, "{user} in {channel}:\n{text}");
    }
    let u3 = answer(&app, "accounts", "U3", "C0OPS").await;
    assert!(
        u3.contains("sandbox (333333333333) — us-east-1"),
        "region limit shown: {u3}"
    );
}

#[tokio::test]
async fn accounts_by_name_resolve_within_the_grant_or_name_what_may_be_used() {
    let app = app().await;
    let text = answer(&app, "accounts prod", "U1", "C0OPS").await;
    assert!(
        text.contains(
            "production (111111111111) — production — regions us-east-1, eu-west-1 — also called prod — granted by"
        ),
        "alias resolves, with what the account is: {text}"
    );
    let text = answer(&app, "accounts all", "U2", "C0OPS").await;
    assert_eq!(listed(&text), ["sandbox", "staging"], "{text}");
    let text = answer(&app, "accounts the staging account", "U2", "C0OPS").await;
    assert_eq!(listed(&text), ["staging"], "{text}");

    let text = answer(&app, "accounts billing", "U2", "C0OPS").await;
    assert!(
        text.contains("I don't know an account called \"billing\"")
            && text.contains("You may use: sandbox (333333333333), staging (222222222222)."),
        "unknown name: a polite reply naming what may be used: {text}"
    );
    let text = answer(&app, "accounts production", "U2", "C0OPS").await;
    assert!(
        text.contains("You may use: sandbox") && !text.contains("111111111111"),
        "an account outside the grant is unknown to this person, and its id is not revealed: {text}"
    );
    let text = answer(&app, "accounts prod", "U1", "C0GENERAL").await;
    assert!(
        text.contains("You may use: sandbox (333333333333).") && !text.contains("111111111111"),
        "the channel guardrail applies to names too: {text}"
    );
    let text = answer(&app, "accounts prod", "U7", "C0OPS").await;
    assert!(
        text.contains("ask #platform"),
        "no grant: the refusal: {text}"
    );
}

#[tokio::test]
async fn whoami_explains_groups_grants_and_guardrails() {
    let app = app().await;
    let text = answer(&app, "whoami", "U1", "C0GENERAL").await;
    assert!(text.contains("u1@example.com"), "{text}");
    assert!(
        text.contains("oncall, platform-admins"),
        "groups from both providers: {text}"
    );
    assert!(
        text.contains("sandbox (333333333333) — regions us-east-1 — granted by platform-admins"),
        "{text}"
    );
    assert!(
        text.contains(
            "~production (111111111111)~ — not allowed here: #general allows environment:dev"
        ),
        "{text}"
    );
    assert!(
        text.contains("the static groups file, Slack user groups"),
        "{text}"
    );
}

#[tokio::test]
async fn person_without_groups_gets_a_helpful_refusal() {
    let app = app().await;
    for sub in ["accounts", "whoami"] {
        let text = answer(&app, sub, "U7", "C0OPS").await;
        assert!(
            text.contains("none") || text.contains("no group"),
            "{sub}: {text}"
        );
    }
    let text = answer(&app, "accounts", "U7", "C0OPS").await;
    assert!(
        text.contains("You may not query any AWS account here") && text.contains("ask #platform"),
        "{text}"
    );
    app.event(&envelope(
        &event_id(),
        mention("U7", "C0OPS", "1700002000.000001", "list buckets"),
    ))
    .await;
    // Refused in a channel: the details privately (a notice in the thread).
    let private = app.slack.wait_for("chat.postEphemeral", 1).await;
    let reply = private[0].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(
        reply.contains("You may not query any AWS account here"),
        "{reply}"
    );
}

#[tokio::test]
async fn granted_elsewhere_is_told_where_to_ask() {
    let app = app().await;
    let text = answer(&app, "accounts", "U1", "C0RANDOM").await;
    assert!(
        text.contains("not in this conversation")
            && text.contains("channels without their own rule allow nothing"),
        "{text}"
    );
}

#[tokio::test]
async fn provider_outage_fails_closed() {
    let app = app().await;
    app.slack.fail("usergroups.list", 5, "internal_error");
    app.event(&envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700002100.000001", "list EC2"),
    ))
    .await;
    // Refused in a channel: the details privately (a notice in the thread).
    let private = app.slack.wait_for("chat.postEphemeral", 1).await;
    let reply = private[0].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(
        reply.contains("couldn't read your groups from Slack user groups"),
        "{reply}"
    );
    assert!(
        reply.contains("#platform") && !reply.contains("no agent"),
        "{reply}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("opsbot_errors_total{kind=\"identity_provider\"} 1"),
        "{metrics}"
    );
}
