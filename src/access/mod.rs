//! Who may query what, here: identity (person, standing, groups) and policy combined, decided
//! in code before any AWS credential is requested. The result is an [`Authorization`]: data,
//! no markup. [`replies`] turns it into the `whoami`, `accounts` and refusal answers.

pub mod replies;

use crate::accounts::discover::AccountBook;
use crate::aws::principal::Principal;
use crate::core::inbound::{ChatUser, Place};
use crate::identity::{Directory, Identity, IdentityError, Standing};
use crate::policy::{self, Allowed, Decision, Policy};
use std::sync::Arc;

/// Identity + registry + policy.
pub struct Access {
    directory: Directory,
    book: Arc<AccountBook>,
    policy: Policy,
    help: String,
}

/// A person's identity and what they may query at a place, with the reasons.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// Who, with standing and groups.
    pub identity: Identity,
    /// Where the decision holds.
    pub place: Place,
    /// The decision with reasons.
    pub decision: Decision,
}

impl Authorization {
    /// Whether the person may query at least one account here.
    pub fn may_query(&self) -> bool {
        !self.decision.allowed.is_empty()
    }

    /// The allowed account with this id, if any.
    pub fn allowed(&self, account_id: &str) -> Option<&Allowed> {
        self.decision.allowed.iter().find(|a| a.id == account_id)
    }

    /// Whom AWS calls are made for: the session name and SourceIdentity come from this.
    pub fn principal(&self) -> Principal {
        let p = &self.identity.person;
        Principal::Person {
            user: p.user.clone(),
            handle: p.handle.clone(),
            email: p.email.clone(),
        }
    }
}

impl Access {
    /// Combines the parts; `help` is where people ask for access (e.g. `#platform`).
    pub fn new(directory: Directory, book: Arc<AccountBook>, policy: Policy, help: &str) -> Self {
        Self {
            directory,
            book,
            policy,
            help: help.to_string(),
        }
    }

    /// The live account book.
    pub fn book(&self) -> &Arc<AccountBook> {
        &self.book
    }

    /// Where people ask for access.
    pub fn help_contact(&self) -> &str {
        &self.help
    }

    /// Names of the configured group providers.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.directory.provider_names()
    }

    /// The authorization of schedule `name` (its grants: group `group`) where it posts. A
    /// schedule acts as itself, not as a person.
    pub fn for_schedule(&self, name: &str, group: &str, place: &Place) -> Authorization {
        let registry = self.book.current();
        let groups = vec![group.to_string()];
        let decision = policy::decide(&self.policy, &registry, &groups, false, place);
        let mut person = crate::identity::Person::member(
            ChatUser::new(
                crate::core::inbound::Platform::Terminal,
                format!("schedule:{name}"),
            ),
            None,
        );
        person.display_name = Some(format!("schedule {name}"));
        Authorization {
            identity: Identity { person, groups },
            place: place.clone(),
            decision,
        }
    }

    /// Decides what `user` may query at `place`. Fails closed if identity can't be read;
    /// a deactivated person may query nothing, whatever their groups say.
    pub async fn decide(
        &self,
        user: &ChatUser,
        place: &Place,
    ) -> Result<Authorization, IdentityError> {
        let identity = self.directory.identify(user).await?;
        let registry = self.book.current();
        let standing = identity.person.standing;
        let decision = match standing {
            Standing::Deactivated => Decision {
                groups: identity.groups.clone(),
                guardrail: "deactivated accounts may query nothing".into(),
                ..Decision::default()
            },
            Standing::Member | Standing::Guest => policy::decide(
                &self.policy,
                &registry,
                &identity.groups,
                standing == Standing::Guest,
                place,
            ),
        };
        tracing::info!(
            target: "audit",
            user = %user.key(),
            email = identity.person.email.as_deref().unwrap_or("-"),
            standing = ?standing,
            place = %place.key(),
            groups = ?identity.groups,
            accounts = ?decision.account_ids(),
            removed = decision.removed.len(),
            "access decided"
        );
        Ok(Authorization {
            identity,
            place: place.clone(),
            decision,
        })
    }
}

#[cfg(test)]
mod tests;
