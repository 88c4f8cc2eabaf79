//! Loading the files `[accounts]` points at (registry, policy) and describing selectors.

use super::{AccountsConfig, Problem};
use crate::accounts::{self, Registry};
use crate::policy::Policy;
use std::path::Path;

pub(super) fn load_accounts(
    settings: accounts::Settings,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> AccountsConfig {
    for r in settings.default_regions.iter().flatten() {
        if !accounts::regions::is_known(r, &settings.extra_regions) {
            problems.push(Problem {
                key: "accounts.default_regions".into(),
                message: format!(
                    "unknown region {r:?}; add it to accounts.extra_regions if it is new"
                ),
            });
        }
    }
    let registry = match &settings.file {
        None => Registry::default(),
        Some(f) => Registry::load(&base.join(f), f, &settings).unwrap_or_else(|p| {
            problems.extend(p);
            Registry::default()
        }),
    };
    let policy = match &settings.access_file {
        None => Policy::default(),
        Some(f) => match std::fs::read_to_string(base.join(f)) {
            Ok(text) => Policy::parse(
                &text,
                f,
                &registry,
                &settings.extra_regions,
                settings.discover,
            )
            .unwrap_or_else(|p| {
                problems.extend(p);
                Policy::default()
            }),
            Err(e) => {
                problems.push(Problem {
                    key: f.clone(),
                    message: format!(
                        "cannot read {}: {e}; start from accounts/access.toml in the repo",
                        base.join(f).display()
                    ),
                });
                Policy::default()
            }
        },
    };
    AccountsConfig {
        settings,
        registry,
        policy,
    }
}
