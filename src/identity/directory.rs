//! [`Directory`]: profiles plus the union of group providers, cached, bounded in time and
//! failing closed.
//!
//! Standing is decided before groups: a stranger's email is dropped before any provider sees
//! the person, so email-keyed providers (Okta, Entra, Identity Center, the static file's email
//! entries) can never hand a stranger the groups of the member whose email they carry. Every
//! profile and group lookup gets `identity.timeout_seconds`; a provider that does not answer
//! fails the lookup like one that errs.

use super::{Group, GroupDirectory, Identity, IdentityError, Person, Profiles, Standing};
use crate::cache::TtlCache;
use crate::core::inbound::{ChatUser, Platform};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Default bound on each outside identity call (`identity.timeout_seconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Profiles plus the union of group providers, with caching.
pub struct Directory {
    profiles: HashMap<Platform, Arc<dyn Profiles>>,
    providers: Vec<Arc<dyn GroupDirectory>>,
    person_cache: TtlCache<Person>,
    group_caches: Vec<TtlCache<Vec<Group>>>,
    timeout: Duration,
}

impl Directory {
    /// A directory over per-platform `profiles` and `providers`, caching answers for `ttl`;
    /// each outside call is bounded by [`DEFAULT_TIMEOUT`] (see [`Directory::with_timeout`]).
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
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Bounds every profile and group lookup by `timeout` (`identity.timeout_seconds`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Names of the configured providers.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }

    /// Whether a provider other than the static groups file is configured (one whose groups
    /// bare grant names no longer match).
    pub fn has_idp(&self) -> bool {
        self.providers
            .iter()
            .any(|p| p.name() != super::group::Kind::Static.provider())
    }

    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let key = user.key();
        if let Some(p) = self.person_cache.get(&key) {
            return Ok(p);
        }
        let profiles = self
            .profiles
            .get(&user.platform)
            .ok_or_else(|| IdentityError::Profile {
                detail: format!("no profile source for {} users", user.platform),
            })?;
        let mut p = match tokio::time::timeout(self.timeout, profiles.person(user)).await {
            Ok(p) => p?,
            Err(_) => {
                tracing::warn!(user = %key, timeout_s = self.timeout.as_secs_f64(), "profile lookup did not answer in time; refusing (fail closed)");
                return Err(IdentityError::Profile {
                    detail: format!("no answer within {:?}", self.timeout),
                });
            }
        };
        if p.standing == Standing::Stranger && p.email.is_some() {
            // Asserted by another organisation: never a key to our groups or our logs' identity.
            tracing::info!(user = %key, "stranger: their email is not used for groups or sessions");
            p.email = None;
        }
        self.person_cache.insert(&key, p.clone());
        Ok(p)
    }

    /// The person and all their groups; any provider failure or timeout fails the whole
    /// lookup.
    pub async fn identify(&self, user: &ChatUser) -> Result<Identity, IdentityError> {
        let person = self.person(user).await?;
        let key = user.key();
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
                    let g = match tokio::time::timeout(self.timeout, provider.groups(person)).await
                    {
                        Ok(g) => g?,
                        Err(_) => {
                            tracing::warn!(provider = provider.name(), user = %key, timeout_s = self.timeout.as_secs_f64(), "group provider did not answer in time; refusing (fail closed)");
                            return Err(IdentityError::Provider {
                                provider: provider.name(),
                                detail: format!("no answer within {:?}", self.timeout),
                            });
                        }
                    };
                    cache.insert(key, g.clone());
                    Ok::<_, IdentityError>(g)
                }
            });
        let mut groups: Vec<Group> = Vec::new();
        for result in futures_util::future::join_all(lookups).await {
            groups.extend(result?);
        }
        groups.retain(|g| {
            if g.is_reserved() {
                tracing::error!(group = %g.key, "a provider reported a reserved schedule: key; ignored");
            }
            !g.is_reserved()
        });
        groups.sort();
        groups.dedup_by(|a, b| a.key == b.key);
        Ok(Identity { person, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::super::TrustedProfiles;
    use super::super::group::Kind;
    use super::*;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Fixed(Person);
    #[async_trait]
    impl Profiles for Fixed {
        async fn person(&self, _: &ChatUser) -> Result<Person, IdentityError> {
            Ok(self.0.clone())
        }
    }

    /// A provider that never answers.
    struct Hanging;
    #[async_trait]
    impl Profiles for Hanging {
        async fn person(&self, _: &ChatUser) -> Result<Person, IdentityError> {
            std::future::pending().await
        }
    }
    #[async_trait]
    impl GroupDirectory for Hanging {
        fn name(&self) -> &'static str {
            "Okta"
        }
        async fn groups(&self, _: &Person) -> Result<Vec<Group>, IdentityError> {
            std::future::pending().await
        }
    }

    /// Groups by email, like Okta: records which emails it was asked about.
    struct Counting {
        calls: AtomicUsize,
        fail: bool,
        groups: Vec<Group>,
        asked: std::sync::Mutex<Vec<Option<String>>>,
    }
    #[async_trait]
    impl GroupDirectory for Counting {
        fn name(&self) -> &'static str {
            "Okta"
        }
        async fn groups(&self, p: &Person) -> Result<Vec<Group>, IdentityError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.asked.lock().unwrap().push(p.email.clone());
            if self.fail {
                Err(IdentityError::Provider {
                    provider: "Okta",
                    detail: "HTTP 503".into(),
                })
            } else if p.email.is_none() {
                Ok(Vec::new())
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

    fn profiles_of(p: Person) -> HashMap<Platform, Arc<dyn Profiles>> {
        HashMap::from([(Platform::Slack, Arc::new(Fixed(p)) as Arc<dyn Profiles>)])
    }

    fn profiles() -> HashMap<Platform, Arc<dyn Profiles>> {
        profiles_of(person())
    }

    fn counting(groups: &[&str], fail: bool) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicUsize::new(0),
            fail,
            groups: groups
                .iter()
                .map(|s| Group::new(Kind::Okta, s, *s))
                .collect(),
            asked: Default::default(),
        })
    }

    fn keys(i: &Identity) -> Vec<String> {
        i.keys()
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
        assert_eq!(
            keys(&d.identify(&user()).await.unwrap()),
            ["okta:a", "okta:b", "okta:c"]
        );
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

    #[tokio::test(start_paused = true)]
    async fn a_hanging_provider_or_profile_source_fails_closed_after_the_timeout() {
        let ok = counting(&["admins"], false);
        let d = Directory::new(
            profiles(),
            vec![ok, Arc::new(Hanging)],
            Duration::from_secs(300),
        )
        .with_timeout(Duration::from_secs(5));
        let e = d.identify(&user()).await.unwrap_err();
        assert!(
            matches!(&e, IdentityError::Provider { provider: "Okta", detail } if detail.contains("no answer")),
            "{e:?}"
        );
        let hanging_profiles =
            HashMap::from([(Platform::Teams, Arc::new(Hanging) as Arc<dyn Profiles>)]);
        let d = Directory::new(hanging_profiles, vec![], Duration::from_secs(300));
        let e = d
            .identify(&ChatUser::new(Platform::Teams, "aad-1"))
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Profile { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn a_stranger_never_reaches_providers_with_the_email_they_carry() {
        let okta = counting(&["platform-admins"], false);
        let mut stranger = person();
        stranger.standing = Standing::Stranger;
        let d = Directory::new(
            profiles_of(stranger),
            vec![okta.clone()],
            Duration::from_secs(300),
        );
        let i = d.identify(&user()).await.unwrap();
        assert!(i.groups.is_empty(), "{:?}", i.groups);
        assert_eq!(i.person.email, None, "not used for sessions either");
        assert_eq!(*okta.asked.lock().unwrap(), [None]);
    }

    #[tokio::test]
    async fn reserved_keys_from_a_provider_are_dropped() {
        struct Reserved;
        #[async_trait]
        impl GroupDirectory for Reserved {
            fn name(&self) -> &'static str {
                "Okta"
            }
            async fn groups(&self, _: &Person) -> Result<Vec<Group>, IdentityError> {
                Ok(vec![
                    Group::schedule("weekly-prod"),
                    Group::new(Kind::Okta, "00g1", "x"),
                ])
            }
        }
        let d = Directory::new(profiles(), vec![Arc::new(Reserved)], Duration::from_secs(1));
        assert_eq!(keys(&d.identify(&user()).await.unwrap()), ["okta:00g1"]);
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
