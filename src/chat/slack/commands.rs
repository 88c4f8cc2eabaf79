//! Slash commands: the form Slack posts, and the `/aws` subcommands parsed with clap.
//!
//! The doc comments on [`Sub`] are the help text users see, so the code and the help cannot
//! disagree. `ask` keeps the rest of the line verbatim.

use clap::{CommandFactory, Parser, Subcommand};
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

#[derive(Debug, Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true,
    about = "Ask opsbot about your AWS accounts. Read-only; every call is made as you.",
    after_help = "You can also mention @opsbot in a channel or send it a direct message."
)]
struct Line {
    #[command(subcommand)]
    sub: Option<Sub>,
}

/// A parsed `/aws` subcommand.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Sub {
    /// Show this help.
    Help,
    /// Who you are to opsbot: your Slack identity, groups, and the accounts you may query.
    Whoami,
    /// The AWS accounts you may query in this channel; with a name (`accounts prod`,
    /// `accounts staging accounts`), what that name means here.
    Accounts {
        /// An account id, name, alias, environment or `all`.
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        name: Vec<String>,
    },
    /// Ask a question in plain words, e.g. `ask list EC2 instances in production`.
    Ask {
        /// The question.
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        question: Vec<String>,
    },
}

/// Result of parsing the text after the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid subcommand. For `ask`, `question` holds the raw remainder of the line.
    Run(Sub),
    /// Not understood: show this message (the problem plus the help).
    Help(String),
}

/// Parses `text` (what followed `command`) into a subcommand, or help with the problem.
pub fn parse_text(command: &str, text: &str) -> Parsed {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Parsed::Help(help(command));
    }
    match Line::try_parse_from(words.iter().copied()) {
        Ok(Line {
            sub: Some(Sub::Help),
        })
        | Ok(Line { sub: None }) => Parsed::Help(help(command)),
        Ok(Line {
            sub: Some(Sub::Ask { .. }),
        }) => {
            let rest = text.trim_start();
            let raw = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
            Parsed::Run(Sub::Ask {
                question: vec![raw.to_string()],
            })
        }
        Ok(Line { sub: Some(sub) }) => Parsed::Run(sub),
        Err(e) => {
            let first = e
                .to_string()
                .lines()
                .next()
                .unwrap_or("not understood")
                .trim_start_matches("error: ")
                .to_string();
            Parsed::Help(format!("{first}\n\n{}", help(command)))
        }
    }
}

/// The help text, generated from the subcommand definitions.
pub fn help(command: &str) -> String {
    let mut cmd = Line::command()
        .name(command.to_string())
        .bin_name(command.to_string())
        .override_usage(format!("{command} <command> [args]"));
    cmd.render_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subcommands() {
        assert_eq!(parse_text("/aws", "whoami"), Parsed::Run(Sub::Whoami));
        assert_eq!(
            parse_text("/aws", "  accounts "),
            Parsed::Run(Sub::Accounts { name: vec![] })
        );
        assert_eq!(
            parse_text("/aws", "accounts the staging account"),
            Parsed::Run(Sub::Accounts {
                name: vec!["the".into(), "staging".into(), "account".into()]
            })
        );
        assert_eq!(
            parse_text("/aws", "ask  list EC2 in \"prod\" --all"),
            Parsed::Run(Sub::Ask {
                question: vec!["list EC2 in \"prod\" --all".into()]
            })
        );
    }

    #[test]
    fn help_and_unknown_show_help_generated_from_code() {
        for text in ["", "help", "frobnicate", "ask", "whoami extra"] {
            match parse_text("/ops", text) {
                Parsed::Help(h) => {
                    assert!(h.contains("/ops"), "{text}: {h}");
                    assert!(
                        h.contains("whoami") && h.contains("accounts") && h.contains("ask"),
                        "{h}"
                    );
                    assert!(h.contains("Who you are to opsbot"), "{h}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(
            matches!(parse_text("/aws", "frobnicate"), Parsed::Help(h) if h.contains("frobnicate"))
        );
    }

    #[test]
    fn parses_slack_form() {
        let body = b"token=t&team_id=T1&channel_id=C1&user_id=U1&user_name=ana&command=%2Faws&text=ask+list+buckets&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2%2F3&trigger_id=1.2";
        let c = parse_form(body).unwrap();
        assert_eq!(c.command, "/aws");
        assert_eq!(c.text, "ask list buckets");
        assert_eq!(c.response_url, "https://hooks.slack.com/commands/1/2/3");
        assert!(parse_form(b"text=x").is_err());
    }
}
