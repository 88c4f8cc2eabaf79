//! Scheduled inventory posts with "what changed since last time", computed without the model.
//!
//! - [`kinds`]: what is counted; [`collect`]: reading it through the agent's read path;
//!   [`diff`]: added, removed, changed; [`report`]: the post; [`schedule`]: config and cron.
//! - [`Inventory`]: one run for a schedule (acting as itself: session name
//!   `opsbot-schedule-<name>`, its own grant) or for a person (`/aws inventory`).
//! - [`Scheduler`]: fires runs on time. Exactly once: a run is claimed in the [`RunStore`]
//!   (with a lease) before it posts and marked posted after; a run missed while the bot was down
//!   runs once on start within the grace window, otherwise it is skipped with a log line.

pub mod collect;
pub mod diff;
pub mod kinds;
pub mod report;
pub mod schedule;

use crate::access::{Access, Authorization};
use crate::aws::pool::CredentialPool;
use crate::aws::principal::Principal;
use crate::aws::read::reader::Reader;
use crate::aws::scoped::ScopedAws;
use crate::core::answer::{Answer, Target};
use crate::core::dispatch::Core;
use crate::store::runs::{Claim, RunStore, Snapshot};
use chrono::{DateTime, Utc};
use collect::Collected;
use schedule::{Clock, InventorySettings, Schedule};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Inventories: collect, compare, report.
pub struct Inventory {
    reader: Arc<Reader>,
    credentials: CredentialPool,
    access: Arc<Access>,
    store: Arc<dyn RunStore>,
    settings: InventorySettings,
}

/// A finished inventory, ready to post.
pub struct Report {
    /// What was read.
    pub collected: Collected,
    /// The run it was compared with.
    pub previous: Option<Snapshot>,
    /// The post.
    pub answer: Answer,
}

impl Inventory {
    /// An inventory service over the agent's read path.
    pub fn new(
        reader: Arc<Reader>,
        credentials: CredentialPool,
        access: Arc<Access>,
        store: Arc<dyn RunStore>,
        settings: InventorySettings,
    ) -> Self {
        Self {
            reader,
            credentials,
            access,
            store,
            settings,
        }
    }

    /// The schedules.
    pub fn schedules(&self) -> &[Schedule] {
        &self.settings.schedules
    }

    /// The run store.
    pub fn store(&self) -> &Arc<dyn RunStore> {
        &self.store
    }

    /// Settings.
    pub fn settings(&self) -> &InventorySettings {
        &self.settings
    }

    /// The schedule's authorization at its place, and its AWS handle (acting as itself).
    pub fn scope(&self, s: &Schedule) -> (Authorization, ScopedAws) {
        let auth = self.access.for_schedule(&s.name, &s.group(), &s.post_to);
        let aws = ScopedAws::for_principal(
            self.credentials.clone(),
            self.access.book(),
            &auth,
            Principal::Schedule {
                name: s.name.clone(),
            },
        );
        (auth, aws)
    }

    /// Reads `s`'s inventory as run `run` and compares it with the previous stored run.
    pub async fn report(&self, s: &Schedule, run: i64) -> Report {
        let (_, aws) = self.scope(s);
        let collected =
            collect::collect(&self.reader, &aws, &s.kinds, &s.accounts, &s.regions, run).await;
        let previous = match self.store.previous(&s.name, run).await {
            Ok(p) => p.map(|p| restrict(p, &collected)),
            Err(e) => {
                tracing::warn!(schedule = s.name, error = %e, "previous run unavailable; posting without changes");
                None
            }
        };
        let title = format!("Inventory \u{2014} {} ({})", s.name, report::when(run));
        let answer = report::answer(&title, &collected, previous.as_ref(), &s.kinds);
        Report {
            collected,
            previous,
            answer,
        }
    }

    /// `/aws inventory [accounts]` for a person: their authorization, every built-in kind,
    /// compared with the last scheduled run posted where they asked, if any.
    pub async fn on_demand(
        &self,
        aws: &ScopedAws,
        auth: &Authorization,
        accounts: &[String],
    ) -> Answer {
        let run = crate::store::runs::unix_now();
        let kinds: Vec<_> = self.settings.kinds.iter().take(5).cloned().collect();
        let collected = collect::collect(&self.reader, aws, &kinds, accounts, &[], run).await;
        let schedule = self
            .settings
            .schedules
            .iter()
            .find(|s| s.post_to == auth.place);
        let previous = match schedule {
            Some(s) => self
                .store
                .previous(&s.name, i64::MAX)
                .await
                .ok()
                .flatten()
                .map(|p| restrict(p, &collected)),
            None => None,
        };
        let title = match (schedule, &previous) {
            (Some(s), Some(_)) => format!("Inventory (compared with the last \"{}\" post)", s.name),
            _ => "Inventory".to_string(),
        };
        report::answer(&title, &collected, previous.as_ref(), &kinds)
    }
}

/// Keeps only the part of `prev` this run read too (same kinds, accounts and regions), so a
/// change of scope never shows as added or removed resources.
fn restrict(mut prev: Snapshot, cur: &Collected) -> Snapshot {
    let read: BTreeSet<(String, String, String)> = cur.targets.iter().cloned().collect();
    prev.items
        .retain(|i| read.contains(&(i.kind.clone(), i.account.clone(), i.region.clone())));
    prev.failed
        .retain(|f| read.contains(&(f.kind.clone(), f.account.clone(), f.region.clone())));
    prev
}

/// Fires schedules on time and posts through the core.
pub struct Scheduler {
    inventory: Arc<Inventory>,
    core: Arc<Core>,
    clock: Clock,
    owner: String,
}

/// What one firing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// Posted; the post's id when the platform gave one.
    Posted(Option<String>),
    /// Already posted (a restart, a retry, another replica).
    AlreadyPosted,
    /// Another owner holds the run.
    Held,
    /// Something failed (logged); the lease lets a later attempt retry.
    Failed(String),
}

impl Scheduler {
    /// A scheduler on `clock`; `owner` names this process in claims.
    pub fn new(inventory: Arc<Inventory>, core: Arc<Core>, clock: Clock, owner: String) -> Self {
        Self {
            inventory,
            core,
            clock,
            owner,
        }
    }

    /// Runs every schedule until `stop`; tracked on the core's workers so shutdown waits.
    pub fn start(self: Arc<Self>, stop: CancellationToken) {
        for s in self.inventory.schedules().to_vec() {
            let me = self.clone();
            let stop = stop.clone();
            self.core.workers().spawn(async move {
                tokio::select! {
                    () = me.run_loop(&s) => {}
                    () = stop.cancelled() => {}
                }
            });
        }
    }

    async fn run_loop(&self, s: &Schedule) {
        self.catch_up(s).await;
        loop {
            let now = self.clock.now();
            let Some(next) = s.next_after(now) else {
                tracing::error!(schedule = s.name, "the cron pattern never fires again");
                return;
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tracing::info!(schedule = s.name, next = %next, "next inventory run");
            tokio::time::sleep(wait).await;
            if self.clock.now() < next {
                continue; // woke early (clock adjustments): wait again
            }
            self.fire(s, next).await;
        }
    }

    /// On start: the last run before now, if it was not posted and is within the grace window,
    /// runs once; a run missed by more is skipped with a log line.
    pub async fn catch_up(&self, s: &Schedule) -> Option<Fired> {
        let now = self.clock.now();
        let last = s.last_at_or_before(now)?;
        let posted = self
            .inventory
            .store()
            .last_posted(&s.name)
            .await
            .ok()
            .flatten();
        if posted.is_some_and(|p| p >= last.timestamp()) {
            return None;
        }
        let late = (now - last).to_std().unwrap_or_default();
        if late <= self.inventory.settings().grace {
            tracing::info!(schedule = s.name, run = %last, late_secs = late.as_secs(), "running a missed inventory within the grace window");
            Some(self.fire(s, last).await)
        } else {
            tracing::warn!(schedule = s.name, run = %last, late_secs = late.as_secs(), grace_secs = self.inventory.settings().grace.as_secs(), "missed inventory run skipped (outside the grace window)");
            None
        }
    }

    /// Claims (or renews) run `run` of `s`; `Some(outcome)` when this replica must not post
    /// it. After taking over another replica's expired claim, looks for that replica's post
    /// first (by `marker`), so a crash between posting and recording never posts twice.
    async fn claim(&self, s: &Schedule, run: i64, marker: &str) -> Option<Fired> {
        let store = self.inventory.store();
        match store
            .claim(&s.name, run, &self.owner, self.inventory.settings().lease)
            .await
        {
            Ok(Claim::Won) => None,
            Ok(Claim::Posted) => Some(Fired::AlreadyPosted),
            Ok(Claim::Held) => Some(Fired::Held),
            Ok(Claim::TakenOver) => {
                // Not found (or the platform cannot tell): go on and post.
                let found = self.core.find_post(&s.post_to, marker, run - 300).await?;
                tracing::info!(
                    schedule = s.name,
                    post = found,
                    "took over an expired claim and found the run already posted; recording it"
                );
                if let Err(e) = store
                    .mark_posted(&s.name, run, &self.owner, Some(&found))
                    .await
                {
                    tracing::error!(schedule = s.name, error = %e, "found the post, but could not record it");
                }
                Some(Fired::AlreadyPosted)
            }
            Err(e) => {
                tracing::error!(schedule = s.name, error = %e, "cannot claim the inventory run");
                Some(Fired::Failed(e.to_string()))
            }
        }
    }

    /// Claims, runs, posts and records run `at` of `s`.
    pub async fn fire(&self, s: &Schedule, at: DateTime<Utc>) -> Fired {
        let run = at.timestamp();
        let store = self.inventory.store();
        let marker = format!("{}/{run}", s.name);
        if let Some(done) = self.claim(s, run, &marker).await {
            return done;
        }
        let report = self.inventory.report(s, run).await;
        if let Err(e) = store.save(&s.name, &report.collected.snapshot).await {
            tracing::error!(schedule = s.name, error = %e, "inventory snapshot not stored; the next run compares with an older one");
        }
        // Renew the claim before posting: collecting may have outlasted the lease, and
        // another replica may have taken the run over meanwhile.
        if let Some(done) = self.claim(s, run, &marker).await {
            return done;
        }
        let target = Target::Channel {
            place: s.post_to.clone(),
            handle: None,
        };
        let mut answer = report.answer;
        answer.marker = Some(marker);
        let Some(post) = self.core.deliver(&target, &answer).await else {
            return Fired::Failed("the post was not delivered (see the log)".into());
        };
        if let Err(e) = store
            .mark_posted(&s.name, run, &self.owner, post.as_deref())
            .await
        {
            tracing::error!(schedule = s.name, error = %e, "posted, but not recorded as posted");
        }
        if let Err(e) = store
            .prune(&s.name, self.inventory.settings().retention_runs)
            .await
        {
            tracing::warn!(schedule = s.name, error = %e, "old snapshots not pruned");
        }
        tracing::info!(
            target: "audit",
            schedule = s.name,
            run = %at,
            items = report.collected.snapshot.items.len(),
            failed = report.collected.snapshot.failed.len(),
            calls = report.collected.calls,
            elapsed_ms = report.collected.elapsed.as_millis() as u64,
            "inventory posted"
        );
        Fired::Posted(post)
    }
}
