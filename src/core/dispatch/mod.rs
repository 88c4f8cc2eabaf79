//! [`Core`]: what the bot does with an [`Inbound`], whichever front door it came through.
//!
//! 1. [`Core::submit`] never awaits: it decides what to acknowledge with and hands the rest to
//!    a bounded triage step (at most `work.max_queued` at once; beyond that the delivery is
//!    dropped with a metric and a log line, and the platform still gets its fast 2xx).
//! 2. Triage, on a tracked task: claim the delivery id in the [`ConversationStore`] (a retry
//!    or another replica's copy stops here), check that an unaddressed thread reply follows up
//!    the person's own question, then take a work slot — or offer a bounded busy notice.
//!    A slash command is admitted at once (its acknowledgement says "working on it" or
//!    "busy") and claims its delivery id (a replayed request has the same one) before working.
//! 3. The work: confirm a place the front door called a direct message with the platform's
//!    sink (only the bot's own DM with the person is one; anything else gets the channel
//!    default guardrail and private replies), decide access, answer through the
//!    [`Responder`] with a [`ScopedAws`] handle, a deadline and a progress handle, deliver the
//!    [`Answer`] through the platform's sink, record the turn.
//!
//! Who is asking, and who else is listening:
//! - The thread's memory handed to the responder holds only the asker's own turns; other
//!   people's questions in the thread never reach the model as the asker's words, and refused
//!   questions are not recorded at all.
//! - A refusal where others can read it (a channel, a group conversation) is a one-line
//!   notice there ([`REFUSAL_NOTICE`]) and the details privately; in a direct message with
//!   the bot the details stay in place. A slash command outside a channel or the bot's own
//!   DM is answered privately.
//! - Links in the responder's answers stay links only for allow-listed hosts
//!   ([`crate::core::links`]).

use super::answer::{Answer, Target};
use super::command::{self, Command};
use super::inbound::{Inbound, Place, PlaceKind, Platform, What};
use super::respond::{Job, Responder};
use super::shed::{BUSY_TEXT, BusyNotices, LogEvery};
use crate::access::Access;
use crate::aws::pool::CredentialPool;
use crate::chat::Sinks;
use crate::metrics::Metrics;
use crate::store::ConversationStore;
use crate::work::{Slot, WorkSettings, Workers};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long the core waits for the conversation store before going on without it.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest time a delivery id is remembered, whatever the setting: a signed request is
/// accepted for 5 minutes either side of its timestamp, so a replay must be recognised for
/// 10 minutes.
pub const MIN_DEDUP_TTL: Duration = Duration::from_secs(600);
/// Earlier turns of a thread handed to the responder (the asker's own, newest).
pub const HISTORY_TURNS: usize = 10;
/// Newest turns of a thread read to find the asker's own among them.
pub const HISTORY_SCAN: usize = 20;
/// How long the core waits for a platform to confirm a direct message before treating the
/// place as a conversation that is not one (fail closed).
pub const PLACE_TIMEOUT: Duration = Duration::from_secs(5);
/// What a refusal says where others can read it; the details go to the person privately.
pub const REFUSAL_NOTICE: &str = "I can't answer this here; I've sent you the details privately.";
/// Longest answer summary kept per turn.
pub const SUMMARY_CHARS: usize = 1500;

/// What a front door acknowledges with.
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// Accepted; the reply follows through the platform's sink.
    Queued,
    /// Show this at once to the sender only (command help, or busy for a command).
    Now(Answer),
    /// Not for the bot.
    Ignored(&'static str),
    /// Dropped: too many deliveries waiting (counted and logged).
    Shed,
}

impl Ack {
    /// Label for request metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Queued => "accepted",
            Self::Now(_) => "answered",
            Self::Ignored(_) => "ignored",
            Self::Shed => "shed",
        }
    }
}

/// Settings the core runs with.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Work limits and the answer deadline.
    pub work: WorkSettings,
    /// How long a delivery id is remembered.
    pub dedup_ttl: Duration,
    /// How each platform's people invoke commands, shown in the help (`/aws` for Slack);
    /// platforms not listed use `@opsbot`, the terminal `opsbot`.
    pub command_prefixes: std::collections::HashMap<Platform, String>,
}

/// The outside services the core uses.
pub struct CoreParts {
    /// Reply path per platform.
    pub sinks: Sinks,
    /// Identity, registry, policy.
    pub access: Arc<Access>,
    /// Answers questions.
    pub responder: Arc<dyn Responder>,
    /// Conversation state.
    pub store: Arc<dyn ConversationStore>,
    /// Per-person AWS credentials (reached only through [`ScopedAws`]).
    pub credentials: CredentialPool,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

/// The chat-neutral bot.
pub struct Core {
    sinks: Sinks,
    access: Arc<Access>,
    responder: Arc<dyn Responder>,
    store: Arc<dyn ConversationStore>,
    credentials: CredentialPool,
    metrics: Arc<Metrics>,
    /// Answers in progress (global and per-person limits; drained on shutdown).
    workers: Workers,
    /// Deliveries in triage.
    triage: Arc<Semaphore>,
    /// Bounded busy notices.
    busy: BusyNotices,
    /// Log limiter for shed deliveries.
    shed_log: LogEvery,
    settings: CoreSettings,
}

impl Core {
    /// A core over `parts`. Must be called inside a tokio runtime (starts the notice sender).
    pub fn new(parts: CoreParts, settings: CoreSettings) -> Arc<Self> {
        let busy = BusyNotices::start(parts.sinks.clone(), parts.metrics.clone());
        Arc::new(Self {
            workers: Workers::new(settings.work.max_concurrent, settings.work.max_per_user),
            triage: Arc::new(Semaphore::new(settings.work.max_queued)),
            sinks: parts.sinks,
            access: parts.access,
            responder: parts.responder,
            store: parts.store,
            credentials: parts.credentials,
            metrics: parts.metrics,
            busy,
            shed_log: LogEvery::new(Duration::from_secs(10)),
            settings,
        })
    }

    /// Work in progress (for shutdown).
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Identity, registry and policy.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// The help prefix for `platform`.
    fn prefix(&self, platform: Platform) -> &str {
        match self.settings.command_prefixes.get(&platform) {
            Some(p) => p,
            None if platform == Platform::Terminal => "opsbot",
            None => "@opsbot",
        }
    }

    /// The help as an answer, after `problem` if the command was not understood.
    pub fn help(&self, platform: Platform, problem: Option<&str>) -> Answer {
        let help = command::help(self.prefix(platform));
        let text = match problem {
            Some(p) => format!("{p}\n\n```\n{help}\n```"),
            None => format!("```\n{help}\n```"),
        };
        Answer::text(text)
    }

    /// Takes one inbound item; never awaits, so the front door can acknowledge at once.
    pub fn submit(self: &Arc<Self>, inbound: Inbound) -> Ack {
        if let What::Nothing(why) = inbound.what {
            tracing::debug!(delivery = inbound.delivery.as_deref(), why, "ignored");
            return Ack::Ignored(why);
        }
        self.audit(&inbound);
        // Commands with a reply handle (Slack slash commands): decide admission now so the
        // acknowledgement can say "working on it" or "busy". Their delivery id (the signed
        // request, when a front door names it) is claimed after the ack, so a replayed copy
        // is acknowledged like any other and then answered no second time.
        if inbound.handle.is_some() {
            if let What::Command(Command::Help) = inbound.what {
                return Ack::Now(self.help(inbound.place.platform, None));
            }
            return match self.workers.admit(&inbound.who.key()) {
                Ok(slot) => {
                    let core = self.clone();
                    self.workers.spawn(async move {
                        if let Some(id) = &inbound.delivery
                            && !core.claim(id).await
                        {
                            return;
                        }
                        core.work(inbound, slot).await
                    });
                    Ack::Queued
                }
                Err(busy) => {
                    tracing::warn!(user = %inbound.who.key(), %busy, "busy: command not admitted");
                    self.metrics.shed("command_busy");
                    Ack::Now(Answer::text(BUSY_TEXT))
                }
            };
        }
        let Ok(permit) = self.triage.clone().try_acquire_owned() else {
            self.metrics.shed("triage_full");
            if let Some(n) = self.shed_log.tick() {
                tracing::warn!(
                    dropped = n,
                    max_queued = self.settings.work.max_queued,
                    "overloaded: deliveries dropped before triage"
                );
            }
            return Ack::Shed;
        };
        let core = self.clone();
        self.workers.spawn(async move {
            if let Some(slot) = core.triage(&inbound).await {
                drop(permit);
                core.work(inbound, slot).await;
            }
        });
        Ack::Queued
    }

    /// Runs `inbound` to the end in this task, waiting for a work slot (the terminal).
    pub async fn run_now(self: &Arc<Self>, inbound: Inbound) {
        if let What::Nothing(_) = inbound.what {
            return;
        }
        self.audit(&inbound);
        if let What::Command(Command::Help) = inbound.what {
            let target = private_target(&inbound);
            let answer = self.help(inbound.place.platform, None);
            self.deliver(&target, &answer).await;
            return;
        }
        let slot = loop {
            match self.workers.admit(&inbound.who.key()) {
                Ok(slot) => break slot,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.work(inbound, slot).await;
    }

    fn audit(&self, inbound: &Inbound) {
        let what = match &inbound.what {
            What::Question { text, .. } => format!("question: {}", preview(text)),
            What::Command(c) => format!("command: {c:?}"),
            What::Nothing(_) => return,
        };
        tracing::info!(
            target: "audit",
            delivery = inbound.delivery.as_deref().unwrap_or("-"),
            user = %inbound.who.key(),
            place = %inbound.place.key(),
            what,
            "received"
        );
    }

    /// De-duplicates, checks follow-ups and takes a work slot; `None` when there is nothing
    /// (more) to do.
    async fn triage(&self, inbound: &Inbound) -> Option<Slot> {
        if let Some(id) = &inbound.delivery
            && !self.claim(id).await
        {
            return None;
        }
        if let (
            What::Question {
                addressed: false, ..
            },
            Some(thread),
        ) = (&inbound.what, &inbound.thread)
        {
            let asked =
                tokio::time::timeout(STORE_TIMEOUT, self.store.asked_in(thread, &inbound.who))
                    .await;
            if !matches!(asked, Ok(Ok(true))) {
                tracing::debug!(thread = %thread.key(), "thread reply not addressed to the bot");
                return None;
            }
        }
        match self.workers.admit(&inbound.who.key()) {
            Ok(slot) => Some(slot),
            Err(busy) => {
                tracing::warn!(user = %inbound.who.key(), %busy, "busy: not admitted");
                let target = match &inbound.what {
                    What::Question { .. } => question_target(inbound),
                    _ => private_target(inbound),
                };
                self.busy.offer(&inbound.who, target);
                None
            }
        }
    }

    /// Claims delivery `id` in the store; `false` when it was already handled (a retry, a
    /// replay, another replica's copy). Fails open: answering twice is better than not
    /// answering.
    async fn claim(&self, id: &str) -> bool {
        let claim = tokio::time::timeout(
            STORE_TIMEOUT,
            self.store
                .claim_delivery(id, self.settings.dedup_ttl.max(MIN_DEDUP_TTL)),
        )
        .await;
        match claim {
            Ok(Ok(true)) => self.metrics.delivery("new"),
            Ok(Ok(false)) => {
                self.metrics.delivery("duplicate");
                tracing::info!(delivery = id, "duplicate delivery ignored");
                return false;
            }
            Ok(Err(e)) => {
                self.metrics.delivery("store_error");
                tracing::warn!(delivery = id, error = %e, "de-duplication unavailable; handling the delivery");
            }
            Err(_) => {
                self.metrics.delivery("store_error");
                tracing::warn!(
                    delivery = id,
                    "de-duplication timed out; handling the delivery"
                );
            }
        }
        true
    }

    /// `inbound` with its place confirmed by the platform when the front door called it a
    /// direct message (see [`crate::chat::ChatSink::confirm_place`]); a confirmation that
    /// does not come in time makes it a conversation that is not a DM.
    async fn confirmed(&self, mut inbound: Inbound) -> Inbound {
        if !inbound.place.is_dm() {
            return inbound;
        }
        let Some(sink) = self.sinks.get(inbound.place.platform) else {
            return inbound;
        };
        let place = tokio::time::timeout(PLACE_TIMEOUT, sink.confirm_place(&inbound))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(place = %inbound.place.key(), "direct message not confirmed in time; answering as in a group conversation");
                Place {
                    kind: PlaceKind::Group,
                    ..inbound.place.clone()
                }
            });
        if place != inbound.place {
            tracing::info!(target: "audit", user = %inbound.who.key(), place = %place.key(), "not the bot's own direct message: channel default guardrail, private replies");
            if let Some(t) = &mut inbound.thread {
                t.place = place.clone();
            }
            inbound.place = place;
        }
        inbound
    }

    /// Does the work for one admitted inbound item.
    async fn work(&self, inbound: Inbound, _slot: Slot) {
        let inbound = self.confirmed(inbound).await;
        match inbound.what.clone() {
            What::Question { text, .. } => self.question(&inbound, &text, Job::Answer).await,
            What::Command(Command::Ask { question }) => {
                self.question(&inbound, &question.join(" "), Job::Answer)
                    .await
            }
            What::Command(c @ Command::Run { .. }) => match c.run_spec() {
                Some(Ok(spec)) => {
                    let typed = format!(
                        "run {} {} {} {}",
                        spec.accounts.join(","),
                        spec.service,
                        spec.operation,
                        if spec.params.is_null() {
                            String::new()
                        } else {
                            spec.params.to_string()
                        }
                    );
                    self.question(&inbound, typed.trim_end(), Job::Run(spec))
                        .await
                }
                Some(Err(problem)) => {
                    let answer = self.help(inbound.place.platform, Some(&problem));
                    self.deliver(&private_target(&inbound), &answer).await;
                }
                None => {}
            },
            What::Command(Command::Inventory { accounts }) => {
                let accounts: Vec<String> = accounts
                    .iter()
                    .flat_map(|a| a.split(','))
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                let typed = format!("inventory {}", accounts.join(" "));
                self.question(&inbound, typed.trim_end(), Job::Inventory(accounts))
                    .await
            }
            What::Command(c) => self.command(&inbound, c).await,
            What::Nothing(_) => {}
        }
    }
}

/// Where the answer to a question goes: its thread, else (a command with no thread) the
/// channel or the bot's own DM, through the command's reply handle; a command in any other
/// conversation (a group DM, a DM between people) is answered privately.
pub fn question_target(inbound: &Inbound) -> Target {
    match &inbound.thread {
        Some(t) => Target::Thread(t.clone()),
        None if inbound.place.kind == PlaceKind::Group => private_target(inbound),
        None => Target::Channel {
            place: inbound.place.clone(),
            handle: inbound.handle.clone(),
        },
    }
}

/// Where a private reply (whoami, accounts, help, busy for a command) goes.
pub fn private_target(inbound: &Inbound) -> Target {
    Target::Private {
        place: inbound.place.clone(),
        user: inbound.who.clone(),
        thread: inbound.thread.clone(),
        handle: inbound.handle.clone(),
    }
}

fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        p.push('…');
    }
    p
}

mod answering;
#[cfg(test)]
mod tests;
