//! Events API payloads: parse the envelope and decide whether an event is a question.
//!
//! Only the fields the bot needs are read, so new fields Slack adds never break parsing.
//! [`to_inbound`] is pure: it turns an event into the core's neutral [`Inbound`] and never
//! consults state (whether a thread reply follows up the person's own question is decided by
//! the core after the acknowledgement).

use crate::core::command;
use crate::core::inbound::{ChatUser, Inbound, Place, PlaceKind, Platform, ThreadKey, What};
use serde::Deserialize;

/// The outer Events API envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// Slack checking the Request URL: echo `challenge`.
    UrlVerification {
        /// Value to echo back.
        challenge: String,
    },
    /// An event delivery.
    Callback {
        /// Unique per event, stable across retries: the de-duplication key.
        event_id: String,
        /// Workspace id.
        team_id: Option<String>,
        /// The inner event.
        event: Box<Event>,
    },
    /// Any other envelope type (e.g. `app_rate_limited`): acknowledged and ignored.
    Other(String),
}

/// The parts of an inner event the bot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// `app_mention`, `message`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `message_changed`, `bot_message`, ... for messages that are not plain posts.
    pub subtype: Option<String>,
    /// Author; absent on some system messages.
    pub user: Option<String>,
    /// Present on messages posted by bots (including this one).
    pub bot_id: Option<String>,
    /// Message text.
    #[serde(default)]
    pub text: String,
    /// Channel id.
    pub channel: Option<String>,
    /// `im`, `channel`, `group`, `mpim` on `message` events.
    pub channel_type: Option<String>,
    /// The message's ts.
    pub ts: Option<String>,
    /// Thread root when the message is in a thread.
    pub thread_ts: Option<String>,
    /// Team of the author.
    pub team: Option<String>,
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    event_id: Option<String>,
    team_id: Option<String>,
    event: Option<Event>,
}

/// Why a payload could not be read (answered with 400).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not the expected shape.
    #[error("malformed Events API payload: {0}")]
    Json(#[from] serde_json::Error),
    /// A required field is missing.
    #[error("malformed Events API payload: missing {0}")]
    Missing(&'static str),
}

/// Parses an Events API body.
pub fn parse(body: &[u8]) -> Result<Envelope, ParseError> {
    let raw: RawEnvelope = serde_json::from_slice(body)?;
    match raw.kind.as_str() {
        "url_verification" => Ok(Envelope::UrlVerification {
            challenge: raw.challenge.ok_or(ParseError::Missing("challenge"))?,
        }),
        "event_callback" => Ok(Envelope::Callback {
            event_id: raw.event_id.ok_or(ParseError::Missing("event_id"))?,
            team_id: raw.team_id,
            event: Box::new(raw.event.ok_or(ParseError::Missing("event"))?),
        }),
        other => Ok(Envelope::Other(other.to_string())),
    }
}

/// The kind of conversation a Slack channel id names, from the event's `channel_type` when it
/// has one (`im`, `mpim`, `channel`, `group`), else from the id (`D…` is a DM).
pub fn place_kind(channel: &str, channel_type: Option<&str>) -> PlaceKind {
    match channel_type {
        Some("im") => PlaceKind::Dm,
        Some("mpim") => PlaceKind::Group,
        Some(_) => PlaceKind::Channel,
        None if channel.starts_with('D') => PlaceKind::Dm,
        None => PlaceKind::Channel,
    }
}

/// Turns one event into the core's neutral [`Inbound`].
///
/// Mentions and DMs are addressed questions (or commands, for a bare `whoami`, `help`,
/// `accounts …`); a reply in a thread without a mention is an unaddressed question the core
/// answers only if the same person asked the bot in that thread. Bots (including this one),
/// edits and deletions are nothing. `bot_user` is the bot's own user id when known.
pub fn to_inbound(
    event_id: &str,
    team_id: Option<&str>,
    event: &Event,
    bot_user: Option<&str>,
) -> Inbound {
    let nothing = |why| Inbound {
        delivery: Some(format!("slack:{event_id}")),
        who: ChatUser::new(Platform::Slack, event.user.clone().unwrap_or_default()),
        place: Place::new(
            Platform::Slack,
            event.channel.clone().unwrap_or_default(),
            PlaceKind::Channel,
        ),
        message: None,
        thread: None,
        handle: None,
        what: What::Nothing(why),
    };
    if event.bot_id.is_some() {
        return nothing("posted by a bot");
    }
    match event.subtype.as_deref() {
        None | Some("thread_broadcast") | Some("file_share") => {}
        Some(_) => return nothing("edit, deletion or other message subtype"),
    }
    let (Some(user), Some(channel), Some(ts)) = (&event.user, &event.channel, &event.ts) else {
        return nothing("no author, channel or ts");
    };
    if Some(user.as_str()) == bot_user {
        return nothing("the bot's own message");
    }
    let kind = place_kind(channel, event.channel_type.as_deref());
    let addressed = match event.kind.as_str() {
        "app_mention" => true,
        "message" if kind == PlaceKind::Dm => true,
        "message" => {
            if mentions_bot(&event.text, bot_user) {
                return nothing("a mention: handled by its app_mention event");
            }
            if event.thread_ts.is_none() {
                return nothing("channel message not addressed to the bot");
            }
            false
        }
        _ => return nothing("event type the bot does not handle"),
    };
    let place = Place::new(Platform::Slack, channel.clone(), kind);
    let root = event.thread_ts.clone().unwrap_or_else(|| ts.clone());
    let text = strip_mentions(&event.text, bot_user);
    let what = match command::in_message(&text) {
        Some(c) if addressed => What::Command(c),
        _ => What::Question { text, addressed },
    };
    Inbound {
        delivery: Some(format!("slack:{event_id}")),
        who: ChatUser {
            platform: Platform::Slack,
            id: user.clone(),
            team: event.team.clone().or(team_id.map(str::to_string)),
        },
        thread: Some(ThreadKey {
            place: place.clone(),
            root,
        }),
        place,
        message: Some(ts.clone()),
        handle: None,
        what,
    }
}
fn mentions_bot(text: &str, bot_user: Option<&str>) -> bool {
    match bot_user {
        Some(id) => text.contains(&format!("<@{id}>")),
        // Unknown bot id (auth.test not done yet): treat any mention as possibly ours.
        None => text.contains("<@"),
    }
}

/// Removes the bot's mention (or, when the bot id is unknown, a leading mention) and trims.
pub fn strip_mentions(text: &str, bot_user: Option<&str>) -> String {
    let cleaned = match bot_user {
        Some(id) => text.replace(&format!("<@{id}>"), " "),
        None => {
            let t = text.trim_start();
            match (t.starts_with("<@"), t.find('>')) {
                (true, Some(end)) => t[end + 1..].to_string(),
                _ => t.to_string(),
            }
        }
    };
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::Command;
    use serde_json::json;

    fn ev(v: serde_json::Value) -> Event {
        serde_json::from_value(v).unwrap()
    }

    fn question(i: &Inbound) -> (&str, bool) {
        match &i.what {
            What::Question { text, addressed } => (text.as_str(), *addressed),
            other => panic!("not a question: {other:?}"),
        }
    }

    #[test]
    fn parses_envelopes() {
        let uv = parse(br#"{"token":"x","challenge":"abc","type":"url_verification"}"#).unwrap();
        assert_eq!(
            uv,
            Envelope::UrlVerification {
                challenge: "abc".into()
            }
        );
        let cb = parse(br#"{"type":"event_callback","event_id":"Ev1","team_id":"T1","event":{"type":"app_mention","user":"U1","text":"hi","ts":"1.2","channel":"C1","extra":{"x":1}}}"#).unwrap();
        assert!(matches!(cb, Envelope::Callback { ref event_id, .. } if event_id == "Ev1"));
        assert!(matches!(
            parse(br#"{"type":"app_rate_limited"}"#).unwrap(),
            Envelope::Other(_)
        ));
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"type":"event_callback","event":{"type":"x"}}"#).is_err());
        assert!(parse(br#"{"type":"url_verification"}"#).is_err());
    }

    #[test]
    fn mention_becomes_a_neutral_question_in_the_thread_of_the_mention() {
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> list EC2  instances","ts":"10.1","channel":"C1"}),
        );
        let i = to_inbound("Ev1", Some("T1"), &e, Some("UBOT"));
        assert_eq!(question(&i), ("list EC2 instances", true));
        assert_eq!(i.delivery.as_deref(), Some("slack:Ev1"));
        assert_eq!(
            i.who,
            ChatUser {
                platform: Platform::Slack,
                id: "U1".into(),
                team: Some("T1".into())
            }
        );
        assert_eq!(
            i.place,
            Place::new(Platform::Slack, "C1", PlaceKind::Channel)
        );
        assert_eq!(i.thread.as_ref().unwrap().root, "10.1");
        assert_eq!(i.message.as_deref(), Some("10.1"));
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> more","ts":"11.1","thread_ts":"10.1","channel":"C1"}),
        );
        assert_eq!(
            to_inbound("Ev2", None, &e, Some("UBOT"))
                .thread
                .unwrap()
                .root,
            "10.1"
        );
    }

    #[test]
    fn dms_are_addressed_and_group_dms_are_groups() {
        let e = ev(
            json!({"type":"message","channel_type":"im","user":"U1","text":"accounts?","ts":"1.1","channel":"D1"}),
        );
        let i = to_inbound("Ev1", None, &e, Some("UBOT"));
        assert_eq!(question(&i), ("accounts?", true));
        assert_eq!(i.place.kind, PlaceKind::Dm);
        assert_eq!(place_kind("G1", Some("mpim")), PlaceKind::Group);
        assert_eq!(place_kind("G1", Some("group")), PlaceKind::Channel);
        assert_eq!(place_kind("D1", None), PlaceKind::Dm);
        assert_eq!(place_kind("C1", None), PlaceKind::Channel);
    }

    #[test]
    fn bare_commands_in_mentions_are_commands() {
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> whoami","ts":"1.1","channel":"C1"}),
        );
        assert_eq!(
            to_inbound("Ev1", None, &e, Some("UBOT")).what,
            What::Command(Command::Whoami)
        );
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> accounts with open ports?","ts":"1.1","channel":"C1"}),
        );
        assert!(matches!(
            to_inbound("Ev1", None, &e, Some("UBOT")).what,
            What::Question { .. }
        ));
    }

    #[test]
    fn ignored_cases() {
        let cases = [
            (
                "own message",
                json!({"type":"message","channel_type":"im","user":"UBOT","text":"x","ts":"1","channel":"D1"}),
            ),
            (
                "other bot",
                json!({"type":"app_mention","user":"U2","bot_id":"B2","text":"<@UBOT> x","ts":"1","channel":"C1"}),
            ),
            (
                "edit",
                json!({"type":"message","subtype":"message_changed","channel_type":"im","channel":"D1","ts":"1"}),
            ),
            (
                "delete",
                json!({"type":"message","subtype":"message_deleted","channel_type":"im","channel":"D1","ts":"1"}),
            ),
            (
                "bot_message",
                json!({"type":"message","subtype":"bot_message","channel_type":"channel","channel":"C1","ts":"1","text":"x"}),
            ),
            (
                "plain channel chatter",
                json!({"type":"message","channel_type":"channel","user":"U1","text":"lunch?","ts":"1","channel":"C1"}),
            ),
            (
                "mention as message event",
                json!({"type":"message","channel_type":"channel","user":"U1","text":"<@UBOT> x","ts":"2","thread_ts":"1","channel":"C1"}),
            ),
            (
                "other type",
                json!({"type":"reaction_added","user":"U1","ts":"1","channel":"C1"}),
            ),
        ];
        for (name, e) in cases {
            assert!(
                matches!(
                    to_inbound("Ev", None, &ev(e), Some("UBOT")).what,
                    What::Nothing(_)
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn thread_replies_without_mention_are_unaddressed_questions_for_the_core_to_check() {
        let follow = ev(
            json!({"type":"message","channel_type":"channel","user":"U1","text":"only stopped ones","ts":"12.0","thread_ts":"10.1","channel":"C1"}),
        );
        let i = to_inbound("Ev3", None, &follow, Some("UBOT"));
        assert_eq!(question(&i), ("only stopped ones", false));
        assert_eq!(i.thread.unwrap().root, "10.1");
        let whoami = ev(
            json!({"type":"message","channel_type":"channel","user":"U1","text":"whoami","ts":"12.0","thread_ts":"10.1","channel":"C1"}),
        );
        assert!(
            matches!(
                to_inbound("Ev4", None, &whoami, Some("UBOT")).what,
                What::Question {
                    addressed: false,
                    ..
                }
            ),
            "unaddressed text is never a command"
        );
    }

    #[test]
    fn strip_without_known_bot_id_removes_leading_mention_only() {
        assert_eq!(
            strip_mentions("<@UX> ask <@U2> about it", None),
            "ask <@U2> about it"
        );
        assert_eq!(strip_mentions("  plain ", None), "plain");
    }
}
