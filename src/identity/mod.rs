//! Identity: a chat user becomes a [`Person`] (email, name, standing) and a set of groups.
//!
//! Each platform brings its own [`Profiles`] (Slack `users.info`; the terminal trusts the
//! operator's `--as`). Groups are the union of every configured
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
use crate::core::inbound::{ChatUser, Platform};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Whether a person counts as a member of the workspace at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// A full member.
    Member,
    /// A guest (Slack multi- or single-channel guest, Teams guest): only grants that allow
    /// guests apply.
    Guest,
    /// Deactivated: refused always, whatever groups still list them.
    Deactivated,
}

/// A person as opsbot knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Who, on which platform.
    pub user: ChatUser,
    /// Email from the platform profile (Slack needs `users:read.email`).
    pub email: Option<String>,
    /// Handle (Slack `name`), for readable session names.
    pub handle: Option<String>,
    /// Display or real name.
    pub display_name: Option<String>,
    /// Member, guest or deactivated.
    pub standing: Standing,
}

impl Person {
    /// A member known only by `user` and `email`.
    pub fn member(user: ChatUser, email: Option<String>) -> Self {
        Self {
            user,
            email,
            handle: None,
            display_name: None,
            standing: Standing::Member,
        }
    }
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
    /// The person's profile could not be read.
    #[error("couldn't read your profile")]
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

/// Looks up people on one platform. Real: [`slack::SlackDirectory`], [`TrustedProfiles`].
#[async_trait]
pub trait Profiles: Send + Sync {
    /// The person behind `user`.
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError>;
}

/// Profiles for front doors whose operator is trusted to say who they act for (the terminal):
/// the user id is taken as the email when it looks like one.
pub struct TrustedProfiles;

#[async_trait]
impl Profiles for TrustedProfiles {
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let email = user.id.contains('@').then(|| user.id.to_lowercase());
        Ok(Person::member(user.clone(), email))
    }
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
    profiles: HashMap<Platform, Arc<dyn Profiles>>,
    providers: Vec<Arc<dyn GroupDirectory>>,
    person_cache: TtlCache<Person>,
    group_caches: Vec<TtlCache<Vec<String>>>,
}

impl Directory {
    /// A directory over per-platform `profiles` and `providers`, caching answers for `ttl`.
    pub fn new(
        profiles: HashMap<Platform, Arc<dyn Profiles>>,
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
    pub async fn identify(&self, user: &ChatUser) -> Result<Identity, IdentityError> {
        let key = user.key();
        let person = match self.person_cache.get(&key) {
            Some(p) => p,
            None => {
                let profiles =
                    self.profiles
                        .get(&user.platform)
                        .ok_or_else(|| IdentityError::Profile {
                            detail: format!("no profile source for {} users", user.platform),
                        })?;
                let p = profiles.person(user).await?;
                self.person_cache.insert(&key, p.clone());
                p
            }
        };
        let lookups = self
            .providers
            .iter()
            .zip(&self.group_caches)
            .map(|(provider, cache)| {
                let (person, key) = (&person, &key);
                async move {
                    if let Some(g) = cache.get(key) {
                        return Ok(g);
                    }
                    let g = provider.groups(person).await?;
                    cache.insert(key, g.clone());
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
        async fn person(&self, _: &ChatUser) -> Result<Person, IdentityError> {
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

    fn user() -> ChatUser {
        ChatUser::new(Platform::Slack, "U1")
    }

    fn person() -> Person {
        Person::member(user(), Some("ana@example.com".into()))
    }

    fn profiles() -> HashMap<Platform, Arc<dyn Profiles>> {
        HashMap::from([(
            Platform::Slack,
            Arc::new(Fixed(person())) as Arc<dyn Profiles>,
        )])
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
            profiles(),
            vec![a.clone(), b.clone()],
            Duration::from_secs(300),
        );
        assert_eq!(d.identify(&user()).await.unwrap().groups, ["a", "b", "c"]);
        d.identify(&user()).await.unwrap();
        assert_eq!(a.calls.load(Ordering::SeqCst), 1, "cached");
        tokio::time::advance(Duration::from_secs(301)).await;
        d.identify(&user()).await.unwrap();
        assert_eq!(a.calls.load(Ordering::SeqCst), 2, "expired and asked again");
    }

    #[tokio::test]
    async fn one_failing_provider_fails_closed_and_is_not_cached() {
        let ok = counting(&["admins"], false);
        let bad = counting(&[], true);
        let d = Directory::new(profiles(), vec![ok, bad.clone()], Duration::from_secs(300));
        let e = d.identify(&user()).await.unwrap_err();
        assert_eq!(e.to_string(), "couldn't read your groups from Okta");
        d.identify(&user()).await.unwrap_err();
        assert_eq!(bad.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_platform_without_profiles_fails_closed() {
        let d = Directory::new(profiles(), vec![], Duration::from_secs(300));
        let teams = ChatUser::new(Platform::Teams, "x");
        assert!(matches!(
            d.identify(&teams).await,
            Err(IdentityError::Profile { .. })
        ));
    }

    #[tokio::test]
    async fn trusted_profiles_take_an_email_as_given() {
        let p = TrustedProfiles
            .person(&ChatUser::new(Platform::Terminal, "Ana@Example.com"))
            .await
            .unwrap();
        assert_eq!(p.email.as_deref(), Some("ana@example.com"));
        assert_eq!(p.standing, Standing::Member);
    }
}
