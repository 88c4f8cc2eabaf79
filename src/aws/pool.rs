//! The credential pool: per (person, account, role) STS credentials, cached and shared.
//!
//! A warm key is a lock-free read. An entry is served until its expiry minus the refresh
//! margin; inside the margin the current credentials are still served while one background
//! AssumeRole replaces them (refresh ahead); past expiry callers wait for a new call. Misses are
//! single-flight: moka's per-key compute lock makes concurrent askers wait for the same STS call.
//! Failures are remembered briefly so a broken account is not hammered. Times are on tokio's
//! clock so expiry is testable with paused time.

use super::principal::Principal;
use super::sts::{AssumeRequest, AwsCredentials, Sts, StsError};
use crate::accounts::Account;
use crate::cache::TtlCache;
use crate::metrics::Metrics;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Pool settings (`[aws]` in opsbot.toml).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Requested session lifetime (`aws.session_duration_seconds`, default 3600).
    pub duration: Duration,
    /// Refresh this long before expiry (`aws.refresh_margin_seconds`, default 300).
    pub refresh_margin: Duration,
    /// How long a failure is remembered (`aws.failure_cache_seconds`, default 30).
    pub failure_ttl: Duration,
    /// Send session tags (`aws.session_tags`, default true; roles must allow `sts:TagSession`).
    pub session_tags: bool,
    /// Most cached sessions (`aws.pool_capacity`, default 10000).
    pub capacity: u64,
}

/// Raw `[aws]` section.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawAws {
    session_duration_seconds: Option<u64>,
    refresh_margin_seconds: Option<u64>,
    failure_cache_seconds: Option<u64>,
    session_tags: Option<bool>,
    pool_capacity: Option<u64>,
}

impl RawAws {
    /// Validates, pushing every problem.
    pub fn validate(self, problems: &mut Vec<crate::problem::Problem>) -> PoolSettings {
        use crate::problem::Problem;
        let d = PoolSettings::default();
        let s = PoolSettings {
            duration: self
                .session_duration_seconds
                .map_or(d.duration, Duration::from_secs),
            refresh_margin: self
                .refresh_margin_seconds
                .map_or(d.refresh_margin, Duration::from_secs),
            failure_ttl: self
                .failure_cache_seconds
                .map_or(d.failure_ttl, Duration::from_secs),
            session_tags: self.session_tags.unwrap_or(d.session_tags),
            capacity: self.pool_capacity.unwrap_or(d.capacity),
        };
        if !(900..=43_200).contains(&s.duration.as_secs()) {
            problems.push(Problem::new(
                "aws.session_duration_seconds",
                "must be between 900 and 43200 (and at most the role's maximum session duration)",
            ));
        }
        if s.refresh_margin >= s.duration {
            problems.push(Problem::new(
                "aws.refresh_margin_seconds",
                "must be shorter than aws.session_duration_seconds",
            ));
        }
        s
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(3600),
            refresh_margin: Duration::from_secs(300),
            failure_ttl: Duration::from_secs(30),
            session_tags: true,
            capacity: 10_000,
        }
    }
}

struct Pooled {
    creds: AwsCredentials,
    refresh_at: Instant,
    expires_at: Instant,
    refreshing: AtomicBool,
}

/// Shared, cheaply clonable pool.
#[derive(Clone)]
pub struct CredentialPool {
    sts: Arc<dyn Sts>,
    cache: Cache<String, Arc<Pooled>>,
    failures: Arc<TtlCache<StsError>>,
    settings: PoolSettings,
    metrics: Arc<Metrics>,
}

impl CredentialPool {
    /// A pool over `sts`.
    pub fn new(sts: Arc<dyn Sts>, settings: PoolSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            sts,
            cache: Cache::builder().max_capacity(settings.capacity).build(),
            failures: Arc::new(TtlCache::new(settings.failure_ttl, 10_000)),
            settings,
            metrics,
        }
    }

    /// The AssumeRole request for `principal` in `account`.
    pub fn request(&self, principal: &Principal, account: &Account) -> AssumeRequest {
        AssumeRequest {
            role_arn: account.role_arn.clone(),
            session_name: principal.session_name(),
            source_identity: principal.source_identity(),
            external_id: account.external_id.clone(),
            tags: if self.settings.session_tags {
                principal.tags()
            } else {
                Vec::new()
            },
            duration: self.settings.duration,
        }
    }

    /// Credentials for `principal` in `account`, from the pool or one STS call.
    pub async fn get(
        &self,
        principal: &Principal,
        account: &Account,
    ) -> Result<AwsCredentials, StsError> {
        let key = format!("{}|{}|{}", principal.key(), account.id, account.role_arn);
        if let Some(e) = self.cache.get(&key).await {
            let now = Instant::now();
            if now < e.refresh_at {
                self.metrics.credentials("hit");
                return Ok(e.creds.clone());
            }
            if now < e.expires_at {
                self.metrics.credentials("hit");
                if self.failures.get(&key).is_none() && !e.refreshing.swap(true, Ordering::SeqCst) {
                    self.metrics.credentials("refresh_ahead");
                    let pool = self.clone();
                    let request = self.request(principal, account);
                    tokio::spawn(async move {
                        let _ = pool.fetch(&key, &request).await;
                    });
                }
                return Ok(e.creds.clone());
            }
        }
        if let Some(e) = self.failures.get(&key) {
            self.metrics.credentials("failure_cached");
            return Err(e);
        }
        self.metrics.credentials("miss");
        self.fetch(&key, &self.request(principal, account)).await
    }

    async fn fetch(&self, key: &str, request: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        let result = self
            .cache
            .entry(key.to_string())
            .and_try_compute_with(|existing| async move {
                if let Some(e) = existing
                    && Instant::now() < e.value().refresh_at
                {
                    return Ok::<_, StsError>(Op::Nop); // another caller refreshed it while we waited
                }
                self.metrics.credentials("sts_call");
                let creds = self.sts.assume_role(request).await?;
                let now = Instant::now();
                let left = creds
                    .expiration
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                let expires_at = now + left;
                let refresh_at = now + left.saturating_sub(self.settings.refresh_margin);
                Ok(Op::Put(Arc::new(Pooled {
                    creds,
                    refresh_at,
                    expires_at,
                    refreshing: AtomicBool::new(false),
                })))
            })
            .await;
        match result {
            Ok(
                CompResult::Inserted(e) | CompResult::ReplacedWith(e) | CompResult::Unchanged(e),
            ) => Ok(e.into_value().creds.clone()),
            Ok(_) => Err(StsError::Other("credential cache entry vanished".into())),
            Err(e) => {
                self.metrics.sts_failure(e.kind());
                tracing::warn!(session = request.session_name, role = request.role_arn, error = %e, "AssumeRole failed");
                self.failures.insert(key, e.clone());
                if let Some(old) = self.cache.get(key).await {
                    old.refreshing.store(false, Ordering::SeqCst);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
