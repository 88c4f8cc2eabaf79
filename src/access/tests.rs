use super::*;
use crate::accounts::tests::sample;
use crate::core::answer::Answer;
use crate::core::inbound::{PlaceKind, Platform};
use crate::identity::static_file::StaticGroups;
use crate::identity::{Person, Profiles};
use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;

/// Every Slack user exists; `standing` by id prefix: `UDEAD…` deactivated, `UGUEST…` guest.
struct People;

#[async_trait]
impl Profiles for People {
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let mut p = Person::member(
            user.clone(),
            Some(format!("{}@example.com", user.id.to_lowercase())),
        );
        if user.id.starts_with("UDEAD") {
            p.standing = Standing::Deactivated;
        } else if user.id.starts_with("UGUEST") {
            p.standing = Standing::Guest;
        }
        Ok(p)
    }
}

const POLICY: &str = r#"
[[grant]]
group = "admins"
accounts = ["*"]

[[grant]]
group = "contractors"
accounts = ["sandbox"]
guests = true

[channels]
dm = ["*"]
"#;

fn access() -> Access {
    let groups = StaticGroups::parse(
        "[groups]\nadmins = [\"UDEAD00001\", \"UGUEST0001\", \"UADMIN0001\"]\ncontractors = [\"UGUEST0001\"]\n",
        "groups.toml",
    )
    .unwrap();
    let directory = Directory::new(
        HashMap::from([(Platform::Slack, Arc::new(People) as Arc<dyn Profiles>)]),
        vec![Arc::new(groups)],
        Duration::from_secs(60),
    );
    let registry = sample();
    let policy = Policy::parse(POLICY, "access.toml", &registry, &[], false).unwrap();
    Access::new(directory, AccountBook::new(registry), policy, "#platform")
}

fn dm() -> Place {
    Place::new(Platform::Slack, "D0DM", PlaceKind::Dm)
}

fn text(a: &Answer) -> String {
    a.to_markdown()
}

async fn decide(id: &str) -> Authorization {
    access()
        .decide(&ChatUser::new(Platform::Slack, id), &dm())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_member_gets_the_grants_of_their_groups() {
    let auth = decide("UADMIN0001").await;
    assert_eq!(auth.decision.allowed.len(), 4);
    match auth.principal() {
        Principal::Person { user, email, .. } => {
            assert_eq!(user.id, "UADMIN0001");
            assert_eq!(email.as_deref(), Some("uadmin0001@example.com"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_deactivated_person_is_refused_whatever_their_groups() {
    let a = access();
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "UDEAD00001"), &dm())
        .await
        .unwrap();
    assert!(!auth.may_query(), "still in admins, but deactivated");
    assert!(text(&a.refusal(&auth)).contains("deactivated"));
    assert!(text(&a.whoami(&auth)).contains("**deactivated**"));
    assert!(text(&a.accounts(&auth)).contains("deactivated"));
}

#[tokio::test]
async fn a_guest_gets_only_guest_grants_and_whoami_says_why() {
    let a = access();
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "UGUEST0001"), &dm())
        .await
        .unwrap();
    let ids = auth.decision.account_ids();
    assert_eq!(ids, ["444444444444"], "sandbox only, via the guests grant");
    let who = text(&a.whoami(&auth));
    assert!(who.contains("**guest**"), "{who}");
    assert!(who.contains("~~production (111111111111)~~"), "{who}");
    assert!(who.contains("guests = true"), "{who}");
}

#[tokio::test]
async fn refusals_explain_and_never_widen() {
    let a = access();
    let nobody = a
        .decide(&ChatUser::new(Platform::Slack, "UNOBODY01"), &dm())
        .await
        .unwrap();
    let r = text(&a.refusal(&nobody));
    assert!(
        r.contains("no group that opsbot knows") && r.contains("ask #platform"),
        "{r}"
    );
    let failure = text(&a.identity_failure(&IdentityError::Provider {
        provider: "Okta",
        detail: "HTTP 503 secret-detail".into(),
    }));
    assert!(
        failure.contains("couldn't read your groups from Okta"),
        "{failure}"
    );
    assert!(!failure.contains("secret-detail"), "details stay in logs");
}
