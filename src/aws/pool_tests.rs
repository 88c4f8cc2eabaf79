use super::*;
use crate::accounts::Source;
use async_trait::async_trait;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

/// Fake STS: counts calls, optional delay, fails for roles containing "broken".
struct FakeSts {
    calls: AtomicUsize,
    requests: Mutex<Vec<AssumeRequest>>,
    delay: Duration,
    lifetime: Duration,
}

#[async_trait]
impl Sts for FakeSts {
    async fn assume_role(&self, r: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(r.clone());
        tokio::time::sleep(self.delay).await;
        if r.role_arn.contains("broken") {
            return Err(StsError::AccessDenied {
                role: r.role_arn.clone(),
            });
        }
        Ok(AwsCredentials {
            access_key_id: format!("ASIA{n:04}"),
            secret_access_key: crate::secret::Secret::new("s"),
            session_token: crate::secret::Secret::new("t"),
            expiration: SystemTime::now() + self.lifetime,
        })
    }
}

fn fake(delay_ms: u64) -> Arc<FakeSts> {
    Arc::new(FakeSts {
        calls: AtomicUsize::new(0),
        requests: Mutex::default(),
        delay: Duration::from_millis(delay_ms),
        lifetime: Duration::from_secs(3600),
    })
}

fn account(id: &str, role: &str) -> Account {
    Account {
        id: id.into(),
        name: format!("acct-{id}"),
        aliases: vec![],
        environment: None,
        regions: vec!["us-east-1".into()],
        role_arn: format!("arn:aws:iam::{id}:role/{role}"),
        external_id: Some("ext-1".into()),
        tags: Default::default(),
        source: Source::File,
    }
}

fn person(id: &str) -> Principal {
    Principal::Person {
        user: crate::core::inbound::ChatUser {
            platform: crate::core::inbound::Platform::Slack,
            id: id.into(),
            team: Some("T1".into()),
        },
        handle: Some("ana".into()),
        email: Some("ana@example.com".into()),
    }
}

fn pool(sts: Arc<FakeSts>) -> CredentialPool {
    CredentialPool::new(sts, PoolSettings::default(), Metrics::new())
}

#[tokio::test(start_paused = true)]
async fn concurrent_askers_share_one_sts_call_per_key() {
    let sts = fake(50);
    let p = pool(sts.clone());
    let a = account("111111111111", "ro");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (p, a) = (p.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            p.get(&person("U1"), &a).await.unwrap().access_key_id
        }));
    }
    let keys: Vec<String> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
    assert!(keys.iter().all(|k| k == "ASIA0000"));
    p.get(&person("U2"), &a).await.unwrap();
    assert_eq!(
        sts.calls.load(Ordering::SeqCst),
        2,
        "a second person is a second session"
    );
    let r = &sts.requests.lock().unwrap()[0];
    assert_eq!(
        (
            r.session_name.as_str(),
            r.source_identity.as_str(),
            r.external_id.as_deref()
        ),
        ("opsbot-ana-U1", "ana@example.com", Some("ext-1"))
    );
}

#[tokio::test(start_paused = true)]
async fn refreshes_ahead_of_expiry_then_replaces_expired() {
    let sts = fake(0);
    let p = pool(sts.clone());
    let a = account("111111111111", "ro");
    assert_eq!(
        p.get(&person("U1"), &a).await.unwrap().access_key_id,
        "ASIA0000"
    );
    tokio::time::advance(Duration::from_secs(3600 - 301)).await;
    assert_eq!(
        p.get(&person("U1"), &a).await.unwrap().access_key_id,
        "ASIA0000",
        "still fresh"
    );
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        p.get(&person("U1"), &a).await.unwrap().access_key_id,
        "ASIA0000",
        "inside the margin: old creds served while refreshing"
    );
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(sts.calls.load(Ordering::SeqCst), 2, "one refresh ahead");
    assert_eq!(
        p.get(&person("U1"), &a).await.unwrap().access_key_id,
        "ASIA0001",
        "refreshed creds served"
    );
    tokio::time::advance(Duration::from_secs(3601)).await;
    assert_eq!(
        p.get(&person("U1"), &a).await.unwrap().access_key_id,
        "ASIA0002",
        "expired: caller waits for a new session"
    );
}

#[tokio::test(start_paused = true)]
async fn broken_account_fails_typed_is_cached_briefly_and_others_work() {
    let sts = fake(0);
    let p = pool(sts.clone());
    let bad = account("222222222222", "broken");
    let good = account("111111111111", "ro");
    assert!(matches!(
        p.get(&person("U1"), &bad).await,
        Err(StsError::AccessDenied { .. })
    ));
    assert!(matches!(
        p.get(&person("U1"), &bad).await,
        Err(StsError::AccessDenied { .. })
    ));
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1, "failure cached");
    assert!(
        p.get(&person("U1"), &good).await.is_ok(),
        "other accounts unaffected"
    );
    tokio::time::advance(Duration::from_secs(31)).await;
    let _ = p.get(&person("U1"), &bad).await;
    assert_eq!(
        sts.calls.load(Ordering::SeqCst),
        3,
        "retried after the failure TTL"
    );
}

#[tokio::test]
async fn tags_can_be_turned_off() {
    let sts = fake(0);
    let p = CredentialPool::new(
        sts.clone(),
        PoolSettings {
            session_tags: false,
            ..PoolSettings::default()
        },
        Metrics::new(),
    );
    p.get(&person("U1"), &account("111111111111", "ro"))
        .await
        .unwrap();
    assert!(sts.requests.lock().unwrap()[0].tags.is_empty());
}
