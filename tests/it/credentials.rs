//! The credential pool against moto's STS (through a counting proxy): attribution in
//! GetCallerIdentity, single-flight, typed failure of one account, and `opsbot check --aws`.

use crate::aws::moto;
use crate::sts_proxy::StsProxy;
use opsbot::accounts::{Registry, Settings};
use opsbot::aws::pool::{CredentialPool, PoolSettings};
use opsbot::aws::principal::Principal;
use opsbot::aws::sts::{SdkSts, StsError};
use opsbot::metrics::Metrics;
use std::process::Command;
use std::sync::Arc;

const REGISTRY: &str = r#"
[[accounts]]
id = "210000000001"
name = "prod"
[[accounts]]
id = "210000000002"
name = "staging"
[[accounts]]
id = "210000000003"
name = "data"
role_name = "opsbot-data-ro"
[[accounts]]
id = "210000000004"
name = "legacy"
role_name = "broken-role"
"#;

fn registry() -> Registry {
    Registry::parse(REGISTRY, "accounts.toml", &Settings::default()).unwrap()
}

fn sts_client(endpoint: &str, creds: aws_sdk_sts::config::Credentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build(),
    )
}

/// A pool whose STS calls go through `proxy` to moto.
fn pool_via(proxy: &StsProxy) -> CredentialPool {
    CredentialPool::new(
        Arc::new(SdkSts::new(sts_client(&proxy.url(), base()))),
        PoolSettings::default(),
        Metrics::new(),
    )
}

fn base() -> aws_sdk_sts::config::Credentials {
    aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "test")
}

fn person(id: &str, handle: &str) -> Principal {
    Principal::Person {
        user: opsbot::core::inbound::ChatUser {
            platform: opsbot::core::inbound::Platform::Slack,
            id: id.into(),
            team: Some("T0TEST".into()),
        },
        handle: Some(handle.into()),
        email: Some(format!("{handle}@example.com")),
    }
}

#[tokio::test]
async fn each_person_is_named_in_each_account() {
    let proxy = StsProxy::start(&moto()).await;
    let pool = pool_via(&proxy);
    let reg = registry();
    for who in [person("U0ANA0001", "ana"), person("U0BO00002", "bo")] {
        for account in reg.all().iter().filter(|a| a.name != "legacy") {
            let c = pool.get(&who, account).await.unwrap();
            let as_them = sts_client(
                &moto(),
                aws_sdk_sts::config::Credentials::new(
                    c.access_key_id.clone(),
                    c.secret_access_key.expose(),
                    Some(c.session_token.expose().into()),
                    None,
                    "pool",
                ),
            );
            let id = as_them.get_caller_identity().send().await.unwrap();
            assert_eq!(id.account(), Some(account.id.as_str()));
            let role = account.role_arn.rsplit('/').next().unwrap();
            assert_eq!(
                id.arn().unwrap(),
                format!(
                    "arn:aws:sts::{}:assumed-role/{role}/{}",
                    account.id,
                    who.session_name()
                )
            );
        }
    }
    let calls = proxy.assume_role_calls();
    assert_eq!(calls.len(), 6);
    let ana = calls
        .iter()
        .find(|c| c["RoleSessionName"] == "opsbot-ana-U0ANA0001")
        .unwrap();
    assert_eq!(ana["SourceIdentity"], "ana@example.com");
    let tags: Vec<(&str, &str)> = (1..=3)
        .filter_map(|i| {
            Some((
                ana.get(&format!("Tags.member.{i}.Key"))?.as_str(),
                ana.get(&format!("Tags.member.{i}.Value"))?.as_str(),
            ))
        })
        .collect();
    assert!(
        tags.contains(&("slack-user-id", "U0ANA0001"))
            && tags.contains(&("slack-team-id", "T0TEST")),
        "{tags:?}"
    );
}

#[tokio::test]
async fn hundred_concurrent_asks_cost_one_sts_call() {
    let proxy = StsProxy::start(&moto()).await;
    let pool = pool_via(&proxy);
    let reg = registry();
    let prod = reg.lookup("prod").unwrap().clone();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (pool, prod) = (pool.clone(), prod.clone());
            tokio::spawn(async move {
                pool.get(&person("U0CHE0003", "chen"), &prod)
                    .await
                    .unwrap()
                    .access_key_id
            })
        })
        .collect();
    let keys: Vec<String> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] == w[1]),
        "everyone got the same session"
    );
    assert_eq!(proxy.assume_role_calls().len(), 1);
    pool.get(&person("U0DEE0004", "dee"), &prod).await.unwrap();
    assert_eq!(
        proxy.assume_role_calls().len(),
        2,
        "a second person costs a second call"
    );
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_fails_alone() {
    let proxy = StsProxy::start(&moto()).await;
    let pool = pool_via(&proxy);
    let reg = registry();
    let who = person("U0EVE0005", "eve");
    let results = futures_util::future::join_all(reg.all().iter().map(|a| pool.get(&who, a))).await;
    let failed: Vec<_> = reg
        .all()
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_err())
        .map(|(a, r)| (a.name.clone(), r.clone().unwrap_err()))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "legacy");
    assert!(
        matches!(&failed[0].1, StsError::AccessDenied { role } if role.ends_with("role/broken-role"))
    );
}

#[test]
fn check_aws_prints_a_table_and_fails_on_the_broken_account() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(StsProxy::start(&moto()));
    let dir = std::env::temp_dir().join(format!("opsbot-it-{}-checkaws", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("accounts.toml"), REGISTRY).unwrap();
    std::fs::write(
        dir.join("opsbot.toml"),
        "[accounts]\nfile = \"accounts.toml\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["check", "--aws", "--config"])
        .arg(dir.join("opsbot.toml"))
        .env("SLACK_BOT_TOKEN", "x")
        .env("SLACK_SIGNING_SECRET", "y")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_STS", proxy.url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("arn:aws:sts::210000000001:assumed-role/opsbot-readonly/opsbot-check"),
        "{stdout}"
    );
    let legacy = stdout.lines().find(|l| l.starts_with("legacy")).unwrap();
    assert!(
        legacy.contains("ERROR") && legacy.contains("iam/member-role.yaml"),
        "{legacy}"
    );
    drop(rt);
}
