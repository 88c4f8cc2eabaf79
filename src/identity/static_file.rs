//! `static` provider: groups listed in a TOML file (`identity.static_file`).
//!
//! ```toml
//! [groups]
//! platform-admins = ["ana@example.com", "U0123ABCD"]   # emails or Slack user ids
//! ```

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
        "the static groups file"
    }

    async fn groups(&self, person: &Person) -> Result<Vec<String>, IdentityError> {
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
            .map(|(g, _)| g.clone())
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
        assert_eq!(s.groups(&ana).await.unwrap(), ["admins", "devs"]);
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
}
