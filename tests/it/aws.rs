//! AWS-backed pieces against moto server (started by scripts/test): Identity Center groups and
//! Organizations discovery.

use opsbot::accounts::discover::{self, AccountBook};
use opsbot::accounts::{Registry, Settings, Source};
use opsbot::identity::identity_center::IdentityCenter;
use opsbot::identity::{GroupDirectory, Person};

pub use crate::peers::moto;

macro_rules! client {
    ($krate:ident) => {{
        let conf = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-east-1"))
            .endpoint_url(moto())
            .credentials_provider($krate::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        $krate::Client::from_conf(conf)
    }};
}

#[tokio::test]
async fn identity_center_groups_by_email() {
    use aws_sdk_identitystore::types::{Email, MemberId, Name};
    let ids = client!(aws_sdk_identitystore);
    let store = "d-9067000001";
    let user = ids
        .create_user()
        .identity_store_id(store)
        .user_name("ana")
        .display_name("Ana")
        .name(
            Name::builder()
                .given_name("Ana")
                .family_name("Lopez")
                .build(),
        )
        .emails(
            Email::builder()
                .value("ana@example.com")
                .primary(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for group in ["platform-admins", "oncall"] {
        let g = ids
            .create_group()
            .identity_store_id(store)
            .display_name(group)
            .send()
            .await
            .unwrap();
        ids.create_group_membership()
            .identity_store_id(store)
            .group_id(g.group_id())
            .member_id(MemberId::UserId(user.user_id().to_string()))
            .send()
            .await
            .unwrap();
    }
    ids.create_group()
        .identity_store_id(store)
        .display_name("not-mine")
        .send()
        .await
        .unwrap();

    let provider = IdentityCenter::new(ids, store);
    let person = |email: &str| {
        Person::member(
            opsbot::core::inbound::ChatUser::new(opsbot::core::inbound::Platform::Slack, "U1"),
            Some(email.into()),
        )
    };
    let groups = provider.groups(&person("ana@example.com")).await.unwrap();
    let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["oncall", "platform-admins"]);
    assert!(
        groups
            .iter()
            .all(|g| g.key.starts_with("identity_center:") && g.key != "identity_center:oncall"),
        "keyed by GroupId, not name: {groups:?}"
    );
    assert!(
        provider
            .groups(&person("nobody@example.com"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn organizations_discovery_merges_with_the_file() {
    use aws_sdk_organizations::types::{OrganizationFeatureSet, Tag};
    let org = client!(aws_sdk_organizations);
    if org.describe_organization().send().await.is_err() {
        org.create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap();
    }
    let mut created = Vec::new();
    for (name, env) in [
        ("Data Lake Prod", "production"),
        ("QA One", "qa"),
        ("Old Sandbox", "dev"),
    ] {
        let r = org
            .create_account()
            .account_name(name)
            .email(format!(
                "{}@example.com",
                name.replace(' ', ".").to_lowercase()
            ))
            .tags(
                Tag::builder()
                    .key("environment")
                    .value(env)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        created.push(
            r.create_account_status()
                .unwrap()
                .account_id()
                .unwrap()
                .to_string(),
        );
    }
    org.close_account()
        .account_id(&created[2])
        .send()
        .await
        .unwrap();

    let file = Registry::parse(
        &format!(
            "[[accounts]]\nid = \"{}\"\nname = \"qa\"\naliases = [\"quality\"]\n",
            created[1]
        ),
        "accounts.toml",
        &Settings::default(),
    )
    .unwrap();
    let book = AccountBook::new(file);
    let listed = discover::list(&org).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a.id == created[0] && a.tags["environment"] == "production")
    );
    book.refresh(&org, &Settings::default()).await.unwrap();
    let reg = book.current();
    let lake = reg.get(&created[0]).expect("discovered account added");
    assert_eq!(
        (lake.name.as_str(), lake.environment.as_deref(), lake.source),
        ("data-lake-prod", Some("production"), Source::Organizations)
    );
    let qa = reg.get(&created[1]).unwrap();
    assert_eq!(
        (qa.name.as_str(), qa.source),
        ("qa", Source::File),
        "the file wins on names"
    );
    assert_eq!(
        qa.tags["environment"], "qa",
        "tags from Organizations fill in"
    );
    assert!(
        reg.get(&created[2]).is_none(),
        "closed/suspended accounts are skipped"
    );
}
