//! Credential pool benchmark: STS calls per 1,000 questions from 20 people across 10 accounts
//! (goal ≤ 200: one per person-account per session lifetime) and warm-key lookup latency
//! (goal p99 ≤ 10 µs). STS is an in-process fake with 20 ms latency. Prints; asserts nothing.
//!
//! Run: `cargo bench --bench credentials`.

use async_trait::async_trait;
use opsbot::accounts::{Account, Source};
use opsbot::aws::pool::{CredentialPool, PoolSettings};
use opsbot::aws::principal::Principal;
use opsbot::aws::sts::{AssumeRequest, AwsCredentials, Sts, StsError};
use opsbot::config::Secret;
use opsbot::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

struct SlowSts(AtomicUsize);

#[async_trait]
impl Sts for SlowSts {
    async fn assume_role(&self, _r: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(AwsCredentials {
            access_key_id: "ASIABENCH".into(),
            secret_access_key: Secret::new("s"),
            session_token: Secret::new("t"),
            expiration: SystemTime::now() + Duration::from_secs(3600),
        })
    }
}

fn account(i: usize) -> Account {
    let id = format!("{:012}", 100_000_000_000u64 + i as u64);
    Account {
        role_arn: format!("arn:aws:iam::{id}:role/opsbot-readonly"),
        id,
        name: format!("acct{i}"),
        aliases: vec![],
        environment: None,
        regions: vec!["us-east-1".into()],
        external_id: None,
        tags: Default::default(),
        source: Source::File,
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sts = Arc::new(SlowSts(AtomicUsize::new(0)));
    let pool = CredentialPool::new(sts.clone(), PoolSettings::default(), Metrics::new());
    let accounts: Vec<Account> = (0..10).map(account).collect();
    let people: Vec<Principal> = (0..20)
        .map(|i| Principal::Person {
            user: opsbot::core::inbound::ChatUser::new(
                opsbot::core::inbound::Platform::Slack,
                format!("U{i:08}"),
            ),
            handle: Some(format!("user{i}")),
            email: None,
        })
        .collect();

    // 1,000 questions, each fanning out to 3 accounts, 8 questions in flight at a time.
    let started = Instant::now();
    let mut seed = 42u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut batch = Vec::new();
    for q in 0..1000 {
        let who = people[(next() % 20) as usize].clone();
        let picks: Vec<Account> = (0..3)
            .map(|_| accounts[(next() % 10) as usize].clone())
            .collect();
        let pool = pool.clone();
        batch.push(tokio::spawn(async move {
            for a in &picks {
                pool.get(&who, a).await.unwrap();
            }
        }));
        if batch.len() == 8 || q == 999 {
            for t in batch.drain(..) {
                t.await.unwrap();
            }
        }
    }
    let calls = sts.0.load(Ordering::SeqCst);
    let questions_elapsed = started.elapsed();

    // Warm-key lookups.
    let (who, a) = (people[0].clone(), accounts[0].clone());
    pool.get(&who, &a).await.unwrap();
    let mut lat = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let t = Instant::now();
        let c = pool.get(&who, &a).await.unwrap();
        lat.push(t.elapsed());
        std::hint::black_box(c);
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!("opsbot credential pool benchmark (fake STS, 20 ms per AssumeRole)");
    println!("  questions:                1000 from 20 people, 3 of 10 accounts each");
    println!(
        "  STS calls:                {calls} (≤ 200 goal; 200 distinct person-account pairs exist)"
    );
    println!("  STS calls per 1000 q:     {calls}");
    println!(
        "  wall time for questions:  {:.0} ms",
        questions_elapsed.as_secs_f64() * 1e3
    );
    println!(
        "  warm lookup p50:          {:.2} µs",
        pct(0.50).as_secs_f64() * 1e6
    );
    println!(
        "  warm lookup p99:          {:.2} µs",
        pct(0.99).as_secs_f64() * 1e6
    );
    println!(
        "  warm lookup max:          {:.2} µs",
        lat.last().unwrap().as_secs_f64() * 1e6
    );
}
