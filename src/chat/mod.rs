//! Chat front doors and the reply path, around the neutral core.
//!
//! Each platform is an adapter: it turns what it receives into a
//! [`crate::core::inbound::Inbound`] and renders the core's [`Answer`]s through its
//! [`ChatSink`]. `slack/` is Slack (HTTP and Socket Mode), [`terminal`] is `opsbot ask`;
//! Teams will sit beside them.

pub mod slack;
pub mod teams;
pub mod terminal;

use crate::core::answer::{Answer, Target};
use crate::core::inbound::{Inbound, Place, Platform, ThreadKey};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

/// The message someone asked with, for progress signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Where.
    pub place: Place,
    /// The thread the answer goes to, if any.
    pub thread: Option<ThreadKey>,
    /// The asking message's id, if any.
    pub message: Option<String>,
}

/// A change in what the bot shows while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressUpdate {
    /// Work started.
    Started,
    /// What it is doing now, e.g. `Querying production, staging…`.
    Status(String),
    /// Work finished (the answer was sent or failed).
    Done,
}

/// Why a chat call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChatError {
    /// Still rate limited after the allowed retries.
    #[error(
        "{method}: still rate limited after {retries} retries; the platform is busy, try again in a minute"
    )]
    RateLimited {
        /// API method.
        method: &'static str,
        /// Retries made.
        retries: u32,
    },
    /// The platform refused the call.
    #[error(
        "{method}: the platform said {code:?}; check the app's scopes against its manifest in manifests/"
    )]
    Api {
        /// API method.
        method: &'static str,
        /// The platform's error code, e.g. `channel_not_found`.
        code: String,
    },
    /// The request did not complete (network, TLS, bad response).
    #[error("{method}: {detail}; check the API URL setting and the network")]
    Transport {
        /// API method.
        method: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl ChatError {
    /// Short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "chat_rate_limited",
            Self::Api { .. } => "chat_api",
            Self::Transport { .. } => "chat_transport",
        }
    }
}

/// Everything the core sends to one platform. Real: [`slack::client::SlackSink`],
/// [`terminal::TerminalSink`].
#[async_trait]
pub trait ChatSink: Send + Sync + 'static {
    /// Renders `answer` for the platform and delivers it to `target` (several messages or a
    /// file when it is long); returns the id of the first message posted, if any.
    async fn send(&self, target: &Target, answer: &Answer) -> Result<Option<String>, ChatError>;
    /// Shows, updates or clears the "working on it" signal.
    async fn progress(&self, asked: &Asked, update: ProgressUpdate) -> Result<(), ChatError>;
    /// The id of a post in `place`, made since `since` (Unix seconds), that carries `marker`
    /// (see [`Answer::marker`]). `Ok(None)`: not found, or the platform cannot tell.
    async fn find_post(
        &self,
        place: &Place,
        marker: &str,
        since: i64,
    ) -> Result<Option<String>, ChatError> {
        let _ = (place, marker, since);
        Ok(None)
    }
    /// The place `inbound` really came from, which access is decided for and replies go to.
    /// The core asks before deciding access for a place its front door called a direct
    /// message, after the acknowledgement. A front door may only be able to claim one (Slack
    /// says `directmessage` for a slash command in any one-to-one DM, also one between two
    /// people): the sink checks such claims and answers a non-DM place
    /// ([`crate::core::inbound::PlaceKind::Group`]) when the claim does not hold or cannot be
    /// checked (fail closed). Default: the front door's place, as it is.
    async fn confirm_place(&self, inbound: &Inbound) -> Place {
        inbound.place.clone()
    }
    /// Whether a private reply outside a direct message already leaves a short notice where
    /// the person asked (Teams: "I've sent you the answer in our chat"); when it does not, the
    /// core posts its own notice next to a private refusal. Default: `false`.
    fn private_leaves_notice(&self) -> bool {
        false
    }
}

/// One sink per platform.
#[derive(Clone, Default)]
pub struct Sinks(HashMap<Platform, Arc<dyn ChatSink>>);

impl Sinks {
    /// Adds (or replaces) the sink for `platform`.
    pub fn with(mut self, platform: Platform, sink: Arc<dyn ChatSink>) -> Self {
        self.0.insert(platform, sink);
        self
    }

    /// The sink for `platform`.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn ChatSink>> {
        self.0.get(&platform)
    }
}
