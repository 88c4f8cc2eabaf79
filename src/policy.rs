//! Authorization: which accounts a person may query in a conversation. Pure and synchronous.
//!
//! Grants give groups accounts (by selector); channel guardrails cap what may ever be queried
//! in a channel; the effective set is the intersection. Default deny everywhere: no grant, no
//! account; an unlisted channel allows nothing unless `[channels] default` says otherwise.
//! Guests get only grants that say `guests = true`. [`decide`] returns the set with the
//! reasons, shown by `whoami` and logged per question.
//!
//! Channels are named with their platform (`slack:C0123…`, `teams:19:…`); a bare Slack id
//! (`C0123…`, `G0123…`) still means Slack, so older policy files load unchanged. A whole Teams
//! team is `teams:team:<team id>`: its rule covers every channel of the team that has no rule
//! of its own.

use crate::accounts::{Account, Registry};
use crate::core::inbound::{Place, PlaceKind, Platform};
use crate::problem::Problem;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A way to name accounts in the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `*`: every account.
    All,
    /// A 12-digit id, name or alias.
    Account(String),
    /// `environment:production`.
    Environment(String),
    /// `tag:team=data`.
    Tag(String, String),
}

impl Selector {
    /// Parses a selector string.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(Self::All);
        }
        if let Some(env) = s.strip_prefix("environment:") {
            return if env.is_empty() {
                Err("environment: needs a value".into())
            } else {
                Ok(Self::Environment(env.to_lowercase()))
            };
        }
        if let Some(tag) = s.strip_prefix("tag:") {
            return match tag.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok(Self::Tag(k.into(), v.into())),
                _ => Err(format!("{s:?}: write tag:KEY=VALUE")),
            };
        }
        if s.is_empty() || s.contains(':') {
            return Err(format!(
                "{s:?} is not a selector: use *, an id, name or alias, environment:NAME or tag:KEY=VALUE"
            ));
        }
        Ok(Self::Account(s.to_lowercase()))
    }

    /// Whether this selector names `account`.
    pub fn matches(&self, account: &Account) -> bool {
        match self {
            Self::All => true,
            Self::Account(k) => {
                account.id == *k
                    || account.name.to_lowercase() == *k
                    || account.aliases.iter().any(|a| a.to_lowercase() == *k)
            }
            Self::Environment(e) => account.environment.as_deref() == Some(e.as_str()),
            Self::Tag(k, v) => account.tags.get(k) == Some(v),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Account(a) => f.write_str(a),
            Self::Environment(e) => write!(f, "environment:{e}"),
            Self::Tag(k, v) => write!(f, "tag:{k}={v}"),
        }
    }
}

/// A group's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Group name as the identity providers report it (compared case-insensitively).
    pub group: String,
    /// Accounts granted.
    pub accounts: Vec<Selector>,
    /// Optional region limit; `None` means the account's regions.
    pub regions: Option<Vec<String>>,
    /// Whether the grant also applies to guests (default: members only).
    pub guests: bool,
}

/// The whole access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Grants, in file order.
    pub grants: Vec<Grant>,
    /// Channel key (`slack:C0123…`) → (label, guardrail selectors).
    pub channels: BTreeMap<String, (Option<String>, Vec<Selector>)>,
    /// Guardrail for channels not listed (default: nothing).
    pub channel_default: Vec<Selector>,
    /// Guardrail for direct messages (default: `*`).
    pub dm: Vec<Selector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    grant: Vec<RawGrant>,
    #[serde(default)]
    channels: RawChannels,
    #[serde(default)]
    channel: Vec<RawChannel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    group: String,
    accounts: Vec<String>,
    regions: Option<Vec<String>>,
    #[serde(default)]
    guests: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChannels {
    default: Option<Vec<String>>,
    dm: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: String,
    name: Option<String>,
    accounts: Vec<String>,
}

impl Policy {
    /// Parses policy TOML and checks every selector and region against `registry`.
    /// With `lenient_names` (Organizations discovery on) unknown account names are allowed.
    pub fn parse(
        text: &str,
        label: &str,
        registry: &Registry,
        extra_regions: &[String],
        lenient_names: bool,
    ) -> Result<Self, Vec<Problem>> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            vec![Problem {
                key: label.into(),
                message: format!("{}; see accounts/README.md", e.message()),
            }]
        })?;
        let mut problems = Vec::new();
        let selectors = |list: &[String], at: &str, problems: &mut Vec<Problem>| -> Vec<Selector> {
            let mut out = Vec::new();
            for s in list {
                match Selector::parse(s) {
                    Ok(Selector::Account(k)) if !lenient_names && registry.lookup(&k).is_none() => {
                        problems.push(Problem {
                            key: at.into(),
                            message: format!(
                                "{s:?} is not an account id, name or alias in the registry"
                            ),
                        })
                    }
                    Ok(sel) => out.push(sel),
                    Err(m) => problems.push(Problem {
                        key: at.into(),
                        message: m,
                    }),
                }
            }
            out
        };
        let mut grants = Vec::new();
        for (i, g) in raw.grant.iter().enumerate() {
            let at = format!("{label}: grant[{i}]");
            if g.group.trim().is_empty() {
                problems.push(Problem {
                    key: format!("{at}.group"),
                    message: "must name a group".into(),
                });
            }
            let accounts = selectors(&g.accounts, &format!("{at}.accounts"), &mut problems);
            for r in g.regions.iter().flatten() {
                if !crate::accounts::regions::is_known(r, extra_regions) {
                    problems.push(Problem {
                        key: format!("{at}.regions"),
                        message: format!("unknown region {r:?}"),
                    });
                }
            }
            grants.push(Grant {
                group: g.group.trim().to_string(),
                accounts,
                regions: g.regions.clone(),
                guests: g.guests,
            });
        }
        let mut channels = BTreeMap::new();
        for (i, c) in raw.channel.iter().enumerate() {
            let at = format!("{label}: channel[{i}]");
            let key = match channel_key(&c.id) {
                Ok(k) => k,
                Err(m) => {
                    problems.push(Problem::new(format!("{at}.id"), m));
                    c.id.clone()
                }
            };
            let sel = selectors(&c.accounts, &format!("{at}.accounts"), &mut problems);
            if channels.insert(key, (c.name.clone(), sel)).is_some() {
                problems.push(Problem {
                    key: format!("{at}.id"),
                    message: format!("channel {} is listed twice", c.id),
                });
            }
        }
        let channel_default = selectors(
            raw.channels.default.as_deref().unwrap_or(&[]),
            &format!("{label}: channels.default"),
            &mut problems,
        );
        let dm = selectors(
            raw.channels.dm.as_deref().unwrap_or(&["*".to_string()]),
            &format!("{label}: channels.dm"),
            &mut problems,
        );
        if problems.is_empty() {
            Ok(Self {
                grants,
                channels,
                channel_default,
                dm,
            })
        } else {
            Err(problems)
        }
    }
}

/// The canonical key (`slack:C0123…`) of a channel named in the policy, or what is wrong.
pub fn channel_key(id: &str) -> Result<String, String> {
    let id = id.trim();
    let slack_ok = |c: &str| {
        c.len() >= 2 && c.starts_with(['C', 'G']) && c.chars().all(|x| x.is_ascii_alphanumeric())
    };
    if let Some((prefix, rest)) = id.split_once(':') {
        return match Platform::parse(prefix) {
            Some(Platform::Slack) if slack_ok(rest) => Ok(format!("slack:{rest}")),
            Some(Platform::Slack) => Err(format!(
                "{rest:?} is not a Slack channel id (C... or G...; copy it from the channel's details)"
            )),
            Some(Platform::Teams) if !rest.is_empty() => Ok(format!("teams:{rest}")),
            _ => Err(format!(
                "{id:?}: name a channel as slack:C0123ABCD (or teams:19:...@thread.tacv2)"
            )),
        };
    }
    if slack_ok(id) {
        Ok(format!("slack:{id}"))
    } else {
        Err(format!(
            "{id:?} is not a channel id (slack:C... or a Slack id C... or G...; copy it from the channel's details)"
        ))
    }
}

/// One account the person may query, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Account id.
    pub id: String,
    /// `name (id)`.
    pub label: String,
    /// Regions they may query there.
    pub regions: Vec<String>,
    /// Groups whose grants gave it.
    pub granted_by: Vec<String>,
}

/// The outcome of [`decide`], with reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The person's groups.
    pub groups: Vec<String>,
    /// Accounts they may query here, sorted by name.
    pub allowed: Vec<Allowed>,
    /// Accounts granted but removed by the channel guardrail: (label, reason).
    pub removed: Vec<(String, String)>,
    /// The guardrail that applied, described.
    pub guardrail: String,
}

impl Decision {
    /// Ids of the accounts allowed.
    pub fn account_ids(&self) -> Vec<String> {
        self.allowed.iter().map(|a| a.id.clone()).collect()
    }
}

/// Selectors as shown to people: `*, environment:dev`, or `nothing` when empty.
pub fn describe(sel: &[Selector]) -> String {
    if sel.is_empty() {
        "nothing".into()
    } else {
        sel.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Decides which accounts someone in `groups` may query at `place`; a guest gets only the
/// grants that allow guests.
pub fn decide(
    policy: &Policy,
    registry: &Registry,
    groups: &[String],
    guest: bool,
    place: &Place,
) -> Decision {
    let (guard, guardrail): (&[Selector], String) = if place.kind == PlaceKind::Dm {
        (
            &policy.dm,
            format!("direct messages allow {}", describe(&policy.dm)),
        )
    } else if let Some((name, sel)) = policy.channels.get(&place.key()) {
        let n = name.clone().unwrap_or_else(|| "this channel".to_string());
        (sel, format!("{n} allows {}", describe(sel)))
    } else if let Some((name, sel)) = place.parent_key().and_then(|k| policy.channels.get(&k)) {
        let n = name.clone().unwrap_or_else(|| "this team".to_string());
        (sel, format!("{n} allows {}", describe(sel)))
    } else {
        (
            &policy.channel_default,
            format!(
                "channels without their own rule allow {}",
                describe(&policy.channel_default)
            ),
        )
    };
    let lower: Vec<String> = groups.iter().map(|g| g.to_lowercase()).collect();
    let mut allowed = Vec::new();
    let mut removed = Vec::new();
    for account in registry.all() {
        let mut by = Vec::new();
        let mut regions: Vec<String> = Vec::new();
        let mut members_only = false;
        for g in policy
            .grants
            .iter()
            .filter(|g| lower.contains(&g.group.to_lowercase()))
        {
            if g.accounts.iter().any(|s| s.matches(account)) {
                if guest && !g.guests {
                    members_only = true;
                    continue;
                }
                by.push(g.group.clone());
                let limit = g.regions.as_ref();
                for r in &account.regions {
                    if limit.is_none_or(|l| l.contains(r)) && !regions.contains(r) {
                        regions.push(r.clone());
                    }
                }
            }
        }
        if by.is_empty() {
            if members_only {
                removed.push((
                    account.label(),
                    "granted to your groups, but guests need a grant with guests = true".into(),
                ));
            }
            continue;
        }
        if !guard.iter().any(|s| s.matches(account)) {
            removed.push((account.label(), format!("not allowed here: {guardrail}")));
            continue;
        }
        if regions.is_empty() {
            removed.push((
                account.label(),
                "its grants' region limits exclude all of its regions".into(),
            ));
            continue;
        }
        by.dedup();
        allowed.push(Allowed {
            id: account.id.clone(),
            label: account.label(),
            regions,
            granted_by: by,
        });
    }
    Decision {
        groups: groups.to_vec(),
        allowed,
        removed,
        guardrail,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
