//! The account registry: which AWS accounts exist, what people call them, and which role and
//! regions opsbot uses in each.
//!
//! Loaded from `accounts/accounts.toml` (validated: every problem listed), optionally merged
//! with AWS Organizations ([`discover`]). [`Registry::resolve`] turns what people type
//! ("prod", "the staging account", "222222222222", "all") into accounts, always within the set
//! the person may use.

pub mod discover;
pub mod regions;

use crate::problem::Problem;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Where an account's entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `accounts/accounts.toml`.
    File,
    /// AWS Organizations `ListAccounts` (not in the file).
    Organizations,
}

/// One AWS account opsbot knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// Canonical short name, e.g. `production`.
    pub name: String,
    /// Other names people use, e.g. `prod`.
    pub aliases: Vec<String>,
    /// Environment, e.g. `production`, `staging`.
    pub environment: Option<String>,
    /// Regions queried in this account.
    pub regions: Vec<String>,
    /// The read-only role opsbot assumes here.
    pub role_arn: String,
    /// `ExternalId` for the AssumeRole call, when the role requires one.
    pub external_id: Option<String>,
    /// Free-form tags (`team = "data"`), usable in policy selectors `tag:team=data`.
    pub tags: BTreeMap<String, String>,
    /// Where this entry came from.
    pub source: Source,
}

impl Account {
    /// `name (id)`, for replies.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// Registry settings from the `[accounts]` section of opsbot.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Registry file, relative to opsbot.toml (`accounts.file`).
    pub file: Option<String>,
    /// Access policy file, relative to opsbot.toml (`accounts.access_file`).
    pub access_file: Option<String>,
    /// Role name assumed in each account unless the account overrides it (`opsbot-readonly`).
    pub role_name: Option<String>,
    /// Regions queried in an account that lists none (default `["us-east-1"]`).
    pub default_regions: Option<Vec<String>>,
    /// Region codes to accept beyond the ones this build knows.
    pub extra_regions: Vec<String>,
    /// Merge accounts from AWS Organizations `ListAccounts`.
    pub discover: bool,
    /// Role to assume in the management or delegated-admin account for discovery (optional).
    pub discover_role_arn: Option<String>,
    /// Minutes between discovery refreshes (default 60).
    pub discover_refresh_minutes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    accounts: Vec<RawAccount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    environment: Option<String>,
    regions: Option<Vec<String>>,
    role_arn: Option<String>,
    role_name: Option<String>,
    external_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Default role name in member accounts (matches iam/member-role.yaml).
pub const DEFAULT_ROLE_NAME: &str = "opsbot-readonly";

/// The set of accounts, with a lookup by id, name and alias.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    accounts: Vec<Account>,
    /// lowercased id / name / alias → index into `accounts`.
    index: HashMap<String, usize>,
}

/// What a name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing the person may use is called that.
    Unknown {
        /// What they typed.
        query: String,
        /// Labels of the accounts they may use.
        allowed: Vec<String>,
    },
    /// "the staging account" but several match.
    Ambiguous {
        /// What they typed.
        query: String,
        /// Labels of the matching accounts.
        matches: Vec<String>,
    },
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown { query, allowed } if allowed.is_empty() => write!(
                f,
                "I don't know an account called \"{query}\", and you may not query any account here."
            ),
            Self::Unknown { query, allowed } => write!(
                f,
                "I don't know an account called \"{query}\" that you may query here. You may use: {}.",
                allowed.join(", ")
            ),
            Self::Ambiguous { query, matches } => write!(
                f,
                "\"{query}\" matches several accounts: {}. Which one?",
                matches.join(", ")
            ),
        }
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Registry {
    /// Builds a registry from accounts already validated.
    pub fn new(mut accounts: Vec<Account>) -> Self {
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        let mut index = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            index.insert(a.id.clone(), i);
            index.insert(a.name.to_lowercase(), i);
            for alias in &a.aliases {
                index.insert(alias.to_lowercase(), i);
            }
        }
        Self { accounts, index }
    }

    /// Loads and validates a registry file; `label` names it in problems.
    pub fn load(path: &Path, label: &str, settings: &Settings) -> Result<Self, Vec<Problem>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Problem {
                key: label.to_string(),
                message: format!(
                    "cannot read {}: {e}; create it from accounts/accounts.toml in the repo",
                    path.display()
                ),
            }]
        })?;
        Self::parse(&text, label, settings)
    }

    /// Parses and validates registry TOML, listing every problem.
    pub fn parse(text: &str, label: &str, settings: &Settings) -> Result<Self, Vec<Problem>> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            vec![Problem {
                key: label.to_string(),
                message: format!("{}; see accounts/README.md", e.message()),
            }]
        })?;
        let mut problems = Vec::new();
        let mut problem = |key: String, message: String| problems.push(Problem { key, message });
        let default_regions = settings
            .default_regions
            .clone()
            .unwrap_or_else(|| vec!["us-east-1".into()]);
        let role_name = settings.role_name.as_deref().unwrap_or(DEFAULT_ROLE_NAME);
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut accounts = Vec::new();
        for (i, r) in raw.accounts.into_iter().enumerate() {
            let at = format!("{label}: accounts[{i}]");
            if !valid_id(&r.id) {
                problem(
                    format!("{at}.id"),
                    format!("{:?} is not a 12-digit account id", r.id),
                );
            }
            if !valid_name(&r.name) {
                problem(
                    format!("{at}.name"),
                    format!("{:?} must be 1-64 letters, digits, '-', '_' or '.'", r.name),
                );
            }
            for key in std::iter::once(&r.id)
                .chain(std::iter::once(&r.name))
                .chain(&r.aliases)
            {
                let k = key.to_lowercase();
                if k == "all" || k == "*" {
                    problem(
                        at.clone(),
                        format!("{key:?} is reserved (it means every account)"),
                    );
                }
                if let Some(other) = seen.insert(k, at.clone()) {
                    problem(
                        at.clone(),
                        format!(
                            "{key:?} is already used by {other}; ids, names and aliases must be unique"
                        ),
                    );
                }
            }
            let regions = r.regions.unwrap_or_else(|| default_regions.clone());
            if regions.is_empty() {
                problem(
                    format!("{at}.regions"),
                    "must list at least one region".into(),
                );
            }
            for region in &regions {
                if !regions::is_known(region, &settings.extra_regions) {
                    problem(
                        format!("{at}.regions"),
                        format!(
                            "unknown region {region:?}; add it to accounts.extra_regions if it is new"
                        ),
                    );
                }
            }
            let partition = regions.first().map_or("aws", |r| regions::partition(r));
            let role_arn = match (&r.role_arn, &r.role_name) {
                (Some(arn), None) => {
                    if !arn.starts_with("arn:") || !arn.contains(":role/") || !arn.contains(&r.id) {
                        problem(
                            format!("{at}.role_arn"),
                            format!("{arn:?} is not a role ARN in account {}", r.id),
                        );
                    }
                    arn.clone()
                }
                (None, name) => format!(
                    "arn:{partition}:iam::{}:role/{}",
                    r.id,
                    name.as_deref().unwrap_or(role_name)
                ),
                (Some(_), Some(_)) => {
                    problem(at.clone(), "set role_arn or role_name, not both".into());
                    String::new()
                }
            };
            accounts.push(Account {
                id: r.id,
                name: r.name,
                aliases: r.aliases,
                environment: r.environment.map(|e| e.to_lowercase()),
                regions,
                role_arn,
                external_id: r.external_id,
                tags: r.tags,
                source: Source::File,
            });
        }
        if problems.is_empty() {
            Ok(Self::new(accounts))
        } else {
            Err(problems)
        }
    }

    /// Every account, sorted by name.
    pub fn all(&self) -> &[Account] {
        &self.accounts
    }

    /// The account with this id.
    pub fn get(&self, id: &str) -> Option<&Account> {
        self.index
            .get(id)
            .map(|&i| &self.accounts[i])
            .filter(|a| a.id == id)
    }

    /// The account an id, name or alias refers to (case-insensitive).
    pub fn lookup(&self, key: &str) -> Option<&Account> {
        self.index
            .get(&key.to_lowercase())
            .map(|&i| &self.accounts[i])
    }

    /// Resolves what someone typed into accounts, only among `allowed` ids.
    ///
    /// Accepts ids, names, aliases, environments ("staging"), "all"/"every account", with
    /// filler like "the ... account" removed. Anything else, or an account outside `allowed`,
    /// is `Unknown` and lists what the person may use (never what exists beyond that).
    pub fn resolve(&self, query: &str, allowed: &[String]) -> Result<Vec<&Account>, ResolveError> {
        let may: Vec<&Account> = self
            .accounts
            .iter()
            .filter(|a| allowed.contains(&a.id))
            .collect();
        let unknown = || ResolveError::Unknown {
            query: query.trim().to_string(),
            allowed: may.iter().map(|a| a.label()).collect(),
        };
        let mut q = query
            .trim()
            .trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | '.' | '?' | '!'))
            .to_lowercase();
        for prefix in ["the ", "our ", "my "] {
            if let Some(rest) = q.strip_prefix(prefix) {
                q = rest.to_string();
            }
        }
        let singular = q.ends_with(" account");
        let plural = q.ends_with(" accounts");
        for suffix in [" accounts", " account", " environment", " env"] {
            if let Some(rest) = q.strip_suffix(suffix) {
                q = rest.trim().to_string();
            }
        }
        if matches!(
            q.as_str(),
            "all" | "*" | "every" | "everything" | "each" | "any" | "all of them"
        ) {
            return if may.is_empty() {
                Err(unknown())
            } else {
                Ok(may)
            };
        }
        let in_env: Vec<&Account> = may
            .iter()
            .copied()
            .filter(|a| a.environment.as_deref() == Some(q.as_str()))
            .collect();
        // "staging accounts" means the environment; "staging" first means the account so named.
        if plural && !in_env.is_empty() {
            return Ok(in_env);
        }
        if let Some(a) = self.lookup(&q) {
            return if allowed.contains(&a.id) {
                Ok(vec![a])
            } else {
                Err(unknown())
            };
        }
        match in_env.len() {
            0 => Err(unknown()),
            n if n > 1 && singular => Err(ResolveError::Ambiguous {
                query: query.trim().to_string(),
                matches: in_env.iter().map(|a| a.label()).collect(),
            }),
            _ => Ok(in_env),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
