//! Selectors: how the policy names accounts (`*`, an id, name or alias,
//! `environment:NAME`, `tag:KEY=VALUE`), and how they are shown.

use crate::accounts::Account;

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
