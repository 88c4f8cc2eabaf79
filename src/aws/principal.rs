//! Who an AWS call is made for, and how that shows in CloudTrail: the role session name,
//! `SourceIdentity` and session tags, all within STS's rules (`[\w+=,.@-]`, 2-64 characters).

use crate::core::inbound::ChatUser;

/// The person or schedule an AWS call is made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A person asking from a chat platform or the terminal.
    Person {
        /// Who, on which platform (the id is unique there; the team is tagged on the session).
        user: ChatUser,
        /// Handle, for a readable session name.
        handle: Option<String>,
        /// Email, used as `SourceIdentity`.
        email: Option<String>,
    },
    /// A scheduled job (inventory posts).
    Schedule {
        /// Schedule name.
        name: String,
    },
    /// `opsbot check --aws`.
    Check,
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// Replaces every character STS rejects with `-`, collapsing runs, trimmed to `max` chars.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if allowed(c) { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-');
    out.chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn valid(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.chars().all(allowed)
}

impl Principal {
    /// Stable cache key for this principal.
    pub fn key(&self) -> String {
        match self {
            Self::Person { user, .. } => format!("person:{}", user.key()),
            Self::Schedule { name } => format!("schedule:{name}"),
            Self::Check => "check".into(),
        }
    }

    /// `RoleSessionName`: `opsbot-<handle>-<user id>` (readable, stable, distinct per person),
    /// `opsbot-schedule-<name>`, or `opsbot-check`.
    pub fn session_name(&self) -> String {
        match self {
            Self::Person { user, handle, .. } => {
                let id = sanitize(&user.id, 20);
                let room = 64 - "opsbot-".len() - 1 - id.len();
                match handle
                    .as_deref()
                    .map(|h| sanitize(h, room))
                    .filter(|h| !h.is_empty())
                {
                    Some(h) => format!("opsbot-{h}-{id}"),
                    None => format!("opsbot-{id}"),
                }
            }
            Self::Schedule { name } => format!("opsbot-schedule-{}", sanitize(name, 64 - 16)),
            Self::Check => "opsbot-check".into(),
        }
    }

    /// `SourceIdentity`: the person's email when STS accepts it as is, else
    /// `<platform>-<user id>`; `schedule-<name>` for schedules. Never altered in a way that
    /// could collide.
    pub fn source_identity(&self) -> String {
        match self {
            Self::Person { user, email, .. } => match email {
                Some(e) if valid(e) => e.clone(),
                _ => {
                    let prefix = user.platform.as_str();
                    format!("{prefix}-{}", sanitize(&user.id, 63 - prefix.len()))
                }
            },
            Self::Schedule { name } => format!("schedule-{}", sanitize(name, 55)),
            Self::Check => "opsbot-check".into(),
        }
    }

    /// Session tags (`<platform>-user-id`, `<platform>-team-id`, `opsbot-schedule`,
    /// `opsbot-principal`), plus `opsbot-version`.
    pub fn tags(&self) -> Vec<(String, String)> {
        let tag_value = |s: &str| {
            s.chars()
                .filter(|c| c.is_alphanumeric() || " _.:/=+-@".contains(*c))
                .take(256)
                .collect::<String>()
        };
        let mut tags = vec![(
            "opsbot-version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        )];
        match self {
            Self::Person { user, .. } => {
                let p = user.platform.as_str();
                tags.push((format!("{p}-user-id"), tag_value(&user.id)));
                if let Some(t) = &user.team {
                    tags.push((format!("{p}-team-id"), tag_value(t)));
                }
            }
            Self::Schedule { name } => tags.push(("opsbot-schedule".into(), tag_value(name))),
            Self::Check => tags.push(("opsbot-principal".into(), "check".into())),
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::inbound::Platform;

    fn person(id: &str, handle: Option<&str>, email: Option<&str>) -> Principal {
        Principal::Person {
            user: ChatUser {
                platform: Platform::Slack,
                id: id.into(),
                team: Some("T1".into()),
            },
            handle: handle.map(Into::into),
            email: email.map(Into::into),
        }
    }

    #[test]
    fn session_names_are_valid_stable_and_distinct() {
        let cases = [
            person("U0123ABCD", Some("ana.lopez"), None),
            person("U0123ABCE", Some("José Müller"), None),
            person("U0123ABCF", Some("José Müllèr"), None),
            person("U0123ABCG", Some("李小龍"), None),
            person("U0123ABCH", Some(&"very long name ".repeat(10)), None),
            person("U0123ABCI", Some("with spaces and/slashes!"), None),
            person("W0123ABCDEFG", None, None),
            Principal::Schedule {
                name: "weekly prod inventory".into(),
            },
            Principal::Check,
        ];
        let names: Vec<String> = cases.iter().map(Principal::session_name).collect();
        for n in &names {
            assert!(valid(n), "invalid: {n:?}");
            assert!(n.starts_with("opsbot-"), "{n}");
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "distinct: {names:?}");
        assert_eq!(names[0], "opsbot-ana.lopez-U0123ABCD");
        assert_eq!(names[1], "opsbot-Jos-M-ller-U0123ABCE");
        assert_eq!(
            names[3], "opsbot-U0123ABCG",
            "nothing readable left: the id alone"
        );
        assert_eq!(names[7], "opsbot-schedule-weekly-prod-inventory");
        assert_eq!(cases[1].session_name(), names[1], "stable");
    }

    #[test]
    fn source_identity_is_the_email_or_the_slack_id() {
        assert_eq!(
            person("U1A", None, Some("ana@example.com")).source_identity(),
            "ana@example.com"
        );
        assert_eq!(
            person("U1A", None, Some("ana+ops@example.com")).source_identity(),
            "ana+ops@example.com"
        );
        assert_eq!(
            person("U1A", None, Some("añа@example.com")).source_identity(),
            "slack-U1A",
            "non-ASCII email not altered"
        );
        let long = format!("{}@example.com", "a".repeat(60));
        assert_eq!(
            person("U1A", None, Some(&long)).source_identity(),
            "slack-U1A"
        );
        assert_eq!(person("U1A", None, None).source_identity(), "slack-U1A");
        let terminal = Principal::Person {
            user: ChatUser::new(Platform::Terminal, "ops runner"),
            handle: None,
            email: None,
        };
        assert_eq!(terminal.source_identity(), "terminal-ops-runner");
        assert_eq!(
            Principal::Schedule {
                name: "weekly".into()
            }
            .source_identity(),
            "schedule-weekly"
        );
    }

    #[test]
    fn tags_name_the_person_and_version() {
        let tags = person("U1A", None, None).tags();
        assert!(tags.contains(&("slack-user-id".into(), "U1A".into())));
        assert!(tags.contains(&("slack-team-id".into(), "T1".into())));
        assert!(tags.iter().any(|(k, _)| k == "opsbot-version"));
    }
}
