//! Who may query what, here: identity (person, standing, groups) and policy combined, decided
//! in code before any AWS credential is requested. The result is an [`Authorization`]: data,
//! no markup. [`replies`] turns it into the `whoami`, `accounts` and refusal answers.
//!
//! Grants match provider-qualified group keys; a person whose identity-provider group merely
//! has the name of a bare (older) grant gets nothing from it, and a warning names the key to
//! write, once per group per hour.

pub mod replies;

use crate::accounts::discover::AccountBook;
use crate::aws::principal::Principal;
use crate::core::inbound::{ChatUser, Place};
use crate::identity::{Directory, Group, Identity, IdentityError, Standing};
use crate::policy::{self, Allowed, Decision, Policy};
use std::sync::Arc;
use std::time::Duration;

/// How often the same bare-name migration warning is logged for one group, at most.
const HINT_EVERY: Duration = Duration::from_secs(3600);

/// Identity + registry + policy.
pub struct Access {
    directory: Directory,
    book: Arc<AccountBook>,
    policy: Policy,
    help: String,
    /// Groups whose migration hint was logged recently (bounded).
    hinted: moka::sync::Cache<String, ()>,
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

    /// Whom AWS calls are made for: the session name and SourceIdentity come from this (a
    /// stranger's email was never kept, so their SourceIdentity is their platform id).
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
    /// Logs the bare-name migration note at start when it applies.
    pub fn new(directory: Directory, book: Arc<AccountBook>, policy: Policy, help: &str) -> Self {
        if let Some(note) = policy.migration_note(directory.has_idp()) {
            tracing::warn!("access policy: {note}");
        }
        Self {
            directory,
            book,
            policy,
            help: help.to_string(),
            hinted: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(HINT_EVERY)
                .build(),
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
        let groups = vec![Group::from(group)];
        let keys: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
        let decision = policy::decide_for(&self.policy, &registry, &keys, Standing::Member, place);
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
    /// a deactivated person may query nothing, whatever their groups say; a guest or stranger
    /// only what grants for them allow.
    pub async fn decide(
        &self,
        user: &ChatUser,
        place: &Place,
    ) -> Result<Authorization, IdentityError> {
        let identity = self.directory.identify(user).await?;
        let registry = self.book.current();
        let standing = identity.person.standing;
        let mut decision =
            policy::decide_for(&self.policy, &registry, &identity.keys(), standing, place);
        decision.hints = self.policy.hints(&identity.groups);
        for h in &decision.hints {
            if !self.hinted.contains_key(&h.group.key) {
                self.hinted.insert(h.group.key.clone(), ());
                tracing::warn!(
                    group = %h.group.key,
                    name = %h.group.name,
                    provider = h.group.provider,
                    "a grant names group {:?} without a provider, which now matches only the static groups file, not this {} group; if the grant is meant for it, write {}",
                    h.bare,
                    h.group.provider,
                    h.fix()
                );
            }
        }
        tracing::info!(
            target: "audit",
            user = %user.key(),
            email = identity.person.email.as_deref().unwrap_or("-"),
            standing = ?standing,
            place = %place.key(),
            groups = ?decision.groups,
            accounts = ?decision.account_ids(),
            withheld = decision.withheld.total(),
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
