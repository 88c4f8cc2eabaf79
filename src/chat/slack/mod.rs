//! Slack: verify and parse what Slack sends (HTTP or Socket Mode), turn it into the core's
//! neutral inbound items, and render the core's answers as Block Kit.
//!
//! [`SlackDoor`] is the adapter both transports share: it keeps the bot's own identity (for
//! mentions) and hands every event and command to the [`Core`].

pub mod client;
pub mod commands;
pub mod dm;
pub mod events;
pub mod history;
pub mod http;
pub mod render;
pub mod settings;
pub mod socket;
pub mod verify;

use crate::core::answer::{Answer, Block};
use crate::core::dispatch::{Ack, Core};
use crate::core::inbound::Platform;
use client::BotIdentity;
use events::Envelope;
use std::sync::{Arc, OnceLock};

/// How to acknowledge an Events API delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum EventAck {
    /// Echo this challenge (`url_verification`).
    Challenge(String),
    /// Anything else: 200 (the core took it, ignored it, or shed it).
    Ok(&'static str),
}

impl EventAck {
    /// Label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Challenge(_) => "challenge",
            Self::Ok(outcome) => outcome,
        }
    }
}

/// The Slack adapter around the core.
pub struct SlackDoor {
    core: Arc<Core>,
    identity: OnceLock<BotIdentity>,
}

impl SlackDoor {
    /// An adapter handing everything to `core`.
    pub fn new(core: Arc<Core>) -> Arc<Self> {
        Arc::new(Self {
            core,
            identity: OnceLock::new(),
        })
    }

    /// The core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Records who the bot is (after `auth.test`).
    pub fn set_identity(&self, identity: BotIdentity) {
        let _ = self.identity.set(identity);
    }

    /// Whether `auth.test` has succeeded.
    pub fn knows_itself(&self) -> bool {
        self.identity.get().is_some()
    }

    /// Handles one Events API envelope. Never awaits: safe to call before acknowledging.
    pub fn on_event(&self, envelope: Envelope, retry: Option<u32>) -> EventAck {
        match envelope {
            Envelope::UrlVerification { challenge } => EventAck::Challenge(challenge),
            Envelope::Other(kind) => {
                tracing::debug!(kind, "ignoring envelope type");
                EventAck::Ok("ignored")
            }
            Envelope::Callback {
                event_id,
                team_id,
                event,
            } => {
                if retry.is_some() {
                    tracing::info!(event_id, retry, "Slack redelivery");
                }
                let bot_user = self.identity.get().map(|i| i.user_id.as_str());
                let inbound = events::to_inbound(&event_id, team_id.as_deref(), &event, bot_user);
                EventAck::Ok(self.core.submit(inbound).outcome())
            }
        }
    }

    /// Handles a slash command; returns the ephemeral acknowledgement text. Never awaits.
    /// `delivery` names this delivery (HTTP: the signed timestamp and signature; Socket Mode:
    /// the envelope id): the same one delivered again is acknowledged but answered once.
    pub fn on_command(&self, cmd: &commands::SlashCommand, delivery: Option<String>) -> String {
        match commands::to_request(cmd) {
            commands::Request::Help(problem) => {
                ack_text(&self.core.help(Platform::Slack, problem.as_deref()))
            }
            commands::Request::Submit(mut inbound) => {
                inbound.delivery = delivery;
                self.submit_command(*inbound)
            }
        }
    }

    fn submit_command(&self, inbound: crate::core::inbound::Inbound) -> String {
        match self.core.submit(inbound) {
            Ack::Queued => "Working on it…".into(),
            Ack::Now(answer) => ack_text(&answer),
            Ack::Ignored(_) | Ack::Shed => {
                "I'm busy with other questions right now. Please try again in a minute.".into()
            }
        }
    }
}

/// An immediate answer as the plain mrkdwn text of a command acknowledgement.
fn ack_text(answer: &Answer) -> String {
    answer
        .blocks
        .iter()
        .map(|b| match b {
            Block::Paragraph { text } => render::mrkdwn(text),
            Block::Table(t) => render::mrkdwn(&t.to_markdown()),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
