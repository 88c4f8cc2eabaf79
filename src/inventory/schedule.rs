//! Schedules: `[[schedule]]` entries (cron in a time zone, where to post, which accounts,
//! regions and kinds), validated against the access policy (a schedule is refused at start-up
//! if the policy does not allow its accounts where it posts — never silently narrowed), and
//! their evaluation on a [`Clock`] that follows tokio's time, so tests run with paused time.

use super::kinds::Kind;
use crate::accounts::Registry;
use crate::core::inbound::{Place, PlaceKind, Platform};
use crate::policy::{self, Policy};
use crate::problem::Problem;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Wall-clock time that advances with tokio's clock (paused in tests).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl Clock {
    /// The system's time now, advancing with tokio's clock from here on.
    pub fn system() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock reading `t` now.
    pub fn starting_at(t: DateTime<Utc>) -> Self {
        Self {
            base: t,
            at: tokio::time::Instant::now(),
        }
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.base + chrono::Duration::from_std(self.at.elapsed()).unwrap_or_default()
    }
}

/// One validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name; the AWS session name is `opsbot-schedule-<name>`.
    pub name: String,
    /// The cron pattern as written.
    pub pattern: String,
    cron: croner::Cron,
    /// Its time zone.
    pub timezone: Tz,
    /// Where the post goes.
    pub post_to: Place,
    /// Account selectors (names, ids, aliases, environments, `all`).
    pub accounts: Vec<String>,
    /// Regions; empty means each account's.
    pub regions: Vec<String>,
    /// Kinds to count.
    pub kinds: Vec<Kind>,
}

impl Schedule {
    /// The group name its grants use in the access policy: `schedule:<name>`.
    pub fn group(&self) -> String {
        format!("schedule:{}", self.name)
    }

    /// The first run strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.timezone), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last run at or before `t`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.timezone), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }
}

/// Validated `[inventory]` and `[[schedule]]`.
#[derive(Debug, Clone, Default)]
pub struct InventorySettings {
    /// SQLite file for runs and snapshots (`inventory.database`).
    pub database: Option<PathBuf>,
    /// Snapshots kept per schedule (`inventory.retention_runs`, default 26).
    pub retention_runs: usize,
    /// A run missed while the bot was down still runs on start within this (`inventory.grace_minutes`, default 60).
    pub grace: Duration,
    /// How long a claimed run is held before another may take it (`inventory.lease_seconds`, default 900).
    pub lease: Duration,
    /// Every kind (built-in and configured).
    pub kinds: Vec<Kind>,
    /// The schedules.
    pub schedules: Vec<Schedule>,
}

/// Raw `[inventory]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawInventory {
    database: Option<String>,
    retention_runs: Option<usize>,
    grace_minutes: Option<u64>,
    lease_seconds: Option<u64>,
    kind: Vec<super::kinds::RawKind>,
}

/// Raw `[[schedule]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    name: String,
    cron: String,
    #[serde(default)]
    timezone: Option<String>,
    post_to: String,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
}

/// Parses a 5-field cron pattern (or `@daily`-style nickname).
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    let p = pattern.trim();
    if !p.starts_with('@') && p.split_whitespace().count() != 5 {
        return Err(format!(
            "{p:?} must have 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 9 * * MON\""
        ));
    }
    croner::Cron::from_str(p).map_err(|e| format!("{p:?} is not a cron pattern: {e}"))
}

/// Where a schedule posts: `slack:C0123…` (or a bare Slack channel id).
pub fn place(post_to: &str) -> Result<Place, String> {
    let key = policy::channel_key(post_to)?;
    let (platform, id) = key.split_once(':').ok_or("no platform")?;
    let platform = Platform::parse(platform).ok_or("unknown platform")?;
    Ok(Place::new(platform, id, PlaceKind::Channel))
}

impl RawInventory {
    /// Validates `[inventory]` and the schedules against the registry and policy; `base` is the
    /// config file's directory. Pushes every problem.
    pub fn validate(
        self,
        raw_schedules: Vec<RawSchedule>,
        base: &Path,
        registry: &Registry,
        policy: &Policy,
        problems: &mut Vec<Problem>,
    ) -> InventorySettings {
        let kinds = super::kinds::all(&self.kind, problems);
        let mut schedules: Vec<Schedule> = Vec::new();
        for (i, s) in raw_schedules.into_iter().enumerate() {
            let at = |k: &str| format!("schedule[{i}].{k}");
            let mut ok = true;
            let mut bad = |k: &str, m: String| {
                ok = false;
                problems.push(Problem::new(at(k), m));
            };
            let name_ok = (1..=48).contains(&s.name.len())
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                bad(
                    "name",
                    format!("{:?}: use 1-48 letters, digits, - or _", s.name),
                );
            } else if schedules.iter().any(|x| x.name == s.name) {
                bad("name", format!("{:?} is used twice", s.name));
            }
            let cron = parse_cron(&s.cron).map_err(|m| bad("cron", m)).ok();
            let tz_name = s.timezone.clone().unwrap_or_else(|| "UTC".into());
            let timezone = Tz::from_str(&tz_name)
                .map_err(|_| {
                    bad(
                        "timezone",
                        format!("{tz_name:?} is not an IANA time zone, e.g. \"Europe/Berlin\""),
                    )
                })
                .ok();
            let post_to = place(&s.post_to).map_err(|m| bad("post_to", m)).ok();
            let chosen: Vec<Kind> = if s.kinds.is_empty() {
                kinds.iter().take(5).cloned().collect()
            } else {
                s.kinds
                    .iter()
                    .filter_map(|k| {
                        let found = kinds.iter().find(|x| x.name == *k).cloned();
                        if found.is_none() {
                            bad("kinds", format!("{k:?} is not a kind (built in: ec2, s3, lambda, rds, eks; add others under [[inventory.kind]])"));
                        }
                        found
                    })
                    .collect()
            };
            for r in &s.regions {
                if !crate::accounts::regions::is_known(r, &[]) {
                    bad("regions", format!("unknown region {r:?}"));
                }
            }
            let accounts = if s.accounts.is_empty() {
                vec!["all".to_string()]
            } else {
                s.accounts.clone()
            };
            // The schedule acts as itself: its accounts must be granted to `schedule:<name>` where
            // it posts. Refuse, never narrow.
            if let Some(p) = &post_to {
                let group = format!("schedule:{}", s.name);
                let decision =
                    policy::decide(policy, registry, std::slice::from_ref(&group), false, p);
                let allowed = decision.account_ids();
                for q in &accounts {
                    if let Err(e) = registry.resolve(q, &allowed) {
                        bad(
                            "accounts",
                            format!(
                                "{q:?} is not allowed for this schedule in {}: {e} Add a [[grant]] with group = \"{group}\" (and check the channel's guardrail)",
                                p.key()
                            ),
                        );
                    }
                }
            }
            if let (true, Some(cron), Some(timezone), Some(post_to)) = (ok, cron, timezone, post_to)
            {
                schedules.push(Schedule {
                    name: s.name,
                    pattern: s.cron,
                    cron,
                    timezone,
                    post_to,
                    accounts,
                    regions: s.regions,
                    kinds: chosen,
                });
            }
        }
        let settings = InventorySettings {
            database: Some(base.join(self.database.unwrap_or_else(|| "opsbot.db".into()))),
            retention_runs: self.retention_runs.unwrap_or(26),
            grace: Duration::from_secs(60 * self.grace_minutes.unwrap_or(60)),
            lease: Duration::from_secs(self.lease_seconds.unwrap_or(900)),
            kinds,
            schedules,
        };
        if settings.retention_runs == 0 {
            problems.push(Problem::new(
                "inventory.retention_runs",
                "must be at least 1",
            ));
        }
        if settings.lease < Duration::from_secs(60) {
            problems.push(Problem::new(
                "inventory.lease_seconds",
                "must be at least 60",
            ));
        }
        settings
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
