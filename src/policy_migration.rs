//! Moving from bare group names to qualified keys.
//!
//! Older policies wrote `group = "platform-admins"` and matched any provider's group of that
//! name, which anyone able to create a group could squat. Such grants still load, but mean
//! `static:platform-admins`: only the static groups file matches them. [`Policy::migration_note`]
//! says so once (start-up log, `opsbot check`); [`Policy::hints`] finds, for one person, the
//! identity-provider groups whose name (or raw id) is that of a bare grant, so the log and
//! `whoami` can name the exact key to write.

use super::Policy;
use crate::identity::group::{self, Group};

/// A bare grant name that fits one of the person's identity-provider groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The person's group (its key is what to write).
    pub group: Group,
    /// The bare name as written in the grant (lower-cased).
    pub bare: String,
}

impl Hint {
    /// What to write instead, e.g. `group = "slack:S0123ABCD"`.
    pub fn fix(&self) -> String {
        format!("group = \"{}\"", self.group.key)
    }
}

impl Policy {
    /// The bare names written in grants (lower-cased, in file order, no duplicates).
    pub fn bare_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for b in self.grants.iter().filter_map(|g| g.bare.as_deref()) {
            if !out.contains(&b) {
                out.push(b);
            }
        }
        out
    }

    /// The migration message when grants use bare names and an identity provider other than
    /// the static file is configured (`has_idp`); `None` when nothing needs doing.
    pub fn migration_note(&self, has_idp: bool) -> Option<String> {
        let bare = self.bare_names();
        if bare.is_empty() || !has_idp {
            return None;
        }
        let guids: Vec<&str> = bare.iter().copied().filter(|b| group::is_guid(b)).collect();
        let mut note = format!(
            "{} grant group name(s) have no provider prefix ({}): a bare name matches only the \
             static groups file (static:NAME), never an identity provider's group of that name. \
             To grant an identity provider's group, write its key: {}. `whoami` shows the key \
             of each of your groups; see accounts/README.md, \"Migrating bare group names\".",
            bare.len(),
            bare.join(", "),
            group::SYNTAX
        );
        if !guids.is_empty() {
            note.push_str(&format!(
                " {} look like Entra object ids: write entra:{}.",
                guids.join(", "),
                guids.join(", entra:")
            ));
        }
        Some(note)
    }

    /// The person's identity-provider groups whose display name or raw id is a bare grant
    /// name: those grants no longer match them.
    pub fn hints(&self, groups: &[Group]) -> Vec<Hint> {
        let bare = self.bare_names();
        let mut out = Vec::new();
        for g in groups {
            for b in &bare {
                if group::bare_name_fits(b, g) {
                    out.push(Hint {
                        group: g.clone(),
                        bare: b.to_string(),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::tests::sample;
    use crate::identity::group::Kind;

    fn policy(text: &str) -> Policy {
        Policy::parse(text, "access.toml", &sample(), &[], false).unwrap()
    }

    #[test]
    fn bare_grants_get_a_note_only_when_an_idp_could_have_matched_them() {
        let p = policy(
            "[[grant]]\ngroup = \"platform-admins\"\naccounts = [\"*\"]\n\
             [[grant]]\ngroup = \"0a1b2c3d-0000-4000-8000-00000000000f\"\naccounts = [\"*\"]\n\
             [[grant]]\ngroup = \"slack:S0123ABCD\"\naccounts = [\"*\"]\n",
        );
        assert_eq!(
            p.migration_note(false),
            None,
            "static file only: nothing changes"
        );
        let note = p.migration_note(true).unwrap();
        for needle in [
            "platform-admins",
            "only the static groups file",
            "slack:S…",
            "entra:0a1b2c3d-0000-4000-8000-00000000000f",
            "accounts/README.md",
        ] {
            assert!(note.contains(needle), "{needle}: {note}");
        }
        assert!(
            !note.contains("S0123ABCD"),
            "qualified grants need nothing: {note}"
        );
        assert_eq!(policy("").migration_note(true), None);
    }

    #[test]
    fn hints_name_the_key_to_write_for_groups_named_like_a_bare_grant() {
        let p = policy("[[grant]]\ngroup = \"Platform-Admins\"\naccounts = [\"*\"]\n");
        let groups = [
            Group::new(Kind::Slack, "S0123ABCD", "platform-admins"),
            Group::new(
                Kind::Entra,
                "0A1B2C3D-0000-4000-8000-00000000000F",
                "Platform-Admins",
            ),
            Group::new(Kind::Static, "platform-admins", "platform-admins"),
            Group::new(Kind::Okta, "00g1", "devs"),
        ];
        let fixes: Vec<String> = p.hints(&groups).iter().map(Hint::fix).collect();
        assert_eq!(
            fixes,
            [
                "group = \"slack:S0123ABCD\"",
                "group = \"entra:0a1b2c3d-0000-4000-8000-00000000000f\""
            ]
        );
    }
}
