//! Slash commands: the form Slack posts, turned into the core's neutral [`Inbound`]. The
//! subcommands themselves are parsed by [`crate::core::command`], the same parser every front
//! door uses.

use crate::core::command::{self, Parsed};
use crate::core::inbound::{ChatUser, Inbound, Place, PlaceKind, Platform, What};
use serde::Deserialize;

/// The `application/x-www-form-urlencoded` body of a slash command (fields the bot reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlashCommand {
    /// The command as typed, e.g. `/aws`.
    pub command: String,
    /// Everything after the command.
    #[serde(default)]
    pub text: String,
    /// Who ran it.
    pub user_id: String,
    /// Their handle (deprecated by Slack but still sent).
    #[serde(default)]
    pub user_name: Option<String>,
    /// Channel it was run in.
    pub channel_id: String,
    /// `directmessage`, `mpdm-…`, `privategroup` or the channel's name.
    #[serde(default)]
    pub channel_name: Option<String>,
    /// Workspace.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Where up to 5 delayed replies may be posted within 30 minutes.
    pub response_url: String,
}

/// Why a command body could not be read (answered with 400).
#[derive(Debug, thiserror::Error)]
#[error("malformed slash command body: {0}")]
pub struct ParseError(#[from] serde_urlencoded::de::Error);

/// Parses the form body Slack posts to `/slack/commands`.
pub fn parse_form(body: &[u8]) -> Result<SlashCommand, ParseError> {
    Ok(serde_urlencoded::from_bytes(body)?)
}

/// What a slash command asks for: a command for the core, or help to show at once (with the
/// problem when the text was not understood).
pub enum Request {
    /// Hand this to the core.
    Submit(Box<Inbound>),
    /// Show the help now, after this problem if there was one.
    Help(Option<String>),
}

/// The neutral form of `cmd`.
pub fn to_request(cmd: &SlashCommand) -> Request {
    let command = match command::parse(&cmd.text) {
        Parsed::Run(c) => c,
        Parsed::Help(problem) => return Request::Help(problem),
    };
    let kind = match cmd.channel_name.as_deref() {
        Some("directmessage") => PlaceKind::Dm,
        Some(n) if n.starts_with("mpdm-") => PlaceKind::Group,
        _ if cmd.channel_id.starts_with('D') => PlaceKind::Dm,
        _ => PlaceKind::Channel,
    };
    Request::Submit(Box::new(Inbound {
        delivery: None,
        who: ChatUser {
            platform: Platform::Slack,
            id: cmd.user_id.clone(),
            team: cmd.team_id.clone(),
        },
        place: Place::new(Platform::Slack, cmd.channel_id.clone(), kind),
        message: None,
        thread: None,
        handle: Some(cmd.response_url.clone()),
        what: What::Command(command),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::Command;

    #[test]
    fn parses_slack_form() {
        let body = b"token=t&team_id=T1&channel_id=C1&channel_name=ops&user_id=U1&user_name=ana&command=%2Faws&text=ask+list+buckets&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2%2F3&trigger_id=1.2";
        let c = parse_form(body).unwrap();
        assert_eq!(c.command, "/aws");
        assert_eq!(c.text, "ask list buckets");
        assert_eq!(c.response_url, "https://hooks.slack.com/commands/1/2/3");
        assert!(parse_form(b"text=x").is_err());
        let Request::Submit(i) = to_request(&c) else {
            panic!("a command")
        };
        assert_eq!(
            i.what,
            What::Command(Command::Ask {
                question: vec!["list buckets".into()]
            })
        );
        assert_eq!(
            i.handle.as_deref(),
            Some("https://hooks.slack.com/commands/1/2/3")
        );
        assert_eq!(i.place.kind, PlaceKind::Channel);
        assert_eq!(i.delivery, None, "slash commands are never redelivered");
    }

    #[test]
    fn dm_and_group_dm_and_help() {
        let mut c = parse_form(b"channel_id=D1&channel_name=directmessage&user_id=U1&command=%2Faws&text=whoami&response_url=http%3A%2F%2Fx").unwrap();
        let Request::Submit(i) = to_request(&c) else {
            panic!()
        };
        assert_eq!(i.place.kind, PlaceKind::Dm);
        c.channel_id = "G1".into();
        c.channel_name = Some("mpdm-ana--bo-1".into());
        let Request::Submit(i) = to_request(&c) else {
            panic!()
        };
        assert_eq!(i.place.kind, PlaceKind::Group);
        c.text = "deploy prod".into();
        assert!(matches!(to_request(&c), Request::Help(Some(p)) if p.contains("deploy")));
        c.text = "".into();
        assert!(matches!(to_request(&c), Request::Help(None)));
    }
}
