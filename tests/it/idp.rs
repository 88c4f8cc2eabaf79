//! Group providers against wire-exact fakes: Okta and Microsoft Graph, with paging, rate
//! limits and outages (which must fail, never return a partial list).

use crate::fake_idp::*;
use opsbot::config::Secret;
use opsbot::identity::entra::{Entra, EntraSettings};
use opsbot::identity::okta::Okta;
use opsbot::identity::{Group, GroupDirectory, IdentityError, Person};

fn person(email: &str) -> Person {
    Person::member(
        opsbot::core::inbound::ChatUser::new(opsbot::core::inbound::Platform::Slack, "U1"),
        Some(email.into()),
    )
}

const GROUPS: &[&str] = &["Everyone", "platform-admins", "oncall", "data", "finops"];

fn names(groups: &[Group]) -> Vec<&str> {
    groups.iter().map(|g| g.name.as_str()).collect()
}

fn keys(groups: &[Group]) -> Vec<&str> {
    groups.iter().map(|g| g.key.as_str()).collect()
}

#[tokio::test]
async fn okta_follows_link_pages_and_waits_out_429() {
    let idp = FakeIdp::start(&[("ana@example.com", GROUPS)], 2).await;
    idp.fail_with(&[429]);
    let okta = Okta::new(reqwest::Client::new(), &idp.url(), Secret::new(OKTA_TOKEN));
    let groups = okta.groups(&person("ana@example.com")).await.unwrap();
    assert_eq!(names(&groups), GROUPS);
    assert_eq!(
        keys(&groups),
        [
            "okta:00g0",
            "okta:00g1",
            "okta:00g2",
            "okta:00g3",
            "okta:00g4"
        ],
        "keyed by the Okta group id, never the name"
    );
    let reqs = idp.requests();
    assert_eq!(reqs.len(), 4, "one 429 then three pages: {reqs:?}");
    assert!(
        reqs.iter()
            .all(|(_, auth)| auth == &format!("SSWS {OKTA_TOKEN}"))
    );
    assert!(
        okta.groups(&person("nobody@example.com"))
            .await
            .unwrap()
            .is_empty(),
        "unknown user has no groups"
    );
}

#[tokio::test]
async fn okta_outage_or_bad_token_fails_closed() {
    let idp = FakeIdp::start(&[("ana@example.com", GROUPS)], 2).await;
    idp.fail_with(&[500]);
    let okta = Okta::new(reqwest::Client::new(), &idp.url(), Secret::new(OKTA_TOKEN));
    let e = okta.groups(&person("ana@example.com")).await.unwrap_err();
    assert!(
        matches!(
            e,
            IdentityError::Provider {
                provider: "Okta",
                ..
            }
        ),
        "{e:?}"
    );
    let wrong = Okta::new(reqwest::Client::new(), &idp.url(), Secret::new("nope"));
    assert!(wrong.groups(&person("ana@example.com")).await.is_err());
    let down = Okta::new(
        reqwest::Client::new(),
        "http://127.0.0.1:9",
        Secret::new(OKTA_TOKEN),
    );
    assert!(down.groups(&person("ana@example.com")).await.is_err());
}

fn entra(idp: &FakeIdp, secret: &str) -> Entra {
    Entra::new(
        reqwest::Client::new(),
        EntraSettings {
            tenant_id: "contoso-tenant".into(),
            client_id: "app-id".into(),
            client_secret: Secret::new(secret),
            graph_url: idp.url(),
            login_url: idp.url(),
        },
    )
}

#[tokio::test]
async fn entra_pages_with_next_link_and_reuses_its_token() {
    let idp = FakeIdp::start(
        &[("ana@example.com", GROUPS), ("bo@example.com", &["data"])],
        2,
    )
    .await;
    let e = entra(&idp, ENTRA_SECRET);
    let ana = e.groups(&person("ana@example.com")).await.unwrap();
    assert_eq!(names(&ana), GROUPS);
    let bo = e.groups(&person("bo@example.com")).await.unwrap();
    assert_eq!(names(&bo), ["data"]);
    assert_eq!(
        keys(&bo),
        ["entra:00000000-aaaa-bbbb-cccc-000000000000"],
        "keyed by object id, never the display name"
    );
    assert_eq!(idp.tokens_issued(), 1, "token cached across lookups");
    assert!(
        e.groups(&person("nobody@example.com"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn entra_throttling_is_retried_and_persistent_failure_fails_closed() {
    let idp = FakeIdp::start(&[("ana@example.com", GROUPS)], 10).await;
    let e = entra(&idp, ENTRA_SECRET);
    e.groups(&person("ana@example.com")).await.unwrap();
    idp.fail_with(&[429]);
    assert_eq!(
        e.groups(&person("ana@example.com")).await.unwrap().len(),
        5,
        "one 429 is retried"
    );
    idp.fail_with(&[503, 503, 503]);
    assert!(matches!(
        e.groups(&person("ana@example.com")).await,
        Err(IdentityError::Provider {
            provider: "Microsoft Entra ID",
            ..
        })
    ));
    let bad = entra(&idp, "wrong");
    assert!(
        bad.groups(&person("ana@example.com")).await.is_err(),
        "bad secret fails closed"
    );
}
