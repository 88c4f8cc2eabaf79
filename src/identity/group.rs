//! Group keys: how a group is named in grants, and why a name cannot be squatted.
//!
//! Every provider reports a group as a [`Group`]: a provider-qualified, immutable key plus the
//! display name people know. Grants match the key exactly, so creating a Slack user group,
//! an Entra group or an Okta group *named* `platform-admins` (or `schedule:weekly-prod`) grants
//! nothing: its key is `slack:S…`, `entra:<object id>`, `okta:00g…`, never the name.
//!
//! | key | from | compared |
//! |---|---|---|
//! | `static:<name>` | the operator's static groups file (names written by the operator) | case-insensitively |
//! | `slack:<user group id>` | Slack user groups (`S0123ABCD`) | exactly |
//! | `entra:<object id>` | Microsoft Entra ID (a GUID) | case-insensitively |
//! | `okta:<group id>` | Okta (`00g…`) | exactly |
//! | `identity_center:<GroupId>` | IAM Identity Center | case-insensitively (hex) |
//! | `schedule:<name>` | reserved: only a schedule's own authorization carries it | case-insensitively |
//!
//! A grant written as a bare name (`group = "platform-admins"`, older configs) means
//! `static:platform-admins`: it matches only the static groups file.

use serde::Serialize;

/// Where a group key comes from: its prefix and how its id is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `static:<name>`.
    Static,
    /// `slack:<user group id>`.
    Slack,
    /// `entra:<object id>`.
    Entra,
    /// `okta:<group id>`.
    Okta,
    /// `identity_center:<GroupId>`.
    IdentityCenter,
    /// `schedule:<name>` (reserved for schedules).
    Schedule,
}

/// Every kind, for parsing and messages.
const KINDS: [Kind; 6] = [
    Kind::Static,
    Kind::Slack,
    Kind::Entra,
    Kind::Okta,
    Kind::IdentityCenter,
    Kind::Schedule,
];

/// How to write each kind, for messages.
pub const SYNTAX: &str = "static:NAME, slack:S… (the Slack user group id), entra:<object id>, \
    okta:00g… (the Okta group id), identity_center:<group id> or schedule:NAME";

impl Kind {
    /// The key prefix, without the colon.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Slack => "slack",
            Self::Entra => "entra",
            Self::Okta => "okta",
            Self::IdentityCenter => "identity_center",
            Self::Schedule => "schedule",
        }
    }

    /// The provider's name as shown to people (matches its `GroupDirectory::name`).
    pub const fn provider(self) -> &'static str {
        match self {
            Self::Static => "the static groups file",
            Self::Slack => "Slack user groups",
            Self::Entra => "Microsoft Entra ID",
            Self::Okta => "Okta",
            Self::IdentityCenter => "IAM Identity Center",
            Self::Schedule => "schedules",
        }
    }

    fn from_prefix(p: &str) -> Option<Self> {
        KINDS.into_iter().find(|k| k.prefix() == p)
    }

    /// The id as compared: lower-cased where the provider's ids (or names) are
    /// case-insensitive, as is otherwise.
    fn normalize(self, id: &str) -> String {
        match self {
            Self::Slack | Self::Okta => id.to_string(),
            Self::Static | Self::Entra | Self::IdentityCenter | Self::Schedule => id.to_lowercase(),
        }
    }

    /// Whether `id` has this kind's shape; else what to write instead.
    fn check(self, id: &str) -> Result<(), String> {
        let alnum = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        let ok = match self {
            Self::Static | Self::Schedule => !id.is_empty() && !id.contains(':'),
            Self::Slack => id.starts_with('S') && id.len() >= 2 && alnum(id),
            Self::Entra => is_guid(id),
            Self::Okta => id.len() >= 3 && alnum(id),
            Self::IdentityCenter => {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            }
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Self::Static | Self::Schedule => {
                format!("{}: needs a name without ':'", self.prefix())
            }
            Self::Slack => "slack: takes the user group's id (S0123ABCD), not its handle; \
                 `whoami` shows the id of each of your groups (or call usergroups.list)"
                .into(),
            Self::Entra => "entra: takes the group's object id (a GUID: Entra admin center > \
                 Groups > the group > Object ID), not its name"
                .into(),
            Self::Okta => "okta: takes the group's id (00g…: Okta Admin > Directory > Groups > \
                 the group, in the address bar), not its name"
                .into(),
            Self::IdentityCenter => "identity_center: takes the group's GroupId (IAM Identity \
                 Center > Groups > the group > Group ID), not its name"
                .into(),
        })
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A group a person belongs to: the key grants match, and the name people know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Group {
    /// Provider-qualified, immutable key, normalized: `slack:S0123ABCD`, `entra:<guid>`, …
    pub key: String,
    /// Display name (Slack handle, Entra display name, Okta name, …). Never matched.
    pub name: String,
    /// The provider's name, e.g. `Slack user groups`.
    pub provider: &'static str,
}

impl Group {
    /// A group of `kind` with id `id` (normalized into the key) and display name `name`.
    pub fn new(kind: Kind, id: &str, name: impl Into<String>) -> Self {
        Self {
            key: format!("{}:{}", kind.prefix(), kind.normalize(id)),
            name: name.into(),
            provider: kind.provider(),
        }
    }

    /// The group of schedule `name` (`schedule:<name>`).
    pub fn schedule(name: &str) -> Self {
        Self::new(Kind::Schedule, name, format!("schedule {name}"))
    }

    /// Whether the key is reserved for schedules.
    pub fn is_reserved(&self) -> bool {
        is_reserved(&self.key)
    }

    /// The id part of the key (after the prefix).
    pub fn id(&self) -> &str {
        self.key.split_once(':').map_or("", |(_, id)| id)
    }

    /// Whether this group came from the static groups file.
    pub fn is_static(&self) -> bool {
        self.key.starts_with("static:")
    }
}

/// A group from a written key (tests, schedules): `slack:S01` is a Slack user group, a bare
/// name a static-file group; anything unparsable keeps its text as the key.
impl From<&str> for Group {
    fn from(s: &str) -> Self {
        match parse(s) {
            Ok(k) => {
                let kind = k.kind;
                let id = k.key.split_once(':').map_or("", |(_, id)| id).to_string();
                Self {
                    key: k.key,
                    name: id,
                    provider: kind.provider(),
                }
            }
            Err(_) => Self {
                key: s.to_string(),
                name: s.to_string(),
                provider: "unknown",
            },
        }
    }
}

/// Whether `key` is reserved for schedules (`schedule:…`).
pub fn is_reserved(key: &str) -> bool {
    key.starts_with("schedule:")
}

/// A group as a grant names it, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The normalized key the grant matches.
    pub key: String,
    /// Its kind.
    pub kind: Kind,
    /// Written without a prefix (an older config): the bare name, lower-cased.
    pub bare: Option<String>,
}

/// Parses a grant's `group`: a qualified key, or a bare name meaning `static:<name>`.
pub fn parse(written: &str) -> Result<Written, String> {
    let s = written.trim();
    if s.is_empty() {
        return Err("must name a group".into());
    }
    let Some((prefix, id)) = s.split_once(':') else {
        return Ok(Written {
            key: format!("static:{}", s.to_lowercase()),
            kind: Kind::Static,
            bare: Some(s.to_lowercase()),
        });
    };
    let Some(kind) = Kind::from_prefix(prefix) else {
        return Err(format!(
            "{s:?}: {prefix:?} is not a group provider; write {SYNTAX}"
        ));
    };
    let id = id.trim();
    kind.check(id)?;
    Ok(Written {
        key: format!("{}:{}", kind.prefix(), kind.normalize(id)),
        kind,
        bare: None,
    })
}

/// Whether the bare grant name `bare` (lower-cased) looks like it was meant for the IdP
/// group `g`: its display name or its raw id is that name. Such a grant no longer matches
/// `g` (it means `static:<bare>`); the migration hint names `g.key` instead.
pub fn bare_name_fits(bare: &str, g: &Group) -> bool {
    !g.is_static()
        && !g.is_reserved()
        && (g.name.to_lowercase() == bare || g.id().to_lowercase() == bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_groups_parse_to_qualified_keys() {
        let guid = "0A1B2C3D-0000-4000-8000-00000000000F";
        let cases: &[(&str, Option<&str>)] = &[
            ("platform-admins", Some("static:platform-admins")),
            ("Platform-Admins", Some("static:platform-admins")),
            ("static:Ops", Some("static:ops")),
            ("slack:S0123ABCD", Some("slack:S0123ABCD")),
            ("slack:platform-admins", None),
            ("slack:s0123abcd", None),
            (
                &format!("entra:{guid}"),
                Some("entra:0a1b2c3d-0000-4000-8000-00000000000f"),
            ),
            ("entra:platform-admins", None),
            (
                "okta:00g1emaKYZTWRYYRRTSK",
                Some("okta:00g1emaKYZTWRYYRRTSK"),
            ),
            ("okta:platform admins", None),
            (
                "identity_center:9067a1b2c3-aaaa-bbbb-cccc-000000000001",
                Some("identity_center:9067a1b2c3-aaaa-bbbb-cccc-000000000001"),
            ),
            ("identity_center:admins", None),
            ("schedule:Weekly-Prod", Some("schedule:weekly-prod")),
            ("team:data", None),
            ("static:a:b", None),
            ("", None),
        ];
        for (written, want) in cases {
            assert_eq!(
                parse(written).ok().map(|w| w.key).as_deref(),
                *want,
                "{written}: {:?}",
                parse(written)
            );
        }
        assert_eq!(parse("ops").unwrap().bare.as_deref(), Some("ops"));
        assert_eq!(parse("static:ops").unwrap().bare, None);
        assert!(parse("entra:x").unwrap_err().contains("object id"));
    }

    #[test]
    fn provider_groups_never_produce_a_bare_or_reserved_key() {
        for kind in [
            Kind::Static,
            Kind::Slack,
            Kind::Entra,
            Kind::Okta,
            Kind::IdentityCenter,
        ] {
            for name in ["platform-admins", "schedule:weekly-prod"] {
                let g = Group::new(kind, name, name);
                assert!(!g.is_reserved(), "{g:?}");
                assert_ne!(g.key, name);
            }
        }
        assert_eq!(Group::new(Kind::Entra, "ABC", "x").key, "entra:abc");
        assert_eq!(Group::new(Kind::Slack, "S0AbC", "x").key, "slack:S0AbC");
        assert!(Group::schedule("weekly").is_reserved());
    }

    #[test]
    fn bare_names_fit_idp_groups_by_name_or_id_only() {
        let slack = Group::new(Kind::Slack, "S01", "Platform-Admins");
        assert!(bare_name_fits("platform-admins", &slack));
        assert!(
            bare_name_fits("s01", &slack),
            "by id too (entra group_name = \"id\")"
        );
        assert!(!bare_name_fits("devs", &slack));
        let stat = Group::new(Kind::Static, "platform-admins", "platform-admins");
        assert!(
            !bare_name_fits("platform-admins", &stat),
            "the static file still matches"
        );
    }
}
