//! [`ScopedAws`]: the only way an answerer reaches AWS credentials. Built from one person's
//! [`Authorization`] at one place, it hands out credentials for the accounts (and regions)
//! that authorization allows and refuses everything else before any STS call, so a tool call
//! naming another account, whatever the model asked for, never gets credentials.

use super::pool::CredentialPool;
use super::principal::Principal;
use super::sts::{AwsCredentials, StsError};
use crate::access::Authorization;
use crate::accounts::Account;
use crate::accounts::discover::AccountBook;
use std::sync::Arc;

/// Why credentials were not handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The account is not allowed for this person here (or does not exist).
    #[error("account {account} is not one you may query here; `accounts` lists the ones you may")]
    AccountNotAllowed {
        /// The account id or name asked for.
        account: String,
    },
    /// The region is not allowed for this account.
    #[error("region {region} is not allowed for {account}; you may query it in {allowed}")]
    RegionNotAllowed {
        /// The account label.
        account: String,
        /// The region asked for.
        region: String,
        /// The regions that are allowed, comma-separated.
        allowed: String,
    },
    /// STS refused or failed.
    #[error(transparent)]
    Sts(#[from] StsError),
}

/// One allowed account with its regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedAccount {
    /// The account from the registry.
    pub account: Account,
    /// Regions this person may query there.
    pub regions: Vec<String>,
}

/// Credentials for one person, limited to their authorization at one place.
#[derive(Clone)]
pub struct ScopedAws {
    pool: CredentialPool,
    principal: Principal,
    accounts: Arc<Vec<ScopedAccount>>,
}

impl ScopedAws {
    /// The handle for `auth`, over `pool`, with accounts from the current registry.
    pub fn new(pool: CredentialPool, book: &AccountBook, auth: &Authorization) -> Self {
        Self::for_principal(pool, book, auth, auth.principal())
    }

    /// The same, with calls made for `principal` (a schedule acting as itself).
    pub fn for_principal(
        pool: CredentialPool,
        book: &AccountBook,
        auth: &Authorization,
        principal: Principal,
    ) -> Self {
        let registry = book.current();
        let accounts = auth
            .decision
            .allowed
            .iter()
            .filter_map(|a| {
                registry.get(&a.id).map(|acc| ScopedAccount {
                    account: acc.clone(),
                    regions: a.regions.clone(),
                })
            })
            .collect();
        Self {
            pool,
            principal,
            accounts: Arc::new(accounts),
        }
    }

    /// The accounts this handle may reach, sorted as the policy sorted them.
    pub fn accounts(&self) -> &[ScopedAccount] {
        &self.accounts
    }

    /// Whom the calls are made for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The allowed account with `account_id`, or the refusal.
    pub fn account(&self, account_id: &str) -> Result<&ScopedAccount, ScopeError> {
        self.accounts
            .iter()
            .find(|a| a.account.id == account_id)
            .ok_or_else(|| ScopeError::AccountNotAllowed {
                account: account_id.to_string(),
            })
    }

    /// Checks that `region` is allowed in `account_id`.
    pub fn check_region(&self, account_id: &str, region: &str) -> Result<(), ScopeError> {
        let a = self.account(account_id)?;
        if a.regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(ScopeError::RegionNotAllowed {
                account: a.account.label(),
                region: region.to_string(),
                allowed: a.regions.join(", "),
            })
        }
    }

    /// Credentials for `account_id`, from the pool, for this person; refused before any STS
    /// call when the account is outside the authorization.
    pub async fn credentials(&self, account_id: &str) -> Result<AwsCredentials, ScopeError> {
        let a = self.account(account_id)?;
        Ok(self.pool.get(&self.principal, &a.account).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::pool::PoolSettings;
    use crate::aws::sts::{AssumeRequest, Sts};
    use crate::core::inbound::{ChatUser, Place, PlaceKind, Platform};
    use crate::identity::{Identity, Person};
    use crate::metrics::Metrics;
    use crate::policy::{Allowed, Decision};
    use crate::secret::Secret;
    use async_trait::async_trait;
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    #[derive(Default)]
    struct RecordingSts(Mutex<Vec<AssumeRequest>>);

    #[async_trait]
    impl Sts for RecordingSts {
        async fn assume_role(&self, r: &AssumeRequest) -> Result<AwsCredentials, StsError> {
            self.0.lock().unwrap().push(r.clone());
            Ok(AwsCredentials {
                access_key_id: "ASIA".into(),
                secret_access_key: Secret::new("s"),
                session_token: Secret::new("t"),
                expiration: SystemTime::now() + Duration::from_secs(3600),
            })
        }
    }

    fn auth(allowed: &[(&str, &[&str])]) -> Authorization {
        let user = ChatUser::new(Platform::Slack, "U1");
        Authorization {
            identity: Identity {
                person: Person::member(user, Some("ana@example.com".into())),
                groups: vec!["devs".into()],
            },
            place: Place::new(Platform::Slack, "C1", PlaceKind::Channel),
            decision: Decision {
                allowed: allowed
                    .iter()
                    .map(|(id, regions)| Allowed {
                        id: id.to_string(),
                        label: id.to_string(),
                        regions: regions.iter().map(|r| r.to_string()).collect(),
                        granted_by: vec!["devs".into()],
                    })
                    .collect(),
                ..Decision::default()
            },
        }
    }

    #[tokio::test]
    async fn refuses_accounts_and_regions_outside_the_authorization_before_any_sts_call() {
        let sts = Arc::new(RecordingSts::default());
        let pool = CredentialPool::new(sts.clone(), PoolSettings::default(), Metrics::new());
        let book = AccountBook::new(crate::accounts::tests::sample());
        // staging (222…) in us-east-1 only; production (111…) exists but is not allowed.
        let scoped = ScopedAws::new(pool, &book, &auth(&[("222222222222", &["us-east-1"])]));
        assert_eq!(scoped.accounts().len(), 1);

        let refused = scoped.credentials("111111111111").await.unwrap_err();
        assert_eq!(
            refused,
            ScopeError::AccountNotAllowed {
                account: "111111111111".into()
            }
        );
        assert!(
            scoped.credentials("999999999999").await.is_err(),
            "unknown too"
        );
        assert!(
            sts.0.lock().unwrap().is_empty(),
            "no STS call for a refused account"
        );

        assert!(matches!(
            scoped.check_region("222222222222", "eu-west-1"),
            Err(ScopeError::RegionNotAllowed { .. })
        ));
        scoped.check_region("222222222222", "us-east-1").unwrap();

        let creds = scoped.credentials("222222222222").await.unwrap();
        assert_eq!(creds.access_key_id, "ASIA");
        let calls = sts.0.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].role_arn,
            "arn:aws:iam::222222222222:role/opsbot-readonly"
        );
        assert_eq!(
            calls[0].source_identity, "ana@example.com",
            "attributable to the person"
        );
    }

    #[test]
    fn an_allowed_id_missing_from_the_registry_is_not_reachable() {
        let pool = CredentialPool::new(
            Arc::new(RecordingSts::default()),
            PoolSettings::default(),
            Metrics::new(),
        );
        let book = AccountBook::new(crate::accounts::tests::sample());
        let scoped = ScopedAws::new(pool, &book, &auth(&[("999999999999", &["us-east-1"])]));
        assert!(scoped.accounts().is_empty());
    }
}
