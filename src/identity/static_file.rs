//! `static` provider: groups listed in a TOML file (`identity.static_file`).
//!
//! ```toml
//! [groups]
//! platform-admins = ["ana@example.com", "U0123ABCD"]   # emails or Slack user ids
//! ```
//!
//! Its groups are `static:<name>` (the operator writes the names, so they cannot be
//! squatted); a name may not contain `:`, so no static group can look like another
//! provider's key or a schedule's.

use super::group::{Group, Kind};
use super::{GroupDirectory, IdentityError, Person};
use crate::core::inbound::Platform;
use crate::problem::Problem;
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Groups from a file, matched by email (case-insensitive) or Slack user id.
#[derive(Debug, Clone, Default)]
pub struct StaticGroups {
    groups: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
}

impl StaticGroups {
    /// Parses the file's text; `label` names it in problems.
    pub fn parse(text: &str, label: &str) -> Result<Self, Vec<Problem>> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            vec![Problem {
                key: label.into(),
                message: format!(
                    "{}; expected [groups] NAME = [\"email or Slack id\", ...]",
                    e.message()
                ),
            }]
        })?;
        let mut problems = Vec::new();
        for (g, members) in &raw.groups {
            if g.contains(':') || g.trim().is_empty() {
                problems.push(Problem {
                    key: format!("{label}: groups.{g}"),
                    message: "a group name may not be empty or contain ':' (prefixes such as \
                        schedule: and slack: are reserved); rename the group and its grants"
                        .into(),
                });
            }
            for m in members {
                if !(m.contains('@') || (m.starts_with(['U', 'W']) && m.len() >= 9)) {
                    problems.push(Problem {
                        key: format!("{label}: groups.{g}"),
                        message: format!("{m:?} is neither an email nor a Slack user id (U...)"),
                    });
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let groups = raw
            .groups
            .into_iter()
            .map(|(g, m)| {
                (
                    g,
                    m.into_iter()
                        .map(|x| if x.contains('@') { x.to_lowercase() } else { x })
                        .collect(),
                )
            })
            .collect();
        Ok(Self { groups })
    }

    /// Loads the file.
    pub fn load(path: &Path, label: &str) -> Result<Self, Vec<Problem>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Problem {
                key: label.into(),
                message: format!("cannot read {}: {e}", path.display()),
            }]
        })?;
        Self::parse(&text, label)
    }
}

#[async_trait]
impl GroupDirectory for StaticGroups {
    fn name(&self) -> &'static str {
        Kind::Static.provider()
    }

    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError> {
        let email = person.email.as_deref().map(str::to_lowercase);
        Ok(self
            .groups
            .iter()
            .filter(|(_, members)| {
                members.iter().any(|m| {
                    (person.user.platform == Platform::Slack && *m == person.user.id)
                        || Some(m) == email.as_ref()
                })
            })
            .map(|(g, _)| Group::new(Kind::Static, g, g.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::ChatUser;

    #[tokio::test]
    async fn matches_by_email_or_slack_id() {
        let s = StaticGroups::parse("[groups]\nadmins = [\"Ana@Example.com\"]\ndevs = [\"U0123ABCD\", \"bo@example.com\"]\n", "g").unwrap();
        let slack = |id: &str| ChatUser::new(Platform::Slack, id);
        let ana = Person::member(slack("U0123ABCD"), Some("ana@example.COM".into()));
        let keys = |g: Vec<Group>| g.into_iter().map(|g| g.key).collect::<Vec<_>>();
        assert_eq!(
            keys(s.groups(&ana).await.unwrap()),
            ["static:admins", "static:devs"]
        );
        let nobody = Person::member(slack("U9"), None);
        assert!(s.groups(&nobody).await.unwrap().is_empty());
        let teams_with_slack_id = Person::member(ChatUser::new(Platform::Teams, "U0123ABCD"), None);
        assert!(
            s.groups(&teams_with_slack_id).await.unwrap().is_empty(),
            "a Slack id matches only Slack users"
        );
        assert!(StaticGroups::parse("[groups]\nx = [\"bob\"]\n", "g").is_err());
        assert!(StaticGroups::parse("[group]\n", "g").is_err());
    }

    #[test]
    fn group_names_with_a_colon_are_refused() {
        for name in ["\"schedule:weekly-prod\"", "\"slack:S0123ABCD\""] {
            let e = StaticGroups::parse(&format!("[groups]\n{name} = [\"a@example.com\"]\n"), "g")
                .unwrap_err();
            assert!(e[0].message.contains("':'"), "{e:?}");
        }
    }
}
