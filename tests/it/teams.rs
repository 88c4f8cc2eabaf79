//! Microsoft Teams end to end: the real router on 127.0.0.1 with only `[teams]` configured,
//! against the fake Bot Framework (OpenID metadata, JWKS, Entra token endpoint, recording
//! connector). Forged tokens are refused before anything is read; people are looked up through
//! the connector; private replies never land in a channel; connector errors are retried.

use crate::fake_teams::{ConnectorCall, FakeTeams};
use crate::helpers::test_env;
use crate::teams_wire::{
    self as wire, ALICE, APP_ID, BOB, CHANNEL_ID, PERSONAL_ID, Place, TENANT_ID,
};
use opsbot::app::App;
use opsbot::config::Config;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::oneshot;

/// The `[teams]` section for `fake`.
pub fn teams_toml(fake: &FakeTeams) -> String {
    format!(
        "[teams]\napp_id = \"{APP_ID}\"\ntenant_id = \"{TENANT_ID}\"\nopenid_metadata_url = \"{}\"\n\
         login_url = \"{}\"\nallowed_service_hosts = [\"127.0.0.1\"]\n",
        fake.openid_url(),
        fake.url()
    )
}

fn sections() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent");
    format!(
        "[accounts]\nfile = \"{dir}/accounts.toml\"\naccess_file = \"{dir}/access.toml\"\n\
         [identity]\nproviders = [\"static\"]\nstatic_file = \"{dir}/groups.toml\"\nhelp_contact = \"#platform\"\n"
    )
}

/// A Teams-only bot (no `[slack]`) and its fake Bot Framework.
struct TeamsApp {
    addr: SocketAddr,
    fake: FakeTeams,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl TeamsApp {
    async fn start(extra: &str) -> Self {
        opsbot::install_crypto();
        let fake = FakeTeams::start().await;
        fake.seed_member(wire::member(&ALICE, false));
        fake.seed_member(wire::member(&BOB, true));
        let toml = format!("{}{}{extra}", sections(), teams_toml(&fake));
        let config = Config::parse(&toml, Path::new("teams.toml"), &test_env(&[]))
            .expect("Teams-only config");
        assert!(!config.slack_enabled);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = App::builder(config).build().await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            app.run(listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let t = TeamsApp {
            addr,
            fake,
            http: reqwest::Client::new(),
            _stop: tx,
        };
        for _ in 0..500 {
            if t.get("/readyz").await == 200 {
                return t;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the Teams-only bot never became ready");
    }

    async fn get(&self, path: &str) -> u16 {
        match self
            .http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// POSTs `activity` with `authorization` (a whole header value) to `/api/messages`.
    async fn post_raw(&self, authorization: Option<String>, body: Vec<u8>) -> u16 {
        let mut req = self
            .http
            .post(format!("http://{}/api/messages", self.addr))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req.send().await.unwrap().status().as_u16()
    }

    /// POSTs `activity` with a valid token for its service URL.
    async fn post(&self, activity: &Value) -> u16 {
        let claims = wire::claims(APP_ID, activity["serviceUrl"].as_str().unwrap());
        let token = format!("Bearer {}", wire::sign(&claims, "key1"));
        self.post_raw(Some(token), serde_json::to_vec(activity).unwrap())
            .await
    }

    /// Alice (or `who`) says `text` at `place`; returns the activity.
    async fn say(&self, place: &Place, who: &wire::Person, text: &str) -> Value {
        let a = wire::message(place, who, text, &self.fake.service_url());
        assert_eq!(self.post(&a).await, 200);
        a
    }
}

/// Everything the card(s) and texts of `calls` say, as one string.
fn said(calls: &[ConnectorCall]) -> String {
    calls
        .iter()
        .map(|c| c.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn forged_tokens_are_refused_before_anything_is_read_and_nothing_is_answered() {
    let t = TeamsApp::start("").await;
    let su = t.fake.service_url();
    let activity = wire::message(&Place::Personal, &ALICE, "whoami", &su);
    let body = serde_json::to_vec(&activity).unwrap();
    let good = wire::claims(APP_ID, &su);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        Some(format!("Bearer {}", wire::sign(&c, "key1")))
    };
    // A rotated-in key that is not endorsed for Teams: fetched once, then 403.
    t.fake.publish_key2();
    t.fake.set_endorsements("key2", &["webchat"]);
    assert_eq!(
        t.post_raw(
            Some(format!("Bearer {}", wire::sign(&good, "key2"))),
            body.clone()
        )
        .await,
        403
    );
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("missing", None, 401),
        ("not bearer", Some("Basic dXNlcjpwYXNz".into()), 401),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("11111111-2222-3333-4444-555555555555")),
            401,
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://sts.windows.net/evil/")),
            401,
        ),
        (
            "expired",
            with(&|c| c["exp"] = json!(wire::now() - 600)),
            401,
        ),
        (
            "unknown key",
            Some(format!("Bearer {}", wire::sign(&good, "key9"))),
            401,
        ),
        (
            "alg none",
            Some(format!("Bearer {}", wire::forged_alg_none(&good))),
            401,
        ),
        (
            "service URL mismatch",
            with(&|c| c["serviceurl"] = json!("https://evil.example/amer/")),
            401,
        ),
    ];
    for (what, auth, want) in cases {
        assert_eq!(t.post_raw(auth, body.clone()).await, want, "{what}");
    }
    // Malformed body with a valid token: 400.
    assert_eq!(
        t.post_raw(
            Some(format!("Bearer {}", wire::sign(&good, "key1"))),
            b"{not json".to_vec()
        )
        .await,
        400
    );
    // Over the body limit with a valid token: 413.
    let mut big = activity.clone();
    big["text"] = json!("x".repeat(2 * 1024 * 1024));
    assert_eq!(
        t.post_raw(
            Some(format!("Bearer {}", wire::sign(&good, "key1"))),
            serde_json::to_vec(&big).unwrap()
        )
        .await,
        413
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        t.fake.calls().is_empty(),
        "nothing answered: {:#?}",
        t.fake.calls()
    );
    // Start-up plus one refetch for the rotated key; the unknown kid right after it is
    // within the cooldown and fetches nothing.
    assert_eq!(t.fake.jwks_fetches(), 2);
    // The real thing is answered.
    assert_eq!(t.post_raw(with(&|_| {}), body).await, 200);
    let sent = t.fake.wait_for("send", 1).await;
    assert_eq!(sent[0].conversation.as_deref(), Some(PERSONAL_ID));
    // Slack is not served.
    assert_eq!(
        t.http
            .post(format!("http://{}/slack/events", t.addr))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn whoami_answers_in_a_personal_chat_and_privately_from_a_channel() {
    let t = TeamsApp::start("").await;
    t.say(&Place::Personal, &ALICE, "whoami").await;
    let sent = t.fake.wait_for("send", 1).await;
    let text = said(&sent);
    assert_eq!(sent[0].conversation.as_deref(), Some(PERSONAL_ID));
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(text.contains("platform-admins"), "{text}");
    assert!(
        text.contains("application/vnd.microsoft.card.adaptive"),
        "{text}"
    );
    // Every connector call carried a token from the tenant's endpoint, fetched once.
    assert!(t.fake.calls().iter().all(|c| c.token.is_some()));
    assert_eq!(t.fake.tokens_issued(), 1);

    // From a channel: the groups go to a personal chat, the thread only gets a notice.
    let before = t.fake.ok_calls("send").len();
    let post = t.say(&Place::ChannelPost, &ALICE, "whoami").await;
    let created = t.fake.wait_for("create", 1).await;
    assert_eq!(created[0].body["members"][0]["id"], ALICE.id);
    assert_eq!(created[0].body["isGroup"], false);
    let sent = t.fake.wait_for("send", before + 2).await;
    let thread = format!("{CHANNEL_ID};messageid={}", post["id"].as_str().unwrap());
    let in_thread: Vec<ConnectorCall> = sent
        .iter()
        .filter(|c| c.conversation.as_deref() == Some(thread.as_str()))
        .cloned()
        .collect();
    assert_eq!(in_thread.len(), 1, "{sent:#?}");
    let notice = said(&in_thread);
    assert!(notice.contains("our chat"), "{notice}");
    assert!(!notice.contains("platform-admins"), "{notice}");
}

#[tokio::test]
async fn a_guest_is_refused_and_told_why() {
    let t = TeamsApp::start("").await;
    t.say(&Place::Personal, &BOB, "accounts").await;
    let sent = t.fake.wait_for("send", 1).await;
    let text = said(&sent);
    assert!(text.to_lowercase().contains("guest"), "{text}");
    assert!(!text.contains("111111111111"), "{text}");
    let lookups = t.fake.ok_calls("member");
    assert_eq!(lookups[0].activity.as_deref(), Some(BOB.id));
}

#[tokio::test]
async fn throttling_expired_tokens_and_bad_commands_still_get_an_answer() {
    let t = TeamsApp::start("").await;
    t.fake.fail_next(2, 429, Some(0), "Throttled");
    t.say(&Place::Personal, &ALICE, "accounts").await;
    let sent = t.fake.wait_for("send", 1).await;
    assert!(said(&sent).contains("production"), "{}", said(&sent));
    let statuses: Vec<u16> = t.fake.calls().iter().map(|c| c.status).collect();
    assert!(statuses.contains(&429), "{statuses:?}");

    // The connector stops accepting the cached token: one refetch, then it works.
    t.fake.revoke_tokens();
    t.fake.fail_next(1, 502, None, "BadGateway");
    t.say(&Place::Personal, &ALICE, "run prod").await;
    let sent = t.fake.wait_for("send", 2).await;
    let help = said(&sent[1..]);
    assert!(
        help.contains("run"),
        "the help, after what was wrong: {help}"
    );
    assert_eq!(t.fake.tokens_issued(), 2);

    // The bot removed from a conversation: logged, nothing else breaks.
    t.fake.fail_next(1, 403, None, "BotNotInConversationRoster");
    t.say(&Place::Personal, &ALICE, "help").await;
    t.say(&Place::Personal, &ALICE, "help").await;
    t.fake.wait_for("send", 3).await;
}

#[tokio::test]
async fn the_same_activity_delivered_twice_is_answered_once() {
    let t = TeamsApp::start("").await;
    let a = t.say(&Place::Personal, &ALICE, "accounts").await;
    assert_eq!(t.post(&a).await, 200);
    t.fake.wait_for("send", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(t.fake.ok_calls("send").len(), 1);
}

#[tokio::test]
async fn activities_from_another_channel_or_tenant_are_refused_unanswered() {
    let t = TeamsApp::start("").await;
    let su = t.fake.service_url();
    let mut webchat = wire::message(&Place::Personal, &ALICE, "whoami", &su);
    webchat["channelId"] = json!("webchat");
    let mut other_tenant = wire::message(&Place::Personal, &ALICE, "whoami", &su);
    other_tenant["conversation"]["tenantId"] = json!("11111111-2222-3333-4444-555555555555");
    other_tenant["channelData"]["tenant"]["id"] = json!("11111111-2222-3333-4444-555555555555");
    let mut mixed = wire::message(&Place::Personal, &ALICE, "whoami", &su);
    mixed["channelData"]["tenant"]["id"] = json!("11111111-2222-3333-4444-555555555555");
    let mut no_tenant = wire::message(&Place::Personal, &ALICE, "whoami", &su);
    no_tenant["conversation"]
        .as_object_mut()
        .unwrap()
        .remove("tenantId");
    no_tenant["channelData"]
        .as_object_mut()
        .unwrap()
        .remove("tenant");
    // A signing key endorsed for webchat too, so only the origin check refuses that one.
    t.fake.publish_key2();
    t.fake.set_endorsements("key2", &["msteams", "webchat"]);
    for a in [&webchat, &other_tenant, &mixed, &no_tenant] {
        let token = wire::sign(&wire::claims(APP_ID, &su), "key2");
        let status = t
            .post_raw(
                Some(format!("Bearer {token}")),
                serde_json::to_vec(a).unwrap(),
            )
            .await;
        assert_eq!(
            status, 200,
            "acknowledged, so the connector does not retry: {a}"
        );
    }
    // Refused before anything was enqueued or remembered: the next real message is the
    // only one answered, and its member lookup the only one made.
    t.say(&Place::Personal, &ALICE, "whoami").await;
    let sent = t.fake.wait_for("send", 1).await;
    assert_eq!(t.fake.ok_calls("send").len(), 1, "{sent:#?}");
    assert_eq!(t.fake.ok_calls("member").len(), 1);
    let metrics = t
        .http
        .get(format!("http://{}/metrics", t.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("opsbot_errors_total{kind=\"teams_other_tenant\"} 3")
            && metrics.contains("opsbot_errors_total{kind=\"teams_other_channel\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_member_lookup_naming_another_object_id_is_refused() {
    let t = TeamsApp::start("").await;
    // The connector answers Alice's Teams id with someone else's object id.
    let mut other = wire::member(&ALICE, false);
    other["aadObjectId"] = json!("0ddba11a-0000-4000-8000-00000000000f");
    other["objectId"] = json!("0ddba11a-0000-4000-8000-00000000000f");
    t.fake.seed_member(other);
    t.say(&Place::Personal, &ALICE, "accounts").await;
    let sent = t.fake.wait_for("send", 1).await;
    let text = said(&sent);
    assert!(text.contains("couldn't confirm who you are"), "{text}");
    for leak in [
        "production",
        "111111111111",
        "platform-admins",
        "alice@example.com",
    ] {
        assert!(!text.contains(leak), "{leak}: {text}");
    }
    // Without any object id in the lookup: refused the same way.
    let t = TeamsApp::start("").await;
    let mut none = wire::member(&ALICE, false);
    none.as_object_mut().unwrap().remove("aadObjectId");
    none.as_object_mut().unwrap().remove("objectId");
    t.fake.seed_member(none);
    t.say(&Place::Personal, &ALICE, "accounts").await;
    let text = said(&t.fake.wait_for("send", 1).await);
    assert!(text.contains("couldn't confirm who you are"), "{text}");
}
