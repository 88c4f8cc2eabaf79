//! Bot Framework activities: parse what Teams POSTs and decide what it asks of the bot.
//!
//! Only the fields the bot reads are declared, so fields Teams adds never break parsing.
//! [`to_inbound`] is pure: it maps one activity to the core's neutral [`Inbound`].
//!
//! Conversations (msteams-docs, "Conversation basics"): a personal chat `a:…`, a group chat
//! `19:…@thread.v2`, a channel thread `19:…@thread.tacv2;messageid=<root post id>`. The place
//! of a channel message is the channel (`19:…@thread.tacv2`), its thread the root post; a
//! personal or group chat has no threads, so the whole chat is one thread.

use crate::core::command::{self, Command, Parsed};
use crate::core::inbound::{ChatUser, Inbound, Place, PlaceKind, Platform, ThreadKey, What};
use serde::Deserialize;

/// Someone (or the bot) in an activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Account {
    /// Teams id: `29:…` for people, `28:<app id>` for bots.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Microsoft Entra object id (people only).
    pub aad_object_id: Option<String>,
}

/// The conversation an activity belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Conversation {
    /// `a:…`, `19:…@thread.v2`, or `19:…@thread.tacv2;messageid=…`.
    pub id: String,
    /// `personal`, `groupChat` or `channel`.
    pub conversation_type: Option<String>,
    /// Entra tenant.
    pub tenant_id: Option<String>,
}

/// An entity attached to a message; the bot reads mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Entity {
    /// `mention`, `clientInfo`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Who is mentioned.
    pub mentioned: Option<Account>,
    /// The mention as it appears in the text (`<at>opsbot</at>`).
    pub text: Option<String>,
}

/// An id wrapper as Teams sends it in `channelData` (`{"id": "…"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Id {
    /// The id.
    pub id: String,
}

/// Teams' `channelData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelData {
    /// The tenant.
    pub tenant: Option<Id>,
    /// The team (channel conversations).
    pub team: Option<Id>,
    /// The channel (channel conversations).
    pub channel: Option<Id>,
    /// `teamMemberAdded`, `channelCreated`, … on conversation updates.
    pub event_type: Option<String>,
}

/// The parts of an activity the bot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Activity {
    /// `message`, `conversationUpdate`, `installationUpdate`, `invoke`, `typing`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique per activity: the de-duplication key.
    pub id: Option<String>,
    /// The connector to reply through (keep its path).
    pub service_url: String,
    /// `msteams` (checked against the signing key's endorsements).
    pub channel_id: String,
    /// The sender.
    pub from: Account,
    /// The bot.
    pub recipient: Account,
    /// The conversation.
    pub conversation: Conversation,
    /// Message text, with `<at>…</at>` for mentions.
    pub text: Option<String>,
    /// Mentions and other entities.
    pub entities: Vec<Entity>,
    /// Teams' extra data.
    pub channel_data: ChannelData,
    /// The message this one replies to.
    pub reply_to_id: Option<String>,
    /// Members added (conversation updates).
    pub members_added: Vec<Account>,
    /// `add` or `remove` (installation updates).
    pub action: Option<String>,
}

/// Why a body is not an activity (answered with 400).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not the expected shape.
    #[error("malformed activity: {0}")]
    Json(#[from] serde_json::Error),
    /// A field every activity has is missing.
    #[error("malformed activity: missing {0}")]
    Missing(&'static str),
}

/// Parses an activity body; requires `type`, `serviceUrl`, `channelId` and `conversation.id`.
pub fn parse(body: &[u8]) -> Result<Activity, ParseError> {
    let a: Activity = serde_json::from_slice(body)?;
    if a.kind.is_empty() {
        return Err(ParseError::Missing("type"));
    }
    if a.service_url.is_empty() {
        return Err(ParseError::Missing("serviceUrl"));
    }
    if a.channel_id.is_empty() {
        return Err(ParseError::Missing("channelId"));
    }
    if a.conversation.id.is_empty() {
        return Err(ParseError::Missing("conversation.id"));
    }
    Ok(a)
}

/// Why an activity does not come from our Teams tenant (it is refused, unanswered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Foreign {
    /// `channelId` is not `msteams` (another Bot Framework channel: Web Chat, Direct Line, …).
    #[error("channelId {0:?} is not msteams")]
    Channel(String),
    /// Neither `conversation.tenantId` nor `channelData.tenant.id` is present.
    #[error("the activity names no tenant")]
    NoTenant,
    /// A tenant other than `teams.tenant_id`.
    #[error("tenant {0:?} is not teams.tenant_id")]
    Tenant(String),
}

impl Foreign {
    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Channel(_) => "teams_other_channel",
            Self::NoTenant | Self::Tenant(_) => "teams_other_tenant",
        }
    }
}

/// Whether `a` comes from Teams in our tenant: `channelId` is `msteams`, and every tenant it
/// names (`conversation.tenantId`, `channelData.tenant.id`; at least one) is `tenant_id`
/// (GUIDs, compared case-insensitively).
pub fn check_origin(a: &Activity, tenant_id: &str) -> Result<(), Foreign> {
    if a.channel_id != "msteams" {
        return Err(Foreign::Channel(a.channel_id.clone()));
    }
    let named: Vec<&str> = [
        a.conversation.tenant_id.as_deref(),
        a.channel_data.tenant.as_ref().map(|t| t.id.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter(|t| !t.is_empty())
    .collect();
    if named.is_empty() {
        return Err(Foreign::NoTenant);
    }
    match named.iter().find(|t| !t.eq_ignore_ascii_case(tenant_id)) {
        Some(other) => Err(Foreign::Tenant(other.to_string())),
        None => Ok(()),
    }
}

impl Activity {
    /// The tenant, from the conversation or `channelData`.
    pub fn tenant(&self) -> Option<&str> {
        self.conversation
            .tenant_id
            .as_deref()
            .or(self.channel_data.tenant.as_ref().map(|t| t.id.as_str()))
            .filter(|t| !t.is_empty())
    }

    /// The kind of conversation.
    pub fn place_kind(&self) -> PlaceKind {
        match self.conversation.conversation_type.as_deref() {
            Some("personal") => PlaceKind::Dm,
            Some("groupChat") => PlaceKind::Group,
            Some("channel") => PlaceKind::Channel,
            _ if self.conversation.id.starts_with("a:") => PlaceKind::Dm,
            _ if self.conversation.id.contains("@thread.tacv2") => PlaceKind::Channel,
            _ => PlaceKind::Group,
        }
    }

    /// Where the activity happened: for channels the channel (without `;messageid=`), within
    /// its team.
    pub fn place(&self) -> Place {
        let kind = self.place_kind();
        let (conversation, _) = split_thread(&self.conversation.id);
        let mut place = Place::new(Platform::Teams, conversation, kind);
        if kind == PlaceKind::Channel {
            place.parent = self
                .channel_data
                .team
                .as_ref()
                .map(|t| t.id.clone())
                .filter(|t| !t.is_empty());
        }
        place
    }

    /// The thread: a channel post's root, else the whole chat.
    pub fn thread(&self) -> ThreadKey {
        let place = self.place();
        let (conversation, root) = split_thread(&self.conversation.id);
        let root = match (place.kind, root) {
            (PlaceKind::Channel, Some(r)) => r.to_string(),
            // A channel activity without `;messageid=` is a new post: it is its own root.
            (PlaceKind::Channel, None) => self.id.clone().unwrap_or_default(),
            _ => conversation.to_string(),
        };
        ThreadKey { place, root }
    }

    /// Whether the bot is mentioned.
    pub fn mentions_bot(&self) -> bool {
        self.entities.iter().any(|e| self.is_bot_mention(e))
    }

    fn is_bot_mention(&self, e: &Entity) -> bool {
        e.kind == "mention"
            && e.mentioned
                .as_ref()
                .is_some_and(|m| !m.id.is_empty() && m.id == self.recipient.id)
    }

    /// The text with the bot's mentions removed, whitespace collapsed.
    pub fn clean_text(&self) -> String {
        let mut text = self.text.clone().unwrap_or_default();
        for e in self.entities.iter().filter(|e| self.is_bot_mention(e)) {
            if let Some(t) = e.text.as_deref().filter(|t| !t.is_empty()) {
                text = text.replace(t, " ");
            }
        }
        // Teams may send HTML-ish text; drop a stray `<at>` of ours if the entity text differed.
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Splits `19:x@thread.tacv2;messageid=123` into the channel and the root post id.
pub fn split_thread(conversation: &str) -> (&str, Option<&str>) {
    match conversation.split_once(";messageid=") {
        Some((c, root)) if !root.is_empty() => (c, Some(root)),
        Some((c, _)) => (c, None),
        None => (conversation, None),
    }
}

/// The first words that make a message a command for the core's parser (Teams has no slash
/// commands; the manifest's command list suggests these).
const COMMAND_WORDS: &[&str] = &["ask", "run", "inventory"];

/// Reads a message as a command or a question: `ask …`, `run …` and `inventory …` go through
/// the same parser as Slack's `/aws`; `help`, `whoami` and short `accounts …` lines are
/// commands; anything else is a question.
pub fn what(text: &str) -> What {
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    if COMMAND_WORDS.contains(&first.as_str()) {
        return match command::parse(text) {
            Parsed::Run(c) => What::Command(c),
            Parsed::Help(None) => What::Command(Command::Help),
            Parsed::Help(Some(problem)) => What::Command(Command::Unclear(problem)),
        };
    }
    match command::in_message(text) {
        Some(c) => What::Command(c),
        None if text.is_empty() => What::Command(Command::Help),
        None => What::Question {
            text: text.to_string(),
            addressed: true,
        },
    }
}

/// Turns one activity into the core's [`Inbound`]: messages from people become questions or
/// commands; the bot's own messages, updates, invokes and anything else are nothing.
pub fn to_inbound(a: &Activity) -> Inbound {
    let who = ChatUser {
        platform: Platform::Teams,
        id: a.from.aad_object_id.clone().unwrap_or_default(),
        team: a.tenant().map(str::to_string),
    };
    let nothing = |why| Inbound {
        delivery: a.id.as_ref().map(|id| format!("teams:{id}")),
        who: who.clone(),
        place: a.place(),
        message: None,
        thread: None,
        handle: None,
        what: What::Nothing(why),
    };
    if a.kind != "message" {
        return nothing("not a message activity");
    }
    if a.from.id.is_empty() || a.from.id == a.recipient.id || a.from.id.starts_with("28:") {
        return nothing("posted by a bot");
    }
    if who.id.is_empty() {
        return nothing("sender has no Entra object id");
    }
    let Some(id) = a.id.clone() else {
        return nothing("message without an id");
    };
    let place = a.place();
    if place.kind != PlaceKind::Dm && !a.mentions_bot() {
        return nothing("channel message not addressed to the bot");
    }
    Inbound {
        delivery: Some(format!("teams:{id}")),
        who,
        thread: Some(a.thread()),
        place,
        message: Some(id),
        handle: None,
        what: what(&a.clean_text()),
    }
}

#[cfg(test)]
#[path = "activity_tests.rs"]
mod tests;
