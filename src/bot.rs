//! The bot's behaviour, independent of how Slack reached it (HTTP or Socket Mode).
//!
//! Handlers here never await an outside call: they decide, admit work to the [`WorkPool`], and
//! return what to acknowledge with. The answer is produced and delivered on the pool through
//! the [`ChatSink`]. Answers come from a [`Responder`]; until the agent exists that is
//! [`NotConfigured`], which says so honestly through the same path.

use crate::access::{Access, Grant};
use crate::chat::slack::commands::{self, Parsed, SlashCommand, Sub};
use crate::chat::slack::events::{self, Envelope, Inbound};
use crate::chat::slack::render;
use crate::chat::{BotIdentity, ChatSink, Question, ThreadRef, Visibility};
use crate::metrics::Metrics;
use crate::policy::Place;
use crate::work::{Busy, Slot, WorkPool};
use async_trait::async_trait;
use moka::sync::Cache;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Produces the answer to a question (the agent plugs in here). Called only after access was
/// decided and the person may query at least one account; `grant` bounds what it may touch.
#[async_trait]
pub trait Responder: Send + Sync + 'static {
    /// The answer, as Slack mrkdwn.
    async fn answer(&self, question: &Question, grant: &Grant) -> String;
}

/// The responder used until an agent is configured: says so plainly.
pub struct NotConfigured;

#[async_trait]
impl Responder for NotConfigured {
    async fn answer(&self, _question: &Question, _grant: &Grant) -> String {
        "I can't answer questions about AWS yet: no agent is configured in this opsbot build. \
         `/aws help` lists what works today."
            .into()
    }
}

/// Text users see when the pool is full.
pub const BUSY_TEXT: &str =
    "I'm busy with other questions right now. Please try again in a minute.";

/// How to acknowledge an Events API delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAck {
    /// Echo this challenge (`url_verification`).
    Challenge(String),
    /// A question was admitted; the answer follows in the thread.
    Accepted,
    /// Already seen this `event_id` (a Slack retry): nothing more happens.
    Duplicate,
    /// Not for the bot.
    Ignored(&'static str),
    /// Admitted as a polite "busy" reply instead of an answer.
    Busy,
}

impl EventAck {
    /// Label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Challenge(_) => "challenge",
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Ignored(_) => "ignored",
            Self::Busy => "busy",
        }
    }
}

/// The immediate answer to a slash command (shown only to the person who ran it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandAck {
    /// Ephemeral text returned in the HTTP response (or Socket Mode ack).
    pub text: String,
}

/// Shared state of the bot.
pub struct Bot {
    sink: Arc<dyn ChatSink>,
    access: Arc<Access>,
    responder: Arc<dyn Responder>,
    pool: WorkPool,
    /// `event_id`s already handled (Slack retries deliver the same id).
    seen: Cache<String, ()>,
    /// (channel, thread root, user) where the bot answered that user: follow-ups need no mention.
    threads: Cache<(String, String, String), ()>,
    identity: OnceLock<BotIdentity>,
    metrics: Arc<Metrics>,
    command: String,
}

impl Bot {
    /// A bot writing through `sink`, answering with `responder`.
    pub fn new(
        sink: Arc<dyn ChatSink>,
        access: Arc<Access>,
        responder: Arc<dyn Responder>,
        pool: WorkPool,
        metrics: Arc<Metrics>,
        command: &str,
        dedup_ttl: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            sink,
            access,
            responder,
            pool,
            seen: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(dedup_ttl)
                .build(),
            threads: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(7 * 24 * 3600))
                .build(),
            identity: OnceLock::new(),
            metrics,
            command: command.to_string(),
        })
    }

    /// Records who the bot is (after `auth.test`); marks the bot ready.
    pub fn set_identity(&self, identity: BotIdentity) {
        let _ = self.identity.set(identity);
    }

    /// Whether `auth.test` has succeeded.
    pub fn is_ready(&self) -> bool {
        self.identity.get().is_some()
    }

    /// The sink replies go through.
    pub fn sink(&self) -> &Arc<dyn ChatSink> {
        &self.sink
    }

    /// The work pool.
    pub fn pool(&self) -> &WorkPool {
        &self.pool
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Handles one Events API envelope. Never awaits: safe to call before acknowledging.
    pub fn on_event(self: &Arc<Self>, envelope: Envelope, retry: Option<u32>) -> EventAck {
        let (event_id, team_id, event) = match envelope {
            Envelope::UrlVerification { challenge } => return EventAck::Challenge(challenge),
            Envelope::Other(kind) => {
                tracing::debug!(kind, "ignoring envelope type");
                return EventAck::Ignored("envelope type");
            }
            Envelope::Callback {
                event_id,
                team_id,
                event,
            } => (event_id, team_id, event),
        };
        if !self.seen.entry(event_id.clone()).or_insert(()).is_fresh() {
            tracing::info!(event_id, retry, "duplicate delivery ignored");
            return EventAck::Duplicate;
        }
        let bot_user = self.identity.get().map(|i| i.user_id.as_str());
        let asked = |c: &str, t: &str, u: &str| {
            self.threads
                .contains_key(&(c.to_string(), t.to_string(), u.to_string()))
        };
        let question = match events::classify(&event, team_id.as_deref(), bot_user, &asked) {
            Inbound::Ignore(why) => {
                tracing::debug!(event_id, why, "event ignored");
                return EventAck::Ignored(why);
            }
            Inbound::Question(q) => q,
        };
        tracing::info!(
            target: "audit",
            event_id,
            user = question.user,
            channel = question.message.channel,
            dm = question.is_dm,
            question = %preview(&question.text),
            "question received"
        );
        match self.pool.admit(&question.user) {
            Ok(slot) => {
                let bot = self.clone();
                self.pool
                    .spawn(async move { bot.answer_in_thread(question, slot).await });
                EventAck::Accepted
            }
            Err(busy) => {
                tracing::warn!(user = question.user, %busy, "busy: question not admitted");
                let bot = self.clone();
                self.pool.spawn(async move {
                    match bot
                        .sink
                        .post(&question.thread, &render::notice(BUSY_TEXT))
                        .await
                    {
                        Ok(_) => bot.metrics.reply("busy"),
                        Err(e) => bot.report(&e),
                    }
                });
                EventAck::Busy
            }
        }
    }

    async fn answer_in_thread(self: Arc<Self>, q: Question, _slot: Slot) {
        if let Err(e) = self.sink.progress(&q.message, &q.thread, true).await {
            tracing::debug!(error = %e, "could not show progress");
        }
        let place = Place {
            channel: q.thread.channel.clone(),
            is_dm: q.is_dm,
        };
        let answer = self.answer_with_access(&q, &place).await;
        self.deliver(&q.thread, &answer).await;
        self.threads.insert(
            (
                q.thread.channel.clone(),
                q.thread.thread_ts.clone(),
                q.user.clone(),
            ),
            (),
        );
        if let Err(e) = self.sink.progress(&q.message, &q.thread, false).await {
            tracing::debug!(error = %e, "could not clear progress");
        }
    }

    /// Decides access, then answers, refuses, or explains an identity failure.
    async fn answer_with_access(&self, q: &Question, place: &Place) -> String {
        match self.access.decide(&q.user, place).await {
            Err(e) => {
                self.metrics.error(e.kind());
                tracing::error!(user = q.user, error = %e, detail = ?e, "identity lookup failed; refusing (fail closed)");
                self.access.identity_failure(&e)
            }
            Ok(g) if g.decision.allowed.is_empty() => self.access.refusal(&g),
            Ok(g) => self.responder.answer(q, &g).await,
        }
    }

    /// Posts `answer` into `thread` as blocks, several messages, or a file.
    pub async fn deliver(&self, thread: &ThreadRef, answer: &str) {
        let plan = render::plan(answer);
        for m in &plan.messages {
            match self.sink.post(thread, m).await {
                Ok(_) => self.metrics.reply("message"),
                Err(e) => return self.report(&e),
            }
        }
        if let Some(file) = &plan.file {
            match self.sink.upload(thread, file).await {
                Ok(()) => self.metrics.reply("file"),
                Err(e) => self.report(&e),
            }
        }
    }

    fn report(&self, e: &crate::chat::ChatError) {
        self.metrics.error(e.kind());
        tracing::error!(error = %e, "reply not delivered");
    }

    /// Handles a slash command; returns the ephemeral acknowledgement. Never awaits.
    pub fn on_command(self: &Arc<Self>, cmd: SlashCommand) -> CommandAck {
        let sub = match commands::parse_text(&self.command, &cmd.text) {
            Parsed::Help(text) => {
                return CommandAck {
                    text: format!("```{text}```"),
                };
            }
            Parsed::Run(sub) => sub,
        };
        tracing::info!(target: "audit", user = cmd.user_id, channel = cmd.channel_id, command = ?sub, "command received");
        let slot = match self.pool.admit(&cmd.user_id) {
            Ok(slot) => slot,
            Err(Busy::Global | Busy::PerUser) => {
                self.metrics.reply("busy");
                return CommandAck {
                    text: BUSY_TEXT.into(),
                };
            }
        };
        let bot = self.clone();
        self.pool
            .spawn(async move { bot.run_command(cmd, sub, slot).await });
        CommandAck {
            text: "Working on it…".into(),
        }
    }

    async fn run_command(self: Arc<Self>, cmd: SlashCommand, sub: Sub, _slot: Slot) {
        let place = Place {
            channel: cmd.channel_id.clone(),
            is_dm: cmd.channel_id.starts_with('D'),
        };
        let (text, visibility) = match sub {
            Sub::Whoami | Sub::Accounts { .. } => {
                let text = match self.access.decide(&cmd.user_id, &place).await {
                    Err(e) => {
                        self.metrics.error(e.kind());
                        tracing::error!(user = cmd.user_id, error = %e, detail = ?e, "identity lookup failed");
                        self.access.identity_failure(&e)
                    }
                    Ok(g) => match &sub {
                        Sub::Whoami => self.access.whoami_text(&g, &place),
                        Sub::Accounts { name } if !name.is_empty() => {
                            self.access.named_accounts_text(&g, &name.join(" "))
                        }
                        _ => self.access.accounts_text(&g),
                    },
                };
                (text, Visibility::Ephemeral)
            }
            Sub::Ask { question } => {
                let q = Question {
                    user: cmd.user_id.clone(),
                    team: cmd.team_id.clone(),
                    message: crate::chat::MessageRef {
                        channel: cmd.channel_id.clone(),
                        ts: String::new(),
                    },
                    thread: ThreadRef {
                        channel: cmd.channel_id.clone(),
                        thread_ts: String::new(),
                    },
                    text: question.join(" "),
                    is_dm: place.is_dm,
                };
                (
                    self.answer_with_access(&q, &place).await,
                    Visibility::InChannel,
                )
            }
            Sub::Help => (commands::help(&self.command), Visibility::Ephemeral),
        };
        let plan = render::plan(&text);
        let mut messages = plan.messages;
        if let Some(file) = plan.file {
            messages.push(render::notice(&file.comment));
        }
        for m in &messages {
            match self.sink.respond(&cmd.response_url, m, visibility).await {
                Ok(()) => self.metrics.reply("response_url"),
                Err(e) => return self.report(&e),
            }
        }
    }
}

fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        p.push('…');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Registry;
    use crate::accounts::discover::AccountBook;
    use crate::chat::slack::events::Event;
    use crate::chat::{BotIdentity, ChatError, MessageRef, OutFile, OutMessage};
    use crate::identity::{Directory, IdentityError, Person, Profiles};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>);

    #[async_trait]
    impl ChatSink for Recording {
        async fn post(&self, thread: &ThreadRef, m: &OutMessage) -> Result<String, ChatError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("post {} {}", thread.thread_ts, m.text));
            Ok("1.0".into())
        }
        async fn respond(&self, _: &str, _: &OutMessage, _: Visibility) -> Result<(), ChatError> {
            Ok(())
        }
        async fn upload(&self, _: &ThreadRef, _: &OutFile) -> Result<(), ChatError> {
            Ok(())
        }
        async fn progress(&self, _: &MessageRef, _: &ThreadRef, _: bool) -> Result<(), ChatError> {
            Ok(())
        }
        async fn identity(&self) -> Result<BotIdentity, ChatError> {
            Ok(BotIdentity {
                user_id: "UBOT".into(),
                team_id: "T1".into(),
            })
        }
    }

    struct Anyone;
    #[async_trait]
    impl Profiles for Anyone {
        async fn person(&self, id: &str) -> Result<Person, IdentityError> {
            Ok(Person {
                slack_id: id.into(),
                email: None,
                handle: None,
                display_name: None,
            })
        }
    }

    fn bot(sink: Arc<Recording>, max: usize) -> Arc<Bot> {
        let directory = Directory::new(Arc::new(Anyone), vec![], Duration::from_secs(60));
        let access = Arc::new(Access::new(
            directory,
            AccountBook::new(Registry::default()),
            Default::default(),
            "#help",
        ));
        Bot::new(
            sink,
            access,
            Arc::new(NotConfigured),
            WorkPool::new(max, max),
            Metrics::new(),
            "/aws",
            Duration::from_secs(60),
        )
    }

    fn mention(id: &str) -> Envelope {
        let event: Event = serde_json::from_value(serde_json::json!({
            "type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "ts": "1.1", "channel": "C1"}))
        .unwrap();
        Envelope::Callback {
            event_id: id.into(),
            team_id: None,
            event: Box::new(event),
        }
    }

    #[tokio::test]
    async fn same_event_id_is_handled_once() {
        let sink = Arc::new(Recording::default());
        let b = bot(sink.clone(), 4);
        assert_eq!(b.on_event(mention("Ev1"), None), EventAck::Accepted);
        assert_eq!(b.on_event(mention("Ev1"), Some(1)), EventAck::Duplicate);
        assert_eq!(b.on_event(mention("Ev1"), Some(2)), EventAck::Duplicate);
        assert_eq!(
            b.on_event(mention("Ev2"), None),
            EventAck::Accepted,
            "a new event id is new work"
        );
        assert!(b.pool().drain(Duration::from_secs(5)).await);
        assert_eq!(sink.0.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn url_verification_and_other_envelopes_need_no_work() {
        let b = bot(Arc::new(Recording::default()), 1);
        assert_eq!(
            b.on_event(
                Envelope::UrlVerification {
                    challenge: "c".into()
                },
                None
            ),
            EventAck::Challenge("c".into())
        );
        assert_eq!(
            b.on_event(Envelope::Other("app_rate_limited".into()), None),
            EventAck::Ignored("envelope type")
        );
        assert_eq!(b.pool().in_flight(), 0);
    }
}
