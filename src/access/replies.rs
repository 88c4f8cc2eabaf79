//! The access answers as [`Answer`] documents: `whoami`, `accounts`, `accounts NAME`, the
//! refusal when a person may query nothing here, and the reply when identity can't be read.
//! Plain Markdown; every platform renders it its own way. Refusals never name accounts beyond
//! the person's authorization.

use super::{Access, Authorization};
use crate::core::answer::Answer;
use crate::core::inbound::PlaceKind;
use crate::identity::{IdentityError, Standing};

/// Reason text the policy gives guests for grants that are members-only.
const GUEST_REASON: &str = "guests need a grant with guests = true";

fn here(auth: &Authorization) -> &'static str {
    match auth.place.kind {
        PlaceKind::Dm => "in this direct message",
        PlaceKind::Channel => "in this channel",
        PlaceKind::Group => "in this conversation",
    }
}

impl Access {
    /// The reply when identity could not be read (fail closed).
    pub fn identity_failure(&self, e: &IdentityError) -> Answer {
        Answer::text(format!(
            "I {e}, so I can't tell which AWS accounts you may query. Nothing was run. \
             Try again in a minute, or ask {} if it keeps failing.",
            self.help
        ))
    }

    /// The reply when the person may query nothing here.
    pub fn refusal(&self, auth: &Authorization) -> Answer {
        let d = &auth.decision;
        if auth.identity.person.standing == Standing::Deactivated {
            return Answer::text(format!(
                "Your account is deactivated, so I can't query AWS for you. \
                 If this is wrong, ask {}.",
                self.help
            ));
        }
        let groups = if auth.identity.groups.is_empty() {
            "you are in no group that opsbot knows".to_string()
        } else {
            format!(
                "your groups ({}) grant no account here",
                auth.identity.groups.join(", ")
            )
        };
        let mut text = format!("You may not query any AWS account here: {groups}.");
        let (guest, elsewhere): (Vec<_>, Vec<_>) = d
            .removed
            .iter()
            .partition(|(_, why)| why.contains(GUEST_REASON));
        if !guest.is_empty() {
            text.push_str(
                " You are a guest in this workspace: only grants that allow guests \
                 (`guests = true`) apply to you.",
            );
        }
        if !elsewhere.is_empty() {
            text.push_str(&format!(
                " Some accounts are granted to you but not in this conversation ({}); \
                 try a direct message or the channel your team uses for this.",
                d.guardrail
            ));
        }
        text.push_str(&format!(" To get access, ask {}.", self.help));
        Answer::text(text)
    }

    /// `accounts`: the accounts the person may query here, with regions.
    pub fn accounts(&self, auth: &Authorization) -> Answer {
        if !auth.may_query() {
            return self.refusal(auth);
        }
        let mut out = String::from("**AWS accounts you may query here:**\n");
        for a in &auth.decision.allowed {
            out.push_str(&format!("- {} — {}\n", a.label, a.regions.join(", ")));
        }
        Answer::text(out.trim_end()).paragraph(
            "Name them as you like: by name, alias, id, environment (\"staging accounts\") or \
             \"all\"; `accounts NAME` shows what a name means here.",
        )
    }

    /// `accounts NAME`: the accounts `name` means here, or a polite reply naming the accounts
    /// the person may use (never accounts beyond their authorization).
    pub fn named_accounts(&self, auth: &Authorization, name: &str) -> Answer {
        if !auth.may_query() {
            return self.refusal(auth);
        }
        let registry = self.book.current();
        let accounts = match registry.resolve(name, &auth.decision.account_ids()) {
            Ok(accounts) => accounts,
            Err(e) => return Answer::text(e.to_string()),
        };
        let mut out = format!("**\"{}\" here means:**\n", name.trim());
        for a in accounts {
            let Some(allowed) = auth.allowed(&a.id) else {
                continue;
            };
            out.push_str(&format!("- {}", a.label()));
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
        Answer::text(out.trim_end())
    }

    /// `whoami`: identity, standing, groups with their sources, accounts here with the grant
    /// behind each, and what the conversation's guardrail removed.
    pub fn whoami(&self, auth: &Authorization) -> Answer {
        let p = &auth.identity.person;
        let name = p.display_name.clone().unwrap_or_else(|| p.user.id.clone());
        let email = p
            .email
            .as_deref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default();
        let providers = self.directory.provider_names().join(", ");
        let mut out = format!(
            "You are **{name}** (`{}` on {}{email}).\n",
            p.user.id, p.user.platform
        );
        match p.standing {
            Standing::Member => {}
            Standing::Guest => out.push_str(
                "You are a **guest**: only grants that allow guests (`guests = true`) apply to you.\n",
            ),
            Standing::Deactivated => out.push_str(
                "Your account is **deactivated**: opsbot queries nothing for you.\n",
            ),
        }
        out.push_str(&format!(
            "**Groups** ({}): {}\n",
            if providers.is_empty() {
                "no providers configured"
            } else {
                &providers
            },
            if auth.identity.groups.is_empty() {
                "none".to_string()
            } else {
                auth.identity.groups.join(", ")
            }
        ));
        let here = here(auth);
        if auth.decision.allowed.is_empty() {
            out.push_str(&format!("**Accounts you may query {here}:** none.\n"));
        } else {
            out.push_str(&format!("**Accounts you may query {here}:**\n"));
            for a in &auth.decision.allowed {
                out.push_str(&format!(
                    "- {} — regions {} — granted by {}\n",
                    a.label,
                    a.regions.join(", "),
                    a.granted_by.join(", ")
                ));
            }
        }
        for (label, why) in &auth.decision.removed {
            out.push_str(&format!("- ~~{label}~~ — {why}\n"));
        }
        out.push_str(&format!("_Guardrail: {}._", auth.decision.guardrail));
        Answer::text(out)
    }
}
