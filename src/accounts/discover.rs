//! Account discovery from AWS Organizations, merged with the registry file.
//!
//! `ListAccounts` (+ `ListTagsForResource` per account) from the management or delegated-admin
//! account. The file wins on names, aliases, roles and regions; discovered accounts not in the
//! file get a name derived from their Organizations name; suspended or closing accounts are
//! skipped. [`AccountBook`] holds the current registry and refreshes it periodically, keeping
//! the last good one when a refresh fails.

use super::{Account, DEFAULT_ROLE_NAME, Registry, Settings, Source, regions};
use aws_sdk_organizations::types::AccountStatus;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// An account as Organizations reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    /// Account id.
    pub id: String,
    /// Organizations account name.
    pub name: String,
    /// Active (not suspended or closing).
    pub active: bool,
    /// Account tags.
    pub tags: BTreeMap<String, String>,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "AWS Organizations discovery failed: {0}; the bot needs organizations:ListAccounts and organizations:ListTagsForResource in the management or delegated-admin account (accounts.discover_role_arn)"
)]
pub struct DiscoverError(String);

/// Lists every account of the organization with its tags.
pub async fn list(
    client: &aws_sdk_organizations::Client,
) -> Result<Vec<OrgAccount>, DiscoverError> {
    let mut out = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            DiscoverError(aws_sdk_organizations::error::DisplayErrorContext(e).to_string())
        })?;
        for a in page.accounts() {
            let Some(id) = a.id() else { continue };
            let mut tags = BTreeMap::new();
            let mut tag_pages = client
                .list_tags_for_resource()
                .resource_id(id)
                .into_paginator()
                .send();
            while let Some(t) = tag_pages.next().await {
                let t = t.map_err(|e| {
                    DiscoverError(aws_sdk_organizations::error::DisplayErrorContext(e).to_string())
                })?;
                for tag in t.tags() {
                    tags.insert(tag.key().to_string(), tag.value().to_string());
                }
            }
            out.push(OrgAccount {
                id: id.to_string(),
                name: a.name().unwrap_or(id).to_string(),
                active: matches!(a.status(), Some(AccountStatus::Active) | None),
                tags,
            });
        }
    }
    Ok(out)
}

fn slug(name: &str) -> String {
    let s: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.chars().take(64).collect()
}

/// Merges discovered accounts into the file registry (the file wins; suspended skipped).
pub fn merge(file: &Registry, org: &[OrgAccount], settings: &Settings) -> Registry {
    let suspended: HashSet<&str> = org
        .iter()
        .filter(|a| !a.active)
        .map(|a| a.id.as_str())
        .collect();
    let mut accounts: Vec<Account> = Vec::new();
    for a in file.all() {
        if suspended.contains(a.id.as_str()) {
            tracing::warn!(
                account = a.id,
                "account is suspended in AWS Organizations; leaving it out"
            );
            continue;
        }
        let mut a = a.clone();
        if let Some(o) = org.iter().find(|o| o.id == a.id) {
            for (k, v) in &o.tags {
                a.tags.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        accounts.push(a);
    }
    let default_regions = settings
        .default_regions
        .clone()
        .unwrap_or_else(|| vec!["us-east-1".into()]);
    let role = settings.role_name.as_deref().unwrap_or(DEFAULT_ROLE_NAME);
    for o in org.iter().filter(|o| o.active && file.get(&o.id).is_none()) {
        let mut name = slug(&o.name);
        let taken = |n: &str| {
            accounts
                .iter()
                .any(|a| a.name == n || a.aliases.iter().any(|x| x == n))
                || file.lookup(n).is_some()
        };
        if name.is_empty() || taken(&name) || name == "all" {
            name = format!("{name}-{}", o.id)
                .trim_start_matches('-')
                .to_string();
        }
        let environment = ["environment", "Environment", "env", "Env"]
            .iter()
            .find_map(|k| o.tags.get(*k))
            .map(|e| e.to_lowercase());
        let partition = default_regions
            .first()
            .map_or("aws", |r| regions::partition(r));
        accounts.push(Account {
            id: o.id.clone(),
            name,
            aliases: Vec::new(),
            environment,
            regions: default_regions.clone(),
            role_arn: format!("arn:{partition}:iam::{}:role/{role}", o.id),
            external_id: None,
            tags: o.tags.clone(),
            source: Source::Organizations,
        });
    }
    Registry::new(accounts)
}

/// The live registry: the file, merged with Organizations when discovery is on.
pub struct AccountBook {
    file: Registry,
    current: RwLock<Arc<Registry>>,
}

impl AccountBook {
    /// A book holding `file` (no discovery yet).
    pub fn new(file: Registry) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(Arc::new(file.clone())),
            file,
        })
    }

    /// The registry in force now.
    pub fn current(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Lists Organizations and swaps in the merged registry; keeps the old one on failure.
    pub async fn refresh(
        &self,
        client: &aws_sdk_organizations::Client,
        settings: &Settings,
    ) -> Result<usize, DiscoverError> {
        let org = list(client).await?;
        let merged = merge(&self.file, &org, settings);
        let n = merged.all().len();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(merged);
        Ok(n)
    }

    /// Refreshes now and then every `accounts.discover_refresh_minutes`, forever.
    pub async fn refresh_forever(
        self: Arc<Self>,
        client: aws_sdk_organizations::Client,
        settings: Settings,
    ) {
        let every =
            Duration::from_secs(60 * settings.discover_refresh_minutes.unwrap_or(60).max(1));
        loop {
            match self.refresh(&client, &settings).await {
                Ok(n) => tracing::info!(
                    accounts = n,
                    "account registry refreshed from AWS Organizations"
                ),
                Err(e) => tracing::error!(error = %e, "keeping the previous account registry"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// Builds an Organizations client from the SDK's default chain, assuming
/// `accounts.discover_role_arn` first when set. Honours `AWS_ENDPOINT_URL_ORGANIZATIONS`.
pub async fn client(settings: &Settings) -> aws_sdk_organizations::Client {
    let base = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::Organizations)
        .load()
        .await;
    let conf = match &settings.discover_role_arn {
        Some(arn) => {
            let provider = aws_config::sts::AssumeRoleProvider::builder(arn.clone())
                .session_name("opsbot-discovery")
                .configure(&base)
                .build()
                .await;
            base.into_builder()
                .credentials_provider(
                    aws_sdk_organizations::config::SharedCredentialsProvider::new(provider),
                )
                .build()
        }
        None => base,
    };
    aws_sdk_organizations::Client::new(&conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str, active: bool, tags: &[(&str, &str)]) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: name.into(),
            active,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn file_wins_new_accounts_added_suspended_skipped() {
        let file = super::super::tests::sample();
        let discovered = vec![
            org(
                "111111111111",
                "Prod Main",
                true,
                &[("cost-center", "42"), ("team", "ignored")],
            ),
            org("222222222222", "Staging", false, &[]),
            org(
                "555555555555",
                "Data Lake Prod",
                true,
                &[("Environment", "Production")],
            ),
            org("666666666666", "Sandbox", true, &[]),
            org("777777777777", "Closed One", false, &[]),
        ];
        let merged = merge(&file, &discovered, &Settings::default());
        let prod = merged.get("111111111111").unwrap();
        assert_eq!(prod.name, "production", "file name wins");
        assert_eq!(prod.tags["team"], "platform", "file tags win");
        assert_eq!(prod.tags["cost-center"], "42", "org tags added");
        assert!(merged.get("222222222222").is_none(), "suspended skipped");
        assert!(merged.get("777777777777").is_none());
        let lake = merged.get("555555555555").unwrap();
        assert_eq!(
            (lake.name.as_str(), lake.environment.as_deref()),
            ("data-lake-prod", Some("production"))
        );
        assert_eq!(lake.source, Source::Organizations);
        assert_eq!(
            lake.role_arn,
            "arn:aws:iam::555555555555:role/opsbot-readonly"
        );
        assert_eq!(
            merged.get("666666666666").unwrap().name,
            "sandbox-666666666666",
            "name clash gets the id"
        );
    }
}
