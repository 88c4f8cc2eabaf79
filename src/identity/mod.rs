//! Identity: a Slack user becomes a [`Person`] (email, name) and a set of groups.
//!
//! Profiles come from Slack (`users.info`). Groups are the union of every configured
//! [`GroupDirectory`] (static file, Slack user groups, Okta, Microsoft Entra ID, IAM Identity
//! Center), each cached for `identity.cache_ttl_seconds`. If any provider fails the whole
//! lookup fails closed: never an empty or partial (possibly narrower or wider) grant.

pub mod entra;
pub mod identity_center;
pub mod okta;
pub mod settings;
pub mod slack;
pub mod static_file;

use crate::cache::TtlCache;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// A person as opsbot knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Slack user id.
    pub slack_id: String,
    /// Email from the Slack profile (needs `users:read.email`).
    pub email: Option<String>,
    /// Slack handle.
    pub handle: Option<String>,
    /// Display or real name.
    pub display_name: Option<String>,
}

/// A person with their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who.
    pub person: Person,
    /// Union of all providers' groups, sorted, no duplicates.
    pub groups: Vec<String>,
}

/// Why identity could not be established (the request fails closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A provider could not be read.
    #[error("couldn't read your groups from {provider}")]
    Provider {
        /// Provider name, e.g. `Okta`.
        provider: &'static str,
        /// What went wrong (for logs; not shown to users).
        detail: String,
    },
    /// The Slack profile could not be read.
    #[error("couldn't read your Slack profile")]
    Profile {
        /// What went wrong (for logs).
        detail: String,
    },
}

impl IdentityError {
    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Provider { .. } => "identity_provider",
            Self::Profile { .. } => "identity_profile",
        }
    }
}

/// Looks up Slack profiles. Real: [`slack::SlackDirectory`].
#[async_trait]
pub trait Profiles: Send + Sync {
    /// The person behind a Slack user id.
    async fn person(&self, slack_id: &str) -> Result<Person, IdentityError>;
}

/// A source of group memberships.
#[async_trait]
pub trait GroupDirectory: Send + Sync {
    /// Name shown to users when it fails, e.g. `Okta`.
    fn name(&self) -> &'static str;
    /// The person's groups.
    async fn groups(&self, person: &Person) -> Result<Vec<String>, IdentityError>;
}

/// Profiles plus the union of group providers, with caching.
pub struct Directory {
    profiles: Arc<dyn Profiles>,
    providers: Vec<Arc<dyn GroupDirectory>>,
    person_cache: TtlCache<Person>,
    group_caches: Vec<TtlCache<Vec<String>>>,
}

impl Directory {
    /// A directory over `profiles` and `providers`, caching answers for `ttl`.
    pub fn new(
        profiles: Arc<dyn Profiles>,
        providers: Vec<Arc<dyn GroupDirectory>>,
        ttl: Duration,
    ) -> Self {
        let group_caches = providers
            .iter()
            .map(|_| TtlCache::new(ttl, 10_000))
            .collect();
        Self {
            profiles,
            providers,
            person_cache: TtlCache::new(ttl, 10_000),
            group_caches,
        }
    }

    /// Names of the configured providers.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }

    /// The person and all their groups; any provider failure fails the whole lookup.
    pub async fn identify(&self, slack_id: &str) -> Result<Identity, IdentityError> {
        let person = match self.person_cache.get(slack_id) {
            Some(p) => p,
            None => {
                let p = self.profiles.person(slack_id).await?;
                self.person_cache.insert(slack_id, p.clone());
                p
            }
        };
        let lookups = self
            .providers
            .iter()
            .zip(&self.group_caches)
            .map(|(provider, cache)| {
                let person = &person;
                async move {
                    if let Some(g) = cache.get(&person.slack_id) {
                        return Ok(g);
                    }
                    let g = provider.groups(person).await?;
                    cache.insert(&person.slack_id, g.clone());
                    Ok::<_, IdentityError>(g)
                }
            });
        let mut groups: Vec<String> = Vec::new();
        for result in futures_util::future::join_all(lookups).await {
            groups.extend(result?);
        }
        groups.sort();
        groups.dedup();
        Ok(Identity { person, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Fixed(Person);
    #[async_trait]
    impl Profiles for Fixed {
        async fn person(&self, _: &str) -> Result<Person, IdentityError> {
            Ok(self.0.clone())
        }
    }

    struct Counting {
        calls: AtomicUsize,
        fail: bool,
        groups: Vec<String>,
    }
    #[async_trait]
    impl GroupDirectory for Counting {
        fn name(&self) -> &'static str {
            "Okta"
        }
        async fn groups(&self, _: &Person) -> Result<Vec<String>, IdentityError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                Err(IdentityError::Provider {
                    provider: "Okta",
                    detail: "HTTP 503".into(),
                })
            } else {
                Ok(self.groups.clone())
            }
        }
    }

    fn person() -> Person {
        Person {
            slack_id: "U1".into(),
            email: Some("ana@example.com".into()),
            handle: None,
            display_name: None,
        }
    }

    fn counting(groups: &[&str], fail: bool) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicUsize::new(0),
            fail,
            groups: groups.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn union_of_providers_cached_until_ttl() {
        let a = counting(&["b", "a"], false);
        let b = counting(&["a", "c"], false);
        let d = Directory::new(
            Arc::new(Fixed(person())),
            vec![a.clone(), b.clone()],
            Duration::from_secs(300),
        );
        assert_eq!(d.identify("U1").await.unwrap().groups, ["a", "b", "c"]);
        d.identify("U1").await.unwrap();
        assert_eq!(a.calls.load(Ordering::SeqCst), 1, "cached");
        tokio::time::advance(Duration::from_secs(301)).await;
        d.identify("U1").await.unwrap();
        assert_eq!(a.calls.load(Ordering::SeqCst), 2, "expired and asked again");
    }

    #[tokio::test]
    async fn one_failing_provider_fails_closed_and_is_not_cached() {
        let ok = counting(&["admins"], false);
        let bad = counting(&[], true);
        let d = Directory::new(
            Arc::new(Fixed(person())),
            vec![ok, bad.clone()],
            Duration::from_secs(300),
        );
        let e = d.identify("U1").await.unwrap_err();
        assert_eq!(e.to_string(), "couldn't read your groups from Okta");
        d.identify("U1").await.unwrap_err();
        assert_eq!(bad.calls.load(Ordering::SeqCst), 2);
    }
}
