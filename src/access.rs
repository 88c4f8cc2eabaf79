//! Who may query what, here: identity (person + groups) and policy combined, decided in code
//! before any AWS credential is requested. Also renders the `/aws whoami` and `/aws accounts`
//! answers and the refusals, so every path explains itself the same way.

use crate::accounts::discover::AccountBook;
use crate::identity::{Directory, Identity, IdentityError};
use crate::policy::{self, Decision, Place, Policy};
use std::sync::Arc;

/// Identity + registry + policy.
pub struct Access {
    directory: Directory,
    book: Arc<AccountBook>,
    policy: Policy,
    help: String,
}

/// A person's identity and what they may query at a place.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Who, with groups.
    pub identity: Identity,
    /// The decision with reasons.
    pub decision: Decision,
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

    /// Decides what `user` may query at `place`. Fails closed if identity can't be read.
    pub async fn decide(&self, user: &str, place: &Place) -> Result<Grant, IdentityError> {
        let identity = self.directory.identify(user).await?;
        let registry = self.book.current();
        let decision = policy::decide(&self.policy, &registry, &identity.groups, place);
        tracing::info!(
            target: "audit",
            user,
            email = identity.person.email.as_deref().unwrap_or("-"),
            channel = place.channel,
            groups = ?identity.groups,
            accounts = ?decision.account_ids(),
            removed = decision.removed.len(),
            "access decided"
        );
        Ok(Grant { identity, decision })
    }

    /// The reply when identity could not be read (fail closed).
    pub fn identity_failure(&self, e: &IdentityError) -> String {
        format!(
            "I {e}, so I can't tell which AWS accounts you may query. Nothing was run. \
             Try again in a minute, or ask {} if it keeps failing.",
            self.help
        )
    }

    /// The reply when the person may query nothing here.
    pub fn refusal(&self, g: &Grant) -> String {
        let groups = if g.identity.groups.is_empty() {
            "you are in no group that opsbot knows".to_string()
        } else {
            format!(
                "your groups ({}) grant no account here",
                g.identity.groups.join(", ")
            )
        };
        let mut text = format!("You may not query any AWS account here: {groups}.");
        if !g.decision.removed.is_empty() {
            text.push_str(&format!(
                " Some accounts are granted to you but not in this conversation ({}); try a direct message or the channel your team uses for this.",
                g.decision.guardrail
            ));
        }
        text.push_str(&format!(" To get access, ask {}.", self.help));
        text
    }

    /// `/aws accounts`.
    pub fn accounts_text(&self, g: &Grant) -> String {
        if g.decision.allowed.is_empty() {
            return self.refusal(g);
        }
        let mut out = String::from("*AWS accounts you may query here:*\n");
        for a in &g.decision.allowed {
            out.push_str(&format!("• {} — {}\n", a.label, a.regions.join(", ")));
        }
        out.push_str("Name them as you like: by name, alias, id, environment (\"staging accounts\") or \"all\"; `accounts NAME` shows what a name means here.");
        out
    }

    /// `/aws accounts NAME`: the accounts `name` means here, or a polite reply naming the
    /// accounts the person may use (never accounts beyond their grant).
    pub fn named_accounts_text(&self, g: &Grant, name: &str) -> String {
        if g.decision.allowed.is_empty() {
            return self.refusal(g);
        }
        let registry = self.book.current();
        let accounts = match registry.resolve(name, &g.decision.account_ids()) {
            Ok(accounts) => accounts,
            Err(e) => return e.to_string(),
        };
        let mut out = format!("*\"{}\" here means:*\n", name.trim());
        for a in accounts {
            let Some(allowed) = g.decision.allowed.iter().find(|al| al.id == a.id) else {
                continue;
            };
            out.push_str(&format!("• {}", a.label()));
            if let Some(env) = &a.environment {
                out.push_str(&format!(" — {env}"));
            }
            out.push_str(&format!(" — regions {}", allowed.regions.join(", ")));
            if !a.aliases.is_empty() {
                out.push_str(&format!(" — also called {}", a.aliases.join(", ")));
            }
            out.push_str(&format!(
                " — granted by {}\n",
                allowed.granted_by.join(", ")
            ));
        }
        out.trim_end().to_string()
    }

    /// `/aws whoami`.
    pub fn whoami_text(&self, g: &Grant, place: &Place) -> String {
        let p = &g.identity.person;
        let name = p.display_name.clone().unwrap_or_else(|| p.slack_id.clone());
        let mut out = format!(
            "You are *{name}* (<@{}>{}).\n*Groups* ({}): {}\n",
            p.slack_id,
            p.email
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default(),
            self.directory
                .provider_names()
                .join(", ")
                .if_empty("no providers configured"),
            g.identity.groups.join(", ").if_empty("none"),
        );
        let here = if place.is_dm {
            "in this DM".to_string()
        } else {
            format!("in <#{}>", place.channel)
        };
        if g.decision.allowed.is_empty() {
            out.push_str(&format!("*Accounts you may query {here}:* none.\n"));
        } else {
            out.push_str(&format!("*Accounts you may query {here}:*\n"));
            for a in &g.decision.allowed {
                out.push_str(&format!(
                    "• {} — regions {} — granted by {}\n",
                    a.label,
                    a.regions.join(", "),
                    a.granted_by.join(", ")
                ));
            }
        }
        for (label, why) in &g.decision.removed {
            out.push_str(&format!("• ~{label}~ — {why}\n"));
        }
        out.push_str(&format!("_Guardrail: {}._", g.decision.guardrail));
        out
    }
}

trait IfEmpty {
    fn if_empty(self, alt: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, alt: &str) -> String {
        if self.is_empty() {
            alt.to_string()
        } else {
            self
        }
    }
}
