//! Identity: a chat user becomes a [`Person`] (email, name, standing) and a set of groups.
//!
//! Each platform brings its own [`Profiles`] (Slack `users.info`; Teams' member lookup; the
//! terminal trusts the operator's `--as`). Groups are the union of every configured
//! [`GroupDirectory`] (static file, Slack user groups, Okta, Microsoft Entra ID, IAM Identity
//! Center), each reported as a provider-qualified [`Group`] key ([`group`]) so a group *named*
//! like a grant grants nothing. The [`Directory`] caches each answer for
//! `identity.cache_ttl_seconds`, bounds every outside call by `identity.timeout_seconds`, and
//! fails closed: if any provider fails or does not answer, the whole lookup fails, never an
//! empty or partial (possibly narrower or wider) grant. A stranger (someone from another
//! organisation) is identified before any group is looked up, and their email, asserted by
//! that other organisation, is never used.

mod directory;
pub mod entra;
pub mod group;
pub mod identity_center;
pub mod okta;
pub mod settings;
pub mod slack;
pub mod static_file;

pub use directory::Directory;
pub use group::Group;

use crate::core::inbound::ChatUser;
use async_trait::async_trait;

/// Whether a person counts as a member of the workspace at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// A full member.
    Member,
    /// A guest (Slack multi- or single-channel guest, Teams guest): only grants that allow
    /// guests apply.
    Guest,
    /// Someone from another organisation (a Slack Connect user whose team or enterprise is not
    /// ours, an anonymous Teams participant): only grants that allow strangers apply, and
    /// only groups keyed by their own platform id count (never by the email they carry).
    Stranger,
    /// Deactivated: refused always, whatever groups still list them.
    Deactivated,
}

/// A person as opsbot knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Who, on which platform.
    pub user: ChatUser,
    /// Email from the platform profile (Slack needs `users:read.email`); never set for a
    /// stranger (their email is asserted by another organisation).
    pub email: Option<String>,
    /// Handle (Slack `name`), for readable session names.
    pub handle: Option<String>,
    /// Display or real name.
    pub display_name: Option<String>,
    /// Member, guest, stranger or deactivated.
    pub standing: Standing,
}

impl Person {
    /// A member known only by `user` and `email`.
    pub fn member(user: ChatUser, email: Option<String>) -> Self {
        Self {
            user,
            email,
            handle: None,
            display_name: None,
            standing: Standing::Member,
        }
    }
}

/// A person with their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who.
    pub person: Person,
    /// Union of all providers' groups, sorted by key, no duplicate keys.
    pub groups: Vec<Group>,
}

impl Identity {
    /// The groups' keys, as grants match them.
    pub fn keys(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.key.clone()).collect()
    }
}

/// Why identity could not be established (the request fails closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A provider could not be read.
    #[error("couldn't read your groups from {provider}")]
    Provider {
        /// Provider name, e.g. `Okta`.
        provider: &'static str,
        /// What went wrong (for logs; not shown to users).
        detail: String,
    },
    /// The person's profile could not be read.
    #[error("couldn't read your profile")]
    Profile {
        /// What went wrong (for logs).
        detail: String,
    },
    /// The platform could not confirm who sent the message (e.g. the Teams member lookup
    /// names someone else).
    #[error("couldn't confirm who you are")]
    Unverified {
        /// What went wrong (for logs).
        detail: String,
    },
}

impl IdentityError {
    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Provider { .. } => "identity_provider",
            Self::Profile { .. } => "identity_profile",
            Self::Unverified { .. } => "identity_unverified",
        }
    }
}

/// Looks up people on one platform. Real: [`slack::SlackDirectory`], [`TrustedProfiles`].
#[async_trait]
pub trait Profiles: Send + Sync {
    /// The person behind `user`.
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError>;
}

/// Profiles for front doors whose operator is trusted to say who they act for (the terminal):
/// the user id is taken as the email when it looks like one.
pub struct TrustedProfiles;

#[async_trait]
impl Profiles for TrustedProfiles {
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let email = user.id.contains('@').then(|| user.id.to_lowercase());
        Ok(Person::member(user.clone(), email))
    }
}

/// A source of group memberships.
#[async_trait]
pub trait GroupDirectory: Send + Sync {
    /// Name shown to users when it fails, e.g. `Okta` (the [`group::Kind::provider`] name).
    fn name(&self) -> &'static str;
    /// The person's groups, each with its provider-qualified key.
    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError>;
}
