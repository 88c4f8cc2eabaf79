//! The access answers as [`Answer`] documents: `whoami`, `accounts`, `accounts NAME`, the
//! refusal when a person may query nothing here, and the reply when identity can't be read.
//! Plain Markdown; every platform renders it its own way.
//!
//! What they may say: members see their groups (name, key, provider), each account with the
//! grant behind it, and what the guardrail removed. Guests and strangers see the same about
//! themselves, but never an account (id or name) they cannot query, nor the guardrail's
//! selectors: what was withheld is only counted and explained in general terms.

use super::{Access, Authorization};
use crate::core::answer::Answer;
use crate::core::inbound::PlaceKind;
use crate::identity::{IdentityError, Standing};
use crate::policy::Withheld;

fn here(auth: &Authorization) -> &'static str {
    match auth.place.kind {
        PlaceKind::Dm => "in this direct message",
        PlaceKind::Channel => "in this channel",
        PlaceKind::Group => "in this conversation",
    }
}

/// Whether the person is told details that may name accounts they cannot query.
fn detailed(auth: &Authorization) -> bool {
    auth.identity.person.standing == Standing::Member
}

/// `name (`key`)` for a grant's group key, using the person's group when they have it.
fn grant_label(auth: &Authorization, key: &str) -> String {
    match auth.identity.groups.iter().find(|g| g.key == key) {
        Some(g) if g.name != key => format!("{} (`{key}`)", g.name),
        _ => format!("`{key}`"),
    }
}

fn granted_by(auth: &Authorization, keys: &[String]) -> String {
    keys.iter()
        .map(|k| grant_label(auth, k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One sentence per reason something was withheld, without naming any account.
fn withheld_text(w: &Withheld, standing: Standing) -> Vec<String> {
    let mut out = Vec::new();
    if w.standing > 0 {
        out.push(match standing {
            Standing::Stranger => format!(
                "{} account(s) granted to your groups are for members of this organisation only \
                 (a grant must say `strangers = true`).",
                w.standing
            ),
            _ => format!(
                "{} account(s) granted to your groups are for members only (a grant must say \
                 `guests = true`).",
                w.standing
            ),
        });
    }
    if w.elsewhere > 0 {
        out.push(format!(
            "{} account(s) granted to you may not be queried in this conversation; try a direct \
             message or the channel your team uses for this.",
            w.elsewhere
        ));
    }
    if w.regions > 0 {
        out.push(format!(
            "{} account(s) granted to you are limited to regions they do not run in.",
            w.regions
        ));
    }
    out
}

impl Access {
    /// The reply when identity could not be read or confirmed (fail closed).
    pub fn identity_failure(&self, e: &IdentityError) -> Answer {
        Answer::text(format!(
            "I {e}, so I can't tell which AWS accounts you may query. Nothing was run. \
             Try again in a minute, or ask {} if it keeps failing.",
            self.help
        ))
    }

    /// A one-line refusal that is safe where others see it (it names nothing); the full
    /// [`Access::refusal`] goes to the person privately.
    pub fn refusal_notice(&self) -> Answer {
        Answer::text(
            "I can't query AWS for you here. I've sent you the reason privately, with whom to ask.",
        )
    }

    /// The reply when the person may query nothing here.
    pub fn refusal(&self, auth: &Authorization) -> Answer {
        let d = &auth.decision;
        let standing = auth.identity.person.standing;
        let mut text = match standing {
            Standing::Deactivated => {
                return Answer::text(format!(
                    "Your account is deactivated, so I can't query AWS for you. \
                     If this is wrong, ask {}.",
                    self.help
                ));
            }
            Standing::Stranger => "You may not query any AWS account here: your account belongs \
                 to another organisation (it is not a member of this workspace), and only grants \
                 that allow other organisations' people apply to you."
                .to_string(),
            Standing::Member | Standing::Guest => {
                let groups = if auth.identity.groups.is_empty() {
                    "you are in no group that opsbot knows".to_string()
                } else {
                    let names: Vec<&str> = auth
                        .identity
                        .groups
                        .iter()
                        .map(|g| g.name.as_str())
                        .collect();
                    format!("your groups ({}) grant no account here", names.join(", "))
                };
                format!("You may not query any AWS account here: {groups}.")
            }
        };
        if standing == Standing::Guest {
            text.push_str(
                " You are a guest in this workspace: only grants that allow guests \
                 (`guests = true`) apply to you.",
            );
        }
        if detailed(auth) {
            if d.withheld.elsewhere > 0 {
                text.push_str(&format!(
                    " Some accounts are granted to you but not in this conversation ({}); \
                     try a direct message or the channel your team uses for this.",
                    d.guardrail
                ));
            }
        } else if d.withheld.elsewhere > 0 {
            text.push_str(
                " Some accounts are granted to you but not in this conversation; try a direct \
                 message.",
            );
        }
        if !d.hints.is_empty() {
            text.push_str(
                " One of your groups has the name of a grant written without a provider, which \
                 matches only the static groups file; `whoami` says what the grant should say.",
            );
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
                granted_by(auth, &allowed.granted_by)
            ));
        }
        Answer::text(out.trim_end())
    }

    /// `whoami`: identity, standing, groups (name, key, provider), accounts here with the
    /// grant behind each, and what was withheld (members: which accounts and why; guests and
    /// strangers: how many and why, never which).
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
            Standing::Stranger => out.push_str(
                "You are from **another organisation** (not a member of this workspace): only \
                 grants that allow strangers (`strangers = true`) apply to you, and the email \
                 your organisation gives you is not used to find your groups.\n",
            ),
            Standing::Deactivated => out.push_str(
                "Your account is **deactivated**: opsbot queries nothing for you.\n",
            ),
        }
        let mut groups: Vec<_> = auth.identity.groups.iter().collect();
        groups
            .sort_by(|a, b| (a.name.to_lowercase(), &a.key).cmp(&(b.name.to_lowercase(), &b.key)));
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        out.push_str(&format!(
            "**Groups** ({}): {}\n",
            if providers.is_empty() {
                "no providers configured"
            } else {
                &providers
            },
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
        for g in &groups {
            out.push_str(&format!("- {} — `{}` ({})\n", g.name, g.key, g.provider));
        }
        for h in &auth.decision.hints {
            out.push_str(&format!(
                "- ⚠ Your group **{}** ({}) has the name of a grant written without a provider \
                 (`group = \"{}\"`), which matches only the static groups file. If that grant \
                 is meant for this group, it should say `{}`.\n",
                h.group.name,
                h.group.provider,
                h.bare,
                h.fix()
            ));
        }
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
                    granted_by(auth, &a.granted_by)
                ));
            }
        }
        if detailed(auth) {
            for (label, why) in &auth.decision.removed {
                out.push_str(&format!("- ~~{label}~~ — {why}\n"));
            }
            out.push_str(&format!("_Guardrail: {}._", auth.decision.guardrail));
        } else {
            for line in withheld_text(&auth.decision.withheld, p.standing) {
                out.push_str(&format!("- {line}\n"));
            }
            out.push_str(&format!("_To get access, ask {}._", self.help));
        }
        Answer::text(out)
    }
}
