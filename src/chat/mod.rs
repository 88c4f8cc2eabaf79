//! Chat front doors and the reply path.
//!
//! Transport-neutral types live here: a [`Question`] someone asked, where the answer goes
//! ([`ThreadRef`]), and the [`ChatSink`] seam the bot writes through. `slack/` holds the Slack
//! implementation of both directions; Teams will sit beside it.

pub mod slack;

use async_trait::async_trait;

/// A message in a conversation: channel id plus the message's `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageRef {
    /// Channel (or DM) id.
    pub channel: String,
    /// The message's timestamp id.
    pub ts: String,
}

/// Where a threaded reply goes: the channel and the thread's root `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadRef {
    /// Channel (or DM) id.
    pub channel: String,
    /// Root message of the thread.
    pub thread_ts: String,
}

/// Someone asking the bot something in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Slack user id of the person asking.
    pub user: String,
    /// Slack team (workspace) id, when the event carried one.
    pub team: Option<String>,
    /// The message that asked (progress signals attach here).
    pub message: MessageRef,
    /// The thread the answer belongs in.
    pub thread: ThreadRef,
    /// What they asked, with the bot mention removed.
    pub text: String,
    /// Asked in a direct message with the bot.
    pub is_dm: bool,
}

/// One message ready to send: fallback text plus Block Kit blocks (JSON values).
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    /// Plain text used for notifications and clients without blocks.
    pub text: String,
    /// Block Kit blocks; may be empty.
    pub blocks: Vec<serde_json::Value>,
}

/// A file to share into a thread (long answers).
#[derive(Debug, Clone, PartialEq)]
pub struct OutFile {
    /// File name shown in Slack, e.g. `answer.md`.
    pub filename: String,
    /// Title shown above the file.
    pub title: String,
    /// The content.
    pub content: String,
    /// Message posted with the file.
    pub comment: String,
}

/// Who may see a reply sent through a slash command's `response_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Only the person who ran the command.
    Ephemeral,
    /// Everyone in the channel.
    InChannel,
}

/// The bot's own identity in the workspace (`auth.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's user id (its mentions look like `<@U...>`).
    pub user_id: String,
    /// Workspace id.
    pub team_id: String,
}

/// Why a chat call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChatError {
    /// Still rate limited after the allowed retries.
    #[error(
        "{method}: still rate limited after {retries} retries; Slack is busy, try again in a minute"
    )]
    RateLimited {
        /// API method.
        method: &'static str,
        /// Retries made.
        retries: u32,
    },
    /// Slack answered `ok: false`.
    #[error(
        "{method}: Slack said {code:?}; check the app's scopes against manifests/slack-app.yaml"
    )]
    Api {
        /// API method.
        method: &'static str,
        /// Slack's error code, e.g. `channel_not_found`.
        code: String,
    },
    /// The request did not complete (network, TLS, bad response).
    #[error("{method}: {detail}; check slack.api_url and the network")]
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
            Self::RateLimited { .. } => "slack_rate_limited",
            Self::Api { .. } => "slack_api",
            Self::Transport { .. } => "slack_transport",
        }
    }
}

/// Everything the bot sends to a chat platform. Real: [`slack::client::SlackSink`].
#[async_trait]
pub trait ChatSink: Send + Sync + 'static {
    /// Posts `message` into `thread`; returns the new message's `ts`.
    async fn post(&self, thread: &ThreadRef, message: &OutMessage) -> Result<String, ChatError>;
    /// Sends `message` to a slash command's `response_url`.
    async fn respond(
        &self,
        response_url: &str,
        message: &OutMessage,
        visibility: Visibility,
    ) -> Result<(), ChatError>;
    /// Uploads `file` into `thread`.
    async fn upload(&self, thread: &ThreadRef, file: &OutFile) -> Result<(), ChatError>;
    /// Shows (`on`) or clears the "working on it" signal on the asking message.
    async fn progress(
        &self,
        at: &MessageRef,
        thread: &ThreadRef,
        on: bool,
    ) -> Result<(), ChatError>;
    /// Who the bot is (`auth.test`); proves the token works.
    async fn identity(&self) -> Result<BotIdentity, ChatError>;
}
