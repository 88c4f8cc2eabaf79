//! Events API payloads: parse the envelope and decide whether an event is a question.
//!
//! Only the fields the bot needs are read, so new fields Slack adds never break parsing.
//! [`classify`] is pure: it answers mentions, DMs and follow-ups in threads the bot already
//! answered for the same person, and ignores bots (including itself), edits and deletions.

use crate::chat::{MessageRef, Question, ThreadRef};
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

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Answer it.
    Question(Question),
    /// Leave it alone, for this reason (logged at debug).
    Ignore(&'static str),
}

/// Decides whether `event` is a question for the bot.
///
/// `bot_user` is the bot's own user id when known; `asked_in_thread(channel, thread_ts, user)`
/// says whether the bot already answered `user` in that thread.
pub fn classify(
    event: &Event,
    team_id: Option<&str>,
    bot_user: Option<&str>,
    asked_in_thread: &dyn Fn(&str, &str, &str) -> bool,
) -> Inbound {
    if event.bot_id.is_some() {
        return Inbound::Ignore("posted by a bot");
    }
    match event.subtype.as_deref() {
        None | Some("thread_broadcast") | Some("file_share") => {}
        Some(_) => return Inbound::Ignore("edit, deletion or other message subtype"),
    }
    let (Some(user), Some(channel), Some(ts)) = (&event.user, &event.channel, &event.ts) else {
        return Inbound::Ignore("no author, channel or ts");
    };
    if Some(user.as_str()) == bot_user {
        return Inbound::Ignore("the bot's own message");
    }
    let is_dm = event.channel_type.as_deref() == Some("im");
    match event.kind.as_str() {
        "app_mention" => {}
        "message" if is_dm => {}
        "message" => {
            if mentions_bot(&event.text, bot_user) {
                return Inbound::Ignore("a mention: handled by its app_mention event");
            }
            match &event.thread_ts {
                Some(root) if asked_in_thread(channel, root, user) => {}
                _ => return Inbound::Ignore("channel message not addressed to the bot"),
            }
        }
        _ => return Inbound::Ignore("event type the bot does not handle"),
    }
    let thread_ts = event.thread_ts.clone().unwrap_or_else(|| ts.clone());
    Inbound::Question(Question {
        user: user.clone(),
        team: event.team.clone().or(team_id.map(str::to_string)),
        message: MessageRef {
            channel: channel.clone(),
            ts: ts.clone(),
        },
        thread: ThreadRef {
            channel: channel.clone(),
            thread_ts,
        },
        text: strip_mentions(&event.text, bot_user),
        is_dm,
    })
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
    use serde_json::json;

    fn ev(v: serde_json::Value) -> Event {
        serde_json::from_value(v).unwrap()
    }
    fn never(_: &str, _: &str, _: &str) -> bool {
        false
    }
    fn q(i: Inbound) -> Question {
        match i {
            Inbound::Question(q) => q,
            Inbound::Ignore(why) => panic!("ignored: {why}"),
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
    fn mention_replies_in_thread_of_the_mention() {
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> list EC2  instances","ts":"10.1","channel":"C1"}),
        );
        let q = q(classify(&e, Some("T1"), Some("UBOT"), &never));
        assert_eq!(
            q.thread,
            ThreadRef {
                channel: "C1".into(),
                thread_ts: "10.1".into()
            }
        );
        assert_eq!(q.text, "list EC2 instances");
        assert_eq!(q.team.as_deref(), Some("T1"));
        let e = ev(
            json!({"type":"app_mention","user":"U1","text":"<@UBOT> more","ts":"11.1","thread_ts":"10.1","channel":"C1"}),
        );
        assert_eq!(q_thread(classify(&e, None, Some("UBOT"), &never)), "10.1");
    }

    fn q_thread(i: Inbound) -> String {
        q(i).thread.thread_ts
    }

    #[test]
    fn dms_are_questions_even_without_mention() {
        let e = ev(
            json!({"type":"message","channel_type":"im","user":"U1","text":"accounts?","ts":"1.1","channel":"D1"}),
        );
        let q = q(classify(&e, None, Some("UBOT"), &never));
        assert!(q.is_dm);
        assert_eq!(q.text, "accounts?");
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
        let always = |_: &str, _: &str, _: &str| true;
        for (name, e) in cases {
            assert!(
                matches!(
                    classify(&ev(e), None, Some("UBOT"), &always),
                    Inbound::Ignore(_)
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn follow_up_only_for_the_same_person_in_a_thread_the_bot_answered() {
        let asked = |c: &str, t: &str, u: &str| c == "C1" && t == "10.1" && u == "U1";
        let follow = ev(
            json!({"type":"message","channel_type":"channel","user":"U1","text":"only stopped ones","ts":"12.0","thread_ts":"10.1","channel":"C1"}),
        );
        assert_eq!(
            q_thread(classify(&follow, None, Some("UBOT"), &asked)),
            "10.1"
        );
        let other = ev(
            json!({"type":"message","channel_type":"channel","user":"U9","text":"thanks","ts":"12.5","thread_ts":"10.1","channel":"C1"}),
        );
        assert!(matches!(
            classify(&other, None, Some("UBOT"), &asked),
            Inbound::Ignore(_)
        ));
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
