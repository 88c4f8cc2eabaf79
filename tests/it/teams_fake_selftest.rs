//! The fake Bot Framework itself behaves: tokens, connector auth and routes, scripted
//! failures, key publication; and a token `teams_wire` signs validates with the crate's
//! [`Validator`] against the fake's metadata (the fake and `chat::teams::jwt` agree).

use crate::fake_teams::{FakeTeams, SCOPE};
use crate::teams_wire::{
    self as wire, ALICE, APP_ID, BOB, CHANNEL_ID, CLIENT_SECRET, Place, TENANT_ID,
};
use opsbot::chat::teams::jwt::{JwtError, Validator};
use serde_json::{Value, json};
use std::time::Duration;

async fn token(
    http: &reqwest::Client,
    fake: &FakeTeams,
    secret: &str,
    scope: &str,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/{TENANT_ID}/oauth2/v2.0/token", fake.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[tokio::test]
async fn fake_teams_issues_tokens_and_guards_the_connector() {
    opsbot::install_crypto();
    let fake = FakeTeams::start().await;
    let http = reqwest::Client::new();
    let (status, t1) = token(&http, &fake, CLIENT_SECRET, SCOPE).await;
    assert_eq!(status, 200);
    assert_eq!(
        (t1["token_type"].as_str(), t1["expires_in"].as_u64()),
        (Some("Bearer"), Some(3599))
    );
    let (_, t2) = token(&http, &fake, CLIENT_SECRET, SCOPE).await;
    assert_ne!(t1["access_token"], t2["access_token"]);
    let (status, err) = token(&http, &fake, "wrong", SCOPE).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, err) = token(&http, &fake, CLIENT_SECRET, "https://graph.microsoft.com/x").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert_eq!((fake.tokens_issued(), fake.token_requests().len()), (2, 4));

    let bearer = format!("Bearer {}", t2["access_token"].as_str().unwrap());
    let thread = format!("{CHANNEL_ID};messageid=1700000000001");
    let activities = format!(
        "{}v3/conversations/{}/activities",
        fake.service_url(),
        enc(&thread)
    );
    let post = |url: String, auth: Option<&str>| {
        let mut r = http
            .post(url)
            .json(&json!({"type": "message", "text": "hi"}));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = post(activities.clone(), None).await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");
    let r = post(activities.clone(), Some(&bearer)).await.unwrap();
    assert_eq!(r.status(), 201);
    let sent: Value = r.json().await.unwrap();
    let reply = post(
        format!("{activities}/{}", sent["id"].as_str().unwrap()),
        Some(&bearer),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 201);
    let calls = fake.ok_calls("send");
    assert_eq!(calls[0].conversation.as_deref(), Some(thread.as_str()));
    assert!(
        calls[0].path.contains("%3Bmessageid%3D"),
        "{}",
        calls[0].path
    );
    assert_eq!(
        fake.ok_calls("reply")[0].activity,
        sent["id"].as_str().map(String::from)
    );

    fake.fail_next(1, 429, Some(2), "Throttled");
    let r = post(activities.clone(), Some(&bearer)).await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "2")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Throttled");

    let create = format!("{}v3/conversations", fake.service_url());
    let r = http
        .post(&create)
        .header("authorization", &bearer)
        .json(
            &json!({"isGroup": true, "channelData": {"channel": {"id": CHANNEL_ID}},
            "activity": {"type": "message", "text": "report"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    let id = made["id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{CHANNEL_ID};messageid=")),
        "{made}"
    );
    assert!(id.ends_with(made["activityId"].as_str().unwrap()));
    let r = http
        .post(&create)
        .header("authorization", &bearer)
        .json(
            &json!({"bot": {"id": format!("28:{APP_ID}")}, "members": [{"id": ALICE.id}],
            "channelData": {"tenant": {"id": TENANT_ID}}}),
        )
        .send()
        .await
        .unwrap();
    let made: Value = r.json().await.unwrap();
    assert!(made["id"].as_str().unwrap().starts_with("a:"), "{made}");

    fake.seed_member(wire::member(&BOB, true));
    let members = format!(
        "{}v3/conversations/{}/members/",
        fake.service_url(),
        enc(&thread)
    );
    let get = |m: &str| {
        http.get(format!("{members}{}", enc(m)))
            .header("authorization", &bearer)
            .send()
    };
    let m: Value = get(BOB.aad).await.unwrap().json().await.unwrap();
    assert_eq!(
        (m["id"].as_str(), m["userRole"].as_str()),
        (Some(BOB.id), Some("guest"))
    );
    let r = get(ALICE.id).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MemberNotFoundInConversation");

    fake.revoke_tokens();
    let r = post(activities, Some(&bearer)).await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn fake_teams_keys_validate_with_the_crate_validator() {
    opsbot::install_crypto();
    let fake = FakeTeams::start().await;
    let v = Validator::new(
        reqwest::Client::new(),
        fake.openid_url(),
        APP_ID.into(),
        Duration::from_secs(60),
    );
    assert_eq!(v.warm().await.unwrap(), 1);
    assert_eq!((fake.openid_fetches(), fake.jwks_fetches()), (1, 1));
    let activity = wire::message(&Place::ChannelPost, &ALICE, "who am i", &fake.service_url());
    assert!(
        activity["conversation"]["id"]
            .as_str()
            .unwrap()
            .ends_with(activity["id"].as_str().unwrap())
    );
    assert_eq!(activity["text"], "<at>opsbot</at> who am i");
    let claims = wire::claims(APP_ID, &fake.service_url());
    let now = wire::now();
    let ok = v
        .validate(
            Some(&format!("Bearer {}", wire::sign(&claims, "key1"))),
            now,
        )
        .await
        .unwrap();
    let service_url = activity["serviceUrl"].as_str().unwrap();
    ok.check_activity(service_url, activity["channelId"].as_str().unwrap())
        .unwrap();
    let forged = format!("Bearer {}", wire::forged_alg_none(&claims));
    assert!(matches!(
        v.validate(Some(&forged), now).await,
        Err(JwtError::Algorithm(_))
    ));
    // Rotation: key2 appears; one refetch picks it up.
    fake.publish_key2();
    fake.set_endorsements("key2", &["webchat"]);
    let ok = v
        .validate(
            Some(&format!("Bearer {}", wire::sign(&claims, "key2"))),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        ok.check_activity(service_url, "msteams")
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!((fake.jwks_fetches(), v.fetches()), (2, 2));
}
