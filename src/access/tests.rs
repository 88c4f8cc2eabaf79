use super::*;
use crate::accounts::tests::sample;
use crate::core::answer::Answer;
use crate::core::inbound::{PlaceKind, Platform};
use crate::identity::group::Kind;
use crate::identity::static_file::StaticGroups;
use crate::identity::{GroupDirectory, Person, Profiles};
use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;

/// Every Slack user exists; `standing` by id prefix: `UDEAD…` deactivated, `UGUEST…` guest,
/// `UEXT…` a stranger from another organisation carrying the admin's email.
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
        } else if user.id.starts_with("UEXT") {
            p.standing = Standing::Stranger;
            p.email = Some("uadmin0001@example.com".into());
        }
        Ok(p)
    }
}

const POLICY: &str = r##"
[[grant]]
group = "admins"
accounts = ["*"]

[[grant]]
group = "contractors"
accounts = ["sandbox"]
guests = true

[[grant]]
group = "static:partners"
accounts = ["staging"]
strangers = true

[[grant]]
group = "slack:S0ONCALL"
accounts = ["sandbox"]

[[grant]]
group = "schedule:weekly"
accounts = ["production"]

[channels]
dm = ["*"]

[[channel]]
id = "C0DEV"
name = "#dev"
accounts = ["sandbox"]
"##;

/// Slack user groups as a provider: `USQUAT…` is in `S0SQUAT`, a user group someone named
/// `admins` like the bare grant; `UNOBODY…` in none; everyone else in `S0ONCALL` (oncall).
struct SlackGroups;

#[async_trait]
impl GroupDirectory for SlackGroups {
    fn name(&self) -> &'static str {
        Kind::Slack.provider()
    }
    async fn groups(&self, p: &Person) -> Result<Vec<Group>, IdentityError> {
        if p.user.id.starts_with("USQUAT") {
            return Ok(vec![Group::new(Kind::Slack, "S0SQUAT", "admins")]);
        }
        if p.user.id.starts_with("UNOBODY") {
            return Ok(vec![]);
        }
        Ok(vec![Group::new(Kind::Slack, "S0ONCALL", "oncall")])
    }
}

fn access() -> Access {
    let groups = StaticGroups::parse(
        "[groups]\nadmins = [\"UDEAD00001\", \"UGUEST0001\", \"UADMIN0001\", \"uadmin0001@example.com\"]\ncontractors = [\"UGUEST0001\"]\npartners = [\"UEXT000002\"]\n",
        "groups.toml",
    )
    .unwrap();
    let directory = Directory::new(
        HashMap::from([(Platform::Slack, Arc::new(People) as Arc<dyn Profiles>)]),
        vec![Arc::new(groups), Arc::new(SlackGroups)],
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
    assert!(who.contains("guests = true"), "{who}");
    // Changed on purpose: a guest is no longer shown the accounts withheld from them.
    for other in [
        "production",
        "111111111111",
        "staging",
        "222222222222",
        "Guardrail",
    ] {
        assert!(!who.contains(other), "{other} named to a guest: {who}");
    }
    assert!(
        who.contains("account(s) granted to your groups are for members only"),
        "{who}"
    );
}

#[tokio::test]
async fn a_guests_refusal_in_a_channel_names_no_account_nor_the_guardrail() {
    let a = access();
    let dev = Place::new(Platform::Slack, "C0OTHER", PlaceKind::Channel);
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "UGUEST0001"), &dev)
        .await
        .unwrap();
    assert!(!auth.may_query());
    for reply in [a.refusal(&auth), a.whoami(&auth)] {
        let r = text(&reply);
        for other in ["sandbox", "444444444444", "production", "channels without"] {
            assert!(!r.contains(other), "{other}: {r}");
        }
        assert!(r.contains("#platform"), "{r}");
    }
    assert!(text(&a.refusal(&auth)).contains("guest"));
    assert!(!text(&a.refusal_notice()).contains("guest"));
}

#[tokio::test]
async fn a_stranger_carrying_a_members_email_gets_nothing_of_theirs() {
    let a = access();
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "UEXT000001"), &dm())
        .await
        .unwrap();
    assert!(!auth.may_query(), "{:?}", auth.decision);
    assert!(
        !auth.identity.keys().contains(&"static:admins".to_string()),
        "the email-keyed static entry of the admin does not apply: {:?}",
        auth.identity.groups
    );
    match auth.principal() {
        Principal::Person { email, .. } => assert_eq!(email, None, "no borrowed SourceIdentity"),
        other => panic!("{other:?}"),
    }
    for reply in [a.refusal(&auth), a.whoami(&auth), a.accounts(&auth)] {
        let r = text(&reply);
        assert!(r.contains("another organisation"), "{r}");
        for account in [
            "sandbox",
            "production",
            "staging",
            "1111",
            "2222",
            "3333",
            "4444",
        ] {
            assert!(!r.contains(account), "{account}: {r}");
        }
        assert!(!r.contains("uadmin0001@example.com"), "{r}");
    }
    // A grant that says strangers = true, for a group keyed by their own id, applies.
    let partner = a
        .decide(&ChatUser::new(Platform::Slack, "UEXT000002"), &dm())
        .await
        .unwrap();
    assert_eq!(partner.decision.account_ids(), ["222222222222"]);
}

#[tokio::test]
async fn whoami_shows_each_group_with_its_key_and_each_grant_behind_an_account() {
    let a = access();
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "UADMIN0001"), &dm())
        .await
        .unwrap();
    let who = text(&a.whoami(&auth));
    for needle in [
        "**Groups** (the static groups file, Slack user groups): admins, oncall",
        "- admins — `static:admins` (the static groups file)",
        "- oncall — `slack:S0ONCALL` (Slack user groups)",
        "— granted by admins (`static:admins`), oncall (`slack:S0ONCALL`)",
        "_Guardrail: direct messages allow *._",
    ] {
        assert!(who.contains(needle), "missing {needle}:\n{who}");
    }
}

#[tokio::test]
async fn a_group_named_like_a_bare_grant_gets_nothing_and_is_told_what_to_write() {
    let a = access();
    let auth = a
        .decide(&ChatUser::new(Platform::Slack, "USQUAT0001"), &dm())
        .await
        .unwrap();
    assert!(!auth.may_query(), "the squatted user group grants nothing");
    assert_eq!(auth.decision.hints.len(), 1);
    let who = text(&a.whoami(&auth));
    assert!(
        who.contains("Your group **admins** (Slack user groups)")
            && who.contains("`group = \"slack:S0SQUAT\"`"),
        "{who}"
    );
    assert!(text(&a.refusal(&auth)).contains("`whoami` says"));
}

#[tokio::test]
async fn only_the_schedule_itself_carries_its_grant() {
    let a = access();
    let auth = a.for_schedule("weekly", "schedule:weekly", &dm());
    assert_eq!(auth.decision.account_ids(), ["111111111111"]);
    let person = a
        .decide(&ChatUser::new(Platform::Slack, "USCHEDULE"), &dm())
        .await
        .unwrap();
    assert!(
        person
            .identity
            .keys()
            .iter()
            .all(|k| !k.starts_with("schedule:"))
    );
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
