//! Authorization: which accounts a person may query in a conversation. Pure and synchronous.
//!
//! Grants give groups accounts (by selector); channel guardrails cap what may ever be queried
//! in a channel; the effective set is the intersection. Default deny everywhere: no grant, no
//! account; an unlisted channel allows nothing unless `[channels] default` says otherwise.
//! Guests get only grants that say `guests = true`, strangers (another organisation's people)
//! only grants that say `strangers = true`, deactivated people nothing. [`decide_for`] returns
//! the set with the reasons, shown by `whoami` and logged per question; for guests and
//! strangers the reasons count what was withheld and never name it.
//!
//! Grants name groups by provider-qualified key (`slack:S0123ABCD`, `entra:<object id>`, …;
//! see [`crate::identity::group`]) and match exactly, so a group merely *named* like a grant
//! gets nothing. A bare name (older configs) means `static:<name>`: only the static groups
//! file matches it ([`migration`] explains how to move on). `schedule:<name>` grants apply only
//! to the schedule itself: no person's group can carry that key.
//!
//! Channels are named with their platform (`slack:C0123…`, `teams:19:…`); a bare Slack id
//! (`C0123…`, `G0123…`) still means Slack, so older policy files load unchanged. A whole Teams
//! team is `teams:team:<team id>`: its rule covers every channel of the team that has no rule
//! of its own.

use crate::accounts::Registry;
use crate::core::inbound::{Place, PlaceKind, Platform};
use crate::identity::Standing;
use crate::identity::group;
use crate::problem::Problem;
use serde::Deserialize;
use std::collections::BTreeMap;

#[path = "policy_selector.rs"]
mod selector;
pub use selector::{Selector, describe};

/// A group's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The group key it matches exactly, normalized (`slack:S0123ABCD`, `static:admins`, …).
    pub group: String,
    /// The name as written when it had no provider prefix (older configs), lower-cased: it
    /// means `static:<name>`.
    pub bare: Option<String>,
    /// Accounts granted.
    pub accounts: Vec<Selector>,
    /// Optional region limit; `None` means the account's regions.
    pub regions: Option<Vec<String>>,
    /// Whether the grant also applies to guests (default: members only).
    pub guests: bool,
    /// Whether the grant also applies to strangers, people of another organisation
    /// (default: no).
    pub strangers: bool,
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
    #[serde(default)]
    strangers: bool,
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
            let written = group::parse(&g.group).unwrap_or_else(|m| {
                problems.push(Problem::new(format!("{at}.group"), m));
                group::Written {
                    key: g.group.clone(),
                    kind: group::Kind::Static,
                    bare: None,
                }
            });
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
                group: written.key,
                bare: written.bare,
                accounts,
                regions: g.regions.clone(),
                guests: g.guests,
                strangers: g.strangers,
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
    /// Group keys of the grants that gave it (`static:admins`, `slack:S0123ABCD`).
    pub granted_by: Vec<String>,
}

/// How many accounts were withheld, and why, without naming them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Withheld {
    /// Granted to the person's groups, but by grants not for their standing (members only,
    /// or not `strangers = true`).
    pub standing: usize,
    /// Granted, but outside this conversation's guardrail.
    pub elsewhere: usize,
    /// Granted, but the grants' region limits exclude all of the account's regions.
    pub regions: usize,
}

impl Withheld {
    /// Accounts withheld in all.
    pub fn total(&self) -> usize {
        self.standing + self.elsewhere + self.regions
    }
}

/// The outcome of [`decide_for`], with reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The person's group keys.
    pub groups: Vec<String>,
    /// Accounts they may query here, sorted by name.
    pub allowed: Vec<Allowed>,
    /// Members only: accounts granted but withheld here, (label, reason). Empty for guests
    /// and strangers, who are never told about accounts they cannot query.
    pub removed: Vec<(String, String)>,
    /// What was withheld, counted (everyone).
    pub withheld: Withheld,
    /// The guardrail that applied, described (may name accounts: shown to members only).
    pub guardrail: String,
    /// Bare grant names that fit one of the person's IdP groups (see [`migration`]).
    pub hints: Vec<migration::Hint>,
}

impl Decision {
    /// Ids of the accounts allowed.
    pub fn account_ids(&self) -> Vec<String> {
        self.allowed.iter().map(|a| a.id.clone()).collect()
    }
}

/// Decides for a member (`guest = false`) or a guest; see [`decide_for`].
pub fn decide(
    policy: &Policy,
    registry: &Registry,
    groups: &[String],
    guest: bool,
    place: &Place,
) -> Decision {
    let standing = if guest {
        Standing::Guest
    } else {
        Standing::Member
    };
    decide_for(policy, registry, groups, standing, place)
}

/// The guardrail selectors for `place`, described.
fn guardrail<'a>(policy: &'a Policy, place: &Place) -> (&'a [Selector], String) {
    if place.kind == PlaceKind::Dm {
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
    }
}

/// Decides which accounts someone with group keys `groups` and `standing` may query at
/// `place`. Keys match grants exactly (normalized like grants: a bare name is a static-file
/// group). A guest gets only `guests = true` grants, a stranger only `strangers = true`
/// grants, a deactivated person nothing.
pub fn decide_for(
    policy: &Policy,
    registry: &Registry,
    groups: &[String],
    standing: Standing,
    place: &Place,
) -> Decision {
    let keys: Vec<String> = groups
        .iter()
        .map(|g| group::parse(g).map_or_else(|_| g.clone(), |w| w.key))
        .collect();
    if standing == Standing::Deactivated {
        return Decision {
            groups: keys,
            guardrail: "deactivated accounts may query nothing".into(),
            ..Decision::default()
        };
    }
    let (guard, guardrail) = guardrail(policy, place);
    let applies = |g: &Grant| match standing {
        Standing::Member => true,
        Standing::Guest => g.guests,
        Standing::Stranger => g.strangers,
        Standing::Deactivated => false,
    };
    let member = standing == Standing::Member;
    let mut allowed = Vec::new();
    let mut removed = Vec::new();
    let mut withheld = Withheld::default();
    for account in registry.all() {
        let mut by = Vec::new();
        let mut regions: Vec<String> = Vec::new();
        let mut not_for_them = false;
        for g in policy.grants.iter().filter(|g| keys.contains(&g.group)) {
            if !g.accounts.iter().any(|s| s.matches(account)) {
                continue;
            }
            if !applies(g) {
                not_for_them = true;
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
        let why = if by.is_empty() {
            if not_for_them {
                withheld.standing += 1;
            }
            continue;
        } else if !guard.iter().any(|s| s.matches(account)) {
            withheld.elsewhere += 1;
            format!("not allowed here: {guardrail}")
        } else if regions.is_empty() {
            withheld.regions += 1;
            "its grants' region limits exclude all of its regions".to_string()
        } else {
            by.dedup();
            allowed.push(Allowed {
                id: account.id.clone(),
                label: account.label(),
                regions,
                granted_by: by,
            });
            continue;
        };
        if member {
            removed.push((account.label(), why));
        }
    }
    Decision {
        groups: keys,
        allowed,
        removed,
        withheld,
        guardrail,
        hints: Vec::new(),
    }
}

#[path = "policy_migration.rs"]
pub mod migration;

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
