//! Trust end to end: group names cannot be squatted (Slack user groups, Entra groups),
//! qualified grants work, old bare-name policies keep working for the static file and say
//! what to write, strangers (Slack Connect) and guests are refused without being told any
//! account they cannot query, and a hanging identity provider gives a refusal, not silence.

use crate::access::{answer, app, listed};
use crate::fake_idp::{ENTRA_SECRET, FakeIdp};
use crate::helpers::*;
use opsbot::config::Secret;
use opsbot::identity::entra::{Entra, EntraSettings};
use opsbot::identity::{Group, GroupDirectory, IdentityError, Person};
use serde_json::json;
use std::sync::Arc;

/// Every account's name and id in tests/fixtures/accounts.toml.
const ACCOUNTS: &[&str] = &[
    "production",
    "111111111111",
    "staging",
    "222222222222",
    "sandbox",
    "333333333333",
];

fn assert_names_no_account(text: &str, allowed: &[&str]) {
    for a in ACCOUNTS.iter().filter(|a| !allowed.contains(a)) {
        assert!(!text.contains(a), "{a} named: {text}");
    }
}

fn tmp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("opsbot-trust-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `[accounts]` and `[identity]` with `policy` as the access file and tests/fixtures' groups.
fn sections(name: &str, policy: &str, identity: &str) -> String {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let dir = tmp_dir(name);
    std::fs::write(dir.join("access.toml"), policy).unwrap();
    format!(
        "[accounts]\nfile = \"{fixtures}/accounts.toml\"\naccess_file = \"{}/access.toml\"\n\
         [identity]\nstatic_file = \"{fixtures}/groups.toml\"\nhelp_contact = \"#platform\"\n{identity}",
        dir.display()
    )
}

/// Grants an old policy might have, a schedule's grant, and qualified grants.
const SQUAT_POLICY: &str = r#"
[[grant]]
group = "platform-admins"
accounts = ["*"]

[[grant]]
group = "schedule:weekly-prod"
accounts = ["*"]

[[grant]]
group = "slack:S00000001"
accounts = ["staging"]

[[grant]]
group = "entra:00000002-aaaa-bbbb-cccc-000000000000"
accounts = ["sandbox"]

[channels]
dm = ["*"]
default = ["*"]
"#;

#[tokio::test]
async fn a_squatted_slack_user_group_grants_nothing_and_a_qualified_grant_works() {
    let app = TestApp::start_raw(&sections(
        "slack-squat",
        SQUAT_POLICY,
        "providers = [\"static\", \"slack_usergroups\"]\n",
    ))
    .await;
    // U7 is in no static group; someone created user groups with the grants' names.
    app.slack.set_usergroups(&[
        ("platform-admins", &["U7"]),
        ("oncall", &["U7"]),
        ("weekly-prod", &["U7"]),
    ]);
    let text = answer(&app, "whoami", "U7", "D0DM").await;
    assert!(
        text.contains("staging (222222222222)")
            && text.contains("granted by oncall (`slack:S00000001`)"),
        "the qualified grant works: {text}"
    );
    assert_names_no_account(&text, &["staging", "222222222222"]);
    assert!(
        text.contains("platform-admins — `slack:S00000000` (Slack user groups)"),
        "whoami shows the key: {text}"
    );
    assert!(
        text.contains("`group = \"slack:S00000000\"`"),
        "the migration hint names the key to write: {text}"
    );
    // The static file still satisfies the bare grant.
    let u1 = answer(&app, "accounts", "U1", "D0DM").await;
    assert_eq!(listed(&u1), ["production", "sandbox", "staging"], "{u1}");
}

#[tokio::test]
async fn squatted_entra_group_names_grant_nothing_and_object_ids_do() {
    let idp = FakeIdp::start(
        &[(
            "u7@example.com",
            &["platform-admins", "schedule:weekly-prod", "finops"],
        )],
        10,
    )
    .await;
    let entra = Entra::new(
        reqwest::Client::new(),
        EntraSettings {
            tenant_id: "contoso-tenant".into(),
            client_id: "app-id".into(),
            client_secret: Secret::new(ENTRA_SECRET),
            graph_url: idp.url(),
            login_url: idp.url(),
        },
    );
    let app = TestApp::start_custom(
        &sections("entra-squat", SQUAT_POLICY, "providers = [\"static\"]\n"),
        "",
        move |b| b.groups(vec![Arc::new(entra)]),
    )
    .await;
    let text = answer(&app, "whoami", "U7", "D0DM").await;
    assert!(
        text.contains("sandbox (333333333333)")
            && text.contains("granted by finops (`entra:00000002-aaaa-bbbb-cccc-000000000000`)"),
        "only the group granted by object id: {text}"
    );
    assert_names_no_account(&text, &["sandbox", "333333333333"]);
    assert!(
        text.contains("schedule:weekly-prod — `entra:00000001-aaaa-bbbb-cccc-000000000000`"),
        "a group literally named schedule:weekly-prod is just an Entra group: {text}"
    );
    assert!(
        text.contains("`group = \"entra:00000000-aaaa-bbbb-cccc-000000000000\"`"),
        "{text}"
    );
}

#[tokio::test]
async fn old_bare_name_policies_still_work_for_the_static_file_and_check_says_how_to_migrate() {
    let app = app().await;
    let u1 = answer(&app, "accounts", "U1", "C0OPS").await;
    assert_eq!(listed(&u1), ["production", "sandbox", "staging"], "{u1}");
    let who = answer(&app, "whoami", "U1", "C0OPS").await;
    assert!(
        who.contains("granted by platform-admins (`static:platform-admins`)"),
        "{who}"
    );

    let dir = tmp_dir("check");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let config = dir.join("opsbot.toml");
    std::fs::write(
        &config,
        format!(
            "[accounts]\nfile = \"{fixtures}/accounts.toml\"\naccess_file = \"{fixtures}/access.toml\"\n\
             [identity]\nproviders = [\"static\", \"slack_usergroups\"]\nstatic_file = \"{fixtures}/groups.toml\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["check", "--config"])
        .arg(&config)
        .env("SLACK_BOT_TOKEN", "xoxb-1")
        .env("SLACK_SIGNING_SECRET", "s")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "platform-admins, developers, contractors",
        "matches only the static groups file",
        "slack:S…",
        "Migrating bare group names",
    ] {
        assert!(stdout.contains(needle), "missing {needle}: {stdout}");
    }
}

/// A Slack Connect user of another workspace whose organisation gives them U1's email.
fn stranger(app: &TestApp, id: &str, team: &str) {
    app.slack.set_user(
        id,
        json!({"team_id": team, "is_stranger": true,
            "profile": {"email": "u1@example.com", "team": team, "real_name": "Mallory",
                "display_name": "mallory"}}),
    );
}

#[tokio::test]
async fn a_slack_connect_stranger_carrying_a_members_email_is_refused_and_told_nothing() {
    let app = app().await;
    stranger(&app, "UEXT00001", "T0OTHER");
    for sub in ["whoami", "accounts", "accounts prod"] {
        let text = answer(&app, sub, "UEXT00001", "C0OPS").await;
        assert!(text.contains("another organisation"), "{sub}: {text}");
        assert_names_no_account(&text, &[]);
        assert!(
            !text.contains("platform-admins"),
            "{sub}: not U1's groups: {text}"
        );
        assert!(!text.contains("u1@example.com"), "{sub}: {text}");
    }
}

#[tokio::test]
async fn a_trusted_teams_member_is_ours() {
    let app = TestApp::start("trusted_teams = [\"T0PARTNER\"]\n").await;
    app.slack.set_user(
        "UPARTNER1",
        json!({"team_id": "T0PARTNER", "is_stranger": true,
            "profile": {"email": "u2@example.com", "team": "T0PARTNER", "real_name": "Pat",
                "display_name": "pat"}}),
    );
    let text = answer(&app, "accounts", "UPARTNER1", "C0OPS").await;
    assert_eq!(listed(&text), ["sandbox", "staging"], "{text}");
}

#[tokio::test]
async fn a_guests_whoami_and_refusal_name_no_account_they_cannot_query() {
    let app = app().await;
    // UGUEST00001: platform-admins (members only) and contractors (sandbox, guests = true).
    let who = answer(&app, "whoami", "UGUEST00001", "C0OPS").await;
    assert!(
        who.contains("**guest**") || who.contains("*guest*"),
        "{who}"
    );
    assert!(who.contains("sandbox (333333333333)"), "{who}");
    assert_names_no_account(&who, &["sandbox", "333333333333"]);
    assert!(!who.contains("Guardrail"), "{who}");
    let refusal = answer(&app, "accounts", "UGUEST00001", "C0RANDOM").await;
    assert!(
        refusal.contains("You may not query any AWS account here"),
        "{refusal}"
    );
    assert!(
        refusal.contains("guest") && refusal.contains("#platform"),
        "{refusal}"
    );
    assert_names_no_account(&refusal, &[]);
    assert!(!refusal.contains("channels without"), "{refusal}");
}

/// A group provider that never answers.
struct Hanging;

#[async_trait::async_trait]
impl GroupDirectory for Hanging {
    fn name(&self) -> &'static str {
        "Okta"
    }
    async fn groups(&self, _: &Person) -> Result<Vec<Group>, IdentityError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_hanging_identity_provider_or_profile_lookup_gives_a_refusal_not_silence() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let sections = format!(
        "[accounts]\nfile = \"{fixtures}/accounts.toml\"\naccess_file = \"{fixtures}/access.toml\"\n\
         [identity]\nproviders = [\"static\"]\nstatic_file = \"{fixtures}/groups.toml\"\n\
         help_contact = \"#platform\"\ntimeout_seconds = 1\n"
    );
    let app = TestApp::start_custom(&sections, "", |b| b.groups(vec![Arc::new(Hanging)])).await;
    let text = answer(&app, "accounts", "U1", "C0OPS").await;
    assert!(
        text.contains("couldn't read your groups from Okta") && text.contains("#platform"),
        "{text}"
    );
    app.slack
        .delay("users.info", std::time::Duration::from_secs(30));
    let text = answer(&app, "whoami", "U2", "C0OPS").await;
    assert!(text.contains("couldn't read your profile"), "{text}");
}
