//! The `[identity]` section of opsbot.toml: which group providers to use and how to reach them.
//! Secrets come from the environment (`OKTA_API_TOKEN`, `ENTRA_CLIENT_SECRET`).

use super::GroupDirectory;
use super::entra::{Entra, EntraSettings, GroupName};
use super::identity_center::IdentityCenter;
use super::okta::Okta;
use super::slack::{SlackDirectory, SlackUserGroups};
use super::static_file::StaticGroups;
use crate::problem::Problem;
use crate::secret::Secret;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable with the Okta API token.
pub const ENV_OKTA_TOKEN: &str = "OKTA_API_TOKEN";
/// Environment variable with the Entra client secret.
pub const ENV_ENTRA_SECRET: &str = "ENTRA_CLIENT_SECRET";

/// A provider name in `identity.providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// `identity.static_file`.
    Static,
    /// Slack user groups.
    SlackUsergroups,
    /// Okta.
    Okta,
    /// Microsoft Entra ID (Graph).
    Entra,
    /// IAM Identity Center identity store.
    IdentityCenter,
}

/// Raw `[identity]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawSettings {
    /// Providers whose groups are combined (union).
    pub providers: Vec<ProviderKind>,
    /// How long answers are cached, seconds (default 300).
    pub cache_ttl_seconds: Option<u64>,
    /// How long each profile or group lookup may take, seconds (default 5); a provider that
    /// does not answer in time fails the lookup (the request is refused).
    pub timeout_seconds: Option<u64>,
    /// Where people should ask for help, shown in refusals (default `your platform team`).
    pub help_contact: Option<String>,
    /// Groups file for the `static` provider, relative to opsbot.toml.
    pub static_file: Option<String>,
    /// `[identity.okta]`.
    pub okta: Option<RawOkta>,
    /// `[identity.entra]`.
    pub entra: Option<RawEntra>,
    /// `[identity.identity_center]`.
    pub identity_center: Option<RawIdentityCenter>,
}

/// `[identity.okta]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawOkta {
    /// Org URL, e.g. `https://example.okta.com`.
    pub url: String,
}

/// `[identity.entra]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawEntra {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Graph base URL (default `https://graph.microsoft.com`).
    pub graph_url: Option<String>,
    /// Login base URL (default `https://login.microsoftonline.com`).
    pub login_url: Option<String>,
    /// No longer used (grants name Entra groups `entra:<object id>`); still accepted so
    /// older configs load, and `opsbot check` says so.
    pub group_name: Option<GroupName>,
}

/// `[identity.identity_center]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawIdentityCenter {
    /// Identity store id, `d-...`.
    pub identity_store_id: String,
    /// Region of the identity store.
    pub region: String,
}

/// A validated provider configuration.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    /// Groups from a file.
    Static(StaticGroups),
    /// Slack user groups.
    SlackUsergroups,
    /// Okta org URL and token.
    Okta {
        /// Org URL.
        url: String,
        /// API token.
        token: Secret,
    },
    /// Entra settings.
    Entra(EntraSettings),
    /// Identity store id and region.
    IdentityCenter {
        /// `d-...`.
        store_id: String,
        /// Region.
        region: String,
    },
}

/// Validated `[identity]`.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Providers in configured order.
    pub providers: Vec<ProviderConfig>,
    /// Cache TTL.
    pub ttl: Duration,
    /// Bound on each profile and group lookup (`identity.timeout_seconds`).
    pub timeout: Duration,
    /// Where to ask for help.
    pub help_contact: String,
    /// Settings that load but no longer do anything, with what to do (shown by `opsbot check`).
    pub notes: Vec<String>,
}

fn url_ok(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

impl RawSettings {
    /// Validates, loading the static file relative to `base`; pushes every problem.
    pub fn validate(
        self,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<Problem>,
    ) -> IdentityConfig {
        let mut providers = Vec::new();
        let mut notes = Vec::new();
        let timeout = self.timeout_seconds.unwrap_or(5);
        if !(1..=60).contains(&timeout) {
            problems.push(Problem::new(
                "identity.timeout_seconds",
                "must be between 1 and 60 (seconds each profile or group lookup may take)",
            ));
        }
        let mut push = |key: &str, message: String| {
            problems.push(Problem {
                key: key.into(),
                message,
            })
        };
        for kind in &self.providers {
            match kind {
                ProviderKind::Static => match &self.static_file {
                    None => push("identity.static_file", "the static provider needs a groups file, e.g. \"accounts/groups.toml\"".into()),
                    Some(f) => match StaticGroups::load(&base.join(f), f) {
                        Ok(g) => providers.push(ProviderConfig::Static(g)),
                        Err(p) => p.into_iter().for_each(|p| push(&p.key, p.message)),
                    },
                },
                ProviderKind::SlackUsergroups => providers.push(ProviderConfig::SlackUsergroups),
                ProviderKind::Okta => {
                    let url = self.okta.as_ref().map(|o| o.url.clone()).unwrap_or_default();
                    if !url_ok(&url) {
                        push("identity.okta.url", format!("{url:?} is not a URL; use your org URL like https://example.okta.com"));
                    }
                    match env(ENV_OKTA_TOKEN).filter(|t| !t.is_empty()) {
                        Some(t) => providers.push(ProviderConfig::Okta { url, token: Secret::new(t) }),
                        None => push(ENV_OKTA_TOKEN, "not set; create a read-only API token in Okta Admin > Security > API > Tokens".into()),
                    }
                }
                ProviderKind::Entra => {
                    let Some(e) = &self.entra else {
                        push("identity.entra", "the entra provider needs tenant_id and client_id".into());
                        continue;
                    };
                    if e.tenant_id.is_empty() || e.client_id.is_empty() {
                        push("identity.entra", "tenant_id and client_id are required (Entra admin center > App registrations)".into());
                    }
                    let graph_url = e.graph_url.clone().unwrap_or_else(|| "https://graph.microsoft.com".into());
                    let login_url = e.login_url.clone().unwrap_or_else(|| "https://login.microsoftonline.com".into());
                    if e.group_name.is_some() {
                        notes.push("identity.entra.group_name is no longer used: grants name Entra groups by object id, group = \"entra:<object id>\" (remove the setting; see accounts/README.md)".to_string());
                    }
                    for (k, u) in [("identity.entra.graph_url", &graph_url), ("identity.entra.login_url", &login_url)] {
                        if !url_ok(u) {
                            push(k, format!("{u:?} is not a URL"));
                        }
                    }
                    match env(ENV_ENTRA_SECRET).filter(|t| !t.is_empty()) {
                        Some(s) => providers.push(ProviderConfig::Entra(EntraSettings {
                            tenant_id: e.tenant_id.clone(),
                            client_id: e.client_id.clone(),
                            client_secret: Secret::new(s),
                            graph_url,
                            login_url,
                        })),
                        None => push(ENV_ENTRA_SECRET, "not set; create a client secret for the app registration (Certificates & secrets)".into()),
                    }
                }
                ProviderKind::IdentityCenter => match &self.identity_center {
                    Some(ic) if ic.identity_store_id.starts_with("d-") && !ic.region.is_empty() => {
                        providers.push(ProviderConfig::IdentityCenter { store_id: ic.identity_store_id.clone(), region: ic.region.clone() })
                    }
                    _ => push("identity.identity_center", "needs identity_store_id (d-..., IAM Identity Center > Settings) and region".into()),
                },
            }
        }
        IdentityConfig {
            providers,
            ttl: Duration::from_secs(self.cache_ttl_seconds.unwrap_or(300)),
            timeout: Duration::from_secs(timeout.clamp(1, 60)),
            help_contact: self
                .help_contact
                .unwrap_or_else(|| "your platform team".into()),
            notes,
        }
    }
}

impl IdentityConfig {
    /// Builds every configured group provider (Slack user groups through `slack`).
    pub async fn build(
        &self,
        slack: SlackDirectory,
        http: reqwest::Client,
    ) -> Vec<Arc<dyn GroupDirectory>> {
        let mut providers: Vec<Arc<dyn GroupDirectory>> = Vec::new();
        for p in &self.providers {
            providers.push(match p {
                ProviderConfig::Static(g) => Arc::new(g.clone()),
                ProviderConfig::SlackUsergroups => {
                    Arc::new(SlackUserGroups::new(slack.clone(), self.ttl))
                }
                ProviderConfig::Okta { url, token } => {
                    Arc::new(Okta::new(http.clone(), url, token.clone()))
                }
                ProviderConfig::Entra(s) => Arc::new(Entra::new(http.clone(), s.clone())),
                ProviderConfig::IdentityCenter { store_id, region } => Arc::new(
                    IdentityCenter::new(IdentityCenter::client(region).await, store_id),
                ),
            });
        }
        providers
    }

    /// Whether a provider other than the static file is configured (bare grant names match
    /// none of its groups).
    pub fn has_idp(&self) -> bool {
        self.providers
            .iter()
            .any(|p| !matches!(p, ProviderConfig::Static(_)))
    }

    /// Provider names and notes, for `opsbot check`.
    pub fn describe(&self) -> String {
        if self.providers.is_empty() {
            return "none (nobody has groups, so nobody may query any account)".into();
        }
        let mut out = self
            .providers
            .iter()
            .map(|p| match p {
                ProviderConfig::Static(_) => "static file",
                ProviderConfig::SlackUsergroups => "Slack user groups",
                ProviderConfig::Okta { .. } => "Okta",
                ProviderConfig::Entra(_) => "Microsoft Entra ID",
                ProviderConfig::IdentityCenter { .. } => "IAM Identity Center",
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "; each lookup bounded by {} s",
            self.timeout.as_secs()
        ));
        for n in &self.notes {
            out.push_str(&format!("\n    note: {n}"));
        }
        out
    }
}
