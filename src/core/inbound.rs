//! What a front door hands the core: who asked, where, and what, with no platform types.
//!
//! Each adapter (Slack HTTP, Slack Socket Mode, the terminal, later Teams) turns what it
//! received into one [`Inbound`]. Platform ids stay opaque strings; only the adapter that made
//! them knows their shape.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A chat platform (or the terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Slack (Events API, slash commands, Socket Mode).
    Slack,
    /// Microsoft Teams (Bot Framework).
    Teams,
    /// `opsbot ask` and friends.
    Terminal,
}

impl Platform {
    /// Lower-case name used in place selectors (`slack:C0123`), keys and session tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Terminal => "terminal",
        }
    }

    /// Parses a lower-case platform name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "slack" => Some(Self::Slack),
            "teams" => Some(Self::Teams),
            "terminal" => Some(Self::Terminal),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person on a chat platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatUser {
    /// Where the id is valid.
    pub platform: Platform,
    /// The platform's user id (Slack `U0123…`, Teams AAD object id, terminal: the `--as` value).
    pub id: String,
    /// Workspace or tenant, when the platform has one (Slack team id).
    pub team: Option<String>,
}

impl ChatUser {
    /// A user without a team.
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        Self {
            platform,
            id: id.into(),
            team: None,
        }
    }

    /// `slack:U0123`: unique across platforms; used as a key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.id)
    }
}

/// What kind of conversation a place is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    /// A channel (public or private).
    Channel,
    /// A direct message with the bot (or the terminal).
    Dm,
    /// A group conversation that is not a channel (Slack multi-person DM, Teams group chat).
    Group,
}

/// A conversation on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Place {
    /// The platform.
    pub platform: Platform,
    /// The platform's conversation id (Slack `C0123…`/`D0123…`).
    pub conversation: String,
    /// Channel, DM or group.
    pub kind: PlaceKind,
    /// What the conversation belongs to, when policy may name it (a Teams channel's team id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl Place {
    /// A place.
    pub fn new(platform: Platform, conversation: impl Into<String>, kind: PlaceKind) -> Self {
        Self {
            platform,
            conversation: conversation.into(),
            kind,
            parent: None,
        }
    }

    /// The policy key of the place's parent (`teams:team:19:…`), if it has one.
    pub fn parent_key(&self) -> Option<String> {
        self.parent
            .as_ref()
            .map(|p| format!("{}:team:{p}", self.platform))
    }

    /// `slack:C0123`: the form policy selectors use.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.conversation)
    }

    /// Whether this is a direct message with the bot.
    pub fn is_dm(&self) -> bool {
        self.kind == PlaceKind::Dm
    }
}

/// A thread: the place plus the id of its root message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThreadKey {
    /// Where the thread is.
    pub place: Place,
    /// The root message's id (Slack `ts`).
    pub root: String,
}

impl ThreadKey {
    /// `slack:C0123:1700000000.000100`: a key for stores.
    pub fn key(&self) -> String {
        format!("{}:{}", self.place.key(), self.root)
    }
}

/// One thing received by a front door, in neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The platform's delivery id (Slack `event_id`), prefixed with the platform; the same for
    /// every retry of one delivery. `None` where the platform never redelivers.
    pub delivery: Option<String>,
    /// Who sent it.
    pub who: ChatUser,
    /// Where.
    pub place: Place,
    /// The message that carried it, if any (progress signals attach there).
    pub message: Option<String>,
    /// The thread it belongs to, if it came as a message.
    pub thread: Option<ThreadKey>,
    /// A platform reply handle for commands (Slack `response_url`), opaque to the core.
    pub handle: Option<String>,
    /// What they want.
    pub what: What,
}

/// What an inbound item asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A question in plain words.
    Question {
        /// The text, with the bot's mention removed.
        text: String,
        /// Addressed to the bot (a mention, a DM, a command). `false` for a reply in a thread
        /// without a mention: answered only if this person asked the bot in that thread before.
        addressed: bool,
    },
    /// A command (`whoami`, `accounts …`, `help`), parsed by [`super::command`].
    Command(super::command::Command),
    /// Nothing for the bot, for this reason (logged at debug).
    Nothing(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_platform_and_ids() {
        let p = Place::new(Platform::Slack, "C0OPS", PlaceKind::Channel);
        assert_eq!(p.key(), "slack:C0OPS");
        let t = ThreadKey {
            place: p,
            root: "1.2".into(),
        };
        assert_eq!(t.key(), "slack:C0OPS:1.2");
        assert_eq!(ChatUser::new(Platform::Teams, "abc").key(), "teams:abc");
        for p in [Platform::Slack, Platform::Teams, Platform::Terminal] {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
    }
}
