//! The bot's commands, parsed once for every front door with clap: Slack's `/aws whoami`, a
//! mention `@opsbot whoami`, a Teams message and `opsbot whoami` in a terminal reach the same
//! [`Command`]. The doc comments on [`Command`] are the help text people see, so the code and the
//! help cannot disagree. `ask` keeps the rest of the line verbatim.

use clap::{CommandFactory, Parser, Subcommand};

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
    command: Option<Command>,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Show this help.
    Help,
    /// Who you are to opsbot: your identity, groups, and the accounts you may query here.
    Whoami,
    /// The AWS accounts you may query here; with a name (`accounts prod`,
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
    /// Count EC2, S3, Lambda, RDS and EKS per account (no model), with the changes since this
    /// channel's last scheduled inventory, e.g. `inventory prod staging` or `inventory all`.
    Inventory {
        /// Accounts: names, ids, aliases or environments (default: all you may query here).
        #[arg(num_args = 0.., trailing_var_arg = true)]
        accounts: Vec<String>,
    },
    /// Run one read-only API call without the model, as a table, e.g.
    /// `run prod,staging ec2 DescribeInstances {"Filters":[{"Name":"instance-state-name","Values":["running"]}]}`.
    Run {
        /// Only these regions (repeat the flag); default: each account's regions.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// Accounts: names, ids, aliases or environments, comma-separated, or `all`.
        accounts: String,
        /// Service, e.g. `ec2`, `s3`, `lambda`.
        service: String,
        /// Operation, e.g. `DescribeInstances`.
        operation: String,
        /// Parameters as JSON (optional).
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        params: Vec<String>,
    },
    /// A command line that did not parse (typed as a message, where no immediate reply is
    /// possible): answered with the help, after what was wrong.
    #[command(skip)]
    Unclear(String),
}

impl Command {
    /// The `accounts` name joined back into one string (empty when none was given).
    pub fn name_text(name: &[String]) -> String {
        name.join(" ")
    }

    /// The read a `run` command asks for, or what is wrong with its parameters.
    pub fn run_spec(&self) -> Option<Result<crate::core::respond::RunSpec, String>> {
        let Self::Run {
            regions,
            accounts,
            service,
            operation,
            params,
        } = self
        else {
            return None;
        };
        let text = params.join(" ");
        let params = if text.trim().is_empty() {
            Ok(serde_json::Value::Null)
        } else {
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                format!("the parameters are not JSON ({e}); write them like {{\"MaxResults\": 50}}")
            })
        };
        Some(params.map(|params| {
            crate::core::respond::RunSpec {
                accounts: accounts
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
                regions: regions.clone(),
                service: service.clone(),
                operation: operation.clone(),
                params,
            }
        }))
    }
}

/// The result of parsing a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid command. For `ask`, `question` holds the raw remainder of the line as one item.
    Run(Command),
    /// Not understood, or `help`: show the help, after this problem if there was one.
    Help(Option<String>),
}

/// Parses the words after the command prefix (`/aws`, `opsbot`).
pub fn parse(text: &str) -> Parsed {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Parsed::Help(None);
    }
    match Line::try_parse_from(words.iter().copied()) {
        Ok(Line {
            command: Some(Command::Help),
        })
        | Ok(Line { command: None }) => Parsed::Help(None),
        Ok(Line {
            command: Some(Command::Ask { .. }),
        }) => {
            let rest = text.trim_start();
            let raw = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
            Parsed::Run(Command::Ask {
                question: vec![raw.to_string()],
            })
        }
        Ok(Line { command: Some(c) }) => Parsed::Run(c),
        Err(e) => {
            let first = e
                .to_string()
                .lines()
                .next()
                .unwrap_or("not understood")
                .trim_start_matches("error: ")
                .to_string();
            Parsed::Help(Some(first))
        }
    }
}

/// Recognises a command typed as a message to the bot (`@opsbot whoami`, `accounts prod`),
/// where anything else is a question. Only short, unambiguous lines count: `help`, `whoami`,
/// and `accounts` with at most three more words and no question mark.
pub fn in_message(text: &str) -> Option<Command> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = words.first()?.to_lowercase();
    match (first.as_str(), words.len()) {
        ("help", 1) => Some(Command::Help),
        ("whoami", 1) => Some(Command::Whoami),
        ("accounts", n) if n <= 4 && !text.contains('?') => Some(Command::Accounts {
            name: words[1..].iter().map(|w| w.to_string()).collect(),
        }),
        _ => None,
    }
}

/// The help text for `prefix` (`/aws`, `@opsbot`, `opsbot`), generated from [`Command`].
pub fn help(prefix: &str) -> String {
    let mut cmd = Line::command()
        .name(prefix.to_string())
        .bin_name(prefix.to_string())
        .override_usage(format!("{prefix} <command> [args]"));
    cmd.render_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("whoami"), Parsed::Run(Command::Whoami));
        assert_eq!(
            parse("  accounts "),
            Parsed::Run(Command::Accounts { name: vec![] })
        );
        assert_eq!(
            parse("accounts the staging account"),
            Parsed::Run(Command::Accounts {
                name: vec!["the".into(), "staging".into(), "account".into()]
            })
        );
        assert_eq!(
            parse("ask  list EC2 in \"prod\" --all"),
            Parsed::Run(Command::Ask {
                question: vec!["list EC2 in \"prod\" --all".into()]
            })
        );
    }

    #[test]
    fn help_and_unknown_show_help() {
        for text in ["", "help"] {
            assert_eq!(parse(text), Parsed::Help(None), "{text}");
        }
        for text in ["frobnicate", "ask", "whoami extra"] {
            assert!(
                matches!(parse(text), Parsed::Help(Some(_))),
                "{text}: {:?}",
                parse(text)
            );
        }
        assert!(matches!(parse("frobnicate"), Parsed::Help(Some(p)) if p.contains("frobnicate")));
        let h = help("/ops");
        assert!(h.contains("/ops"), "{h}");
        assert!(
            h.contains("whoami") && h.contains("accounts") && h.contains("ask"),
            "{h}"
        );
        assert!(h.contains("Who you are to opsbot"), "{h}");
    }

    #[test]
    fn run_takes_accounts_service_operation_and_json() {
        let Parsed::Run(c) = parse(
            r#"run --region eu-west-1 prod,staging ec2 DescribeInstances {"Filters": [{"Name": "x", "Values": ["a b"]}]}"#,
        ) else {
            panic!("a command")
        };
        let spec = c.run_spec().unwrap().unwrap();
        assert_eq!(spec.accounts, ["prod", "staging"]);
        assert_eq!(spec.regions, ["eu-west-1"]);
        assert_eq!(spec.operation, "DescribeInstances");
        assert_eq!(spec.params["Filters"][0]["Values"][0], "a b");
        let Parsed::Run(bad) = parse("run all ec2 DescribeInstances {oops") else {
            panic!()
        };
        assert!(bad.run_spec().unwrap().unwrap_err().contains("not JSON"));
        assert!(matches!(parse("run all ec2"), Parsed::Help(Some(_))));
    }

    #[test]
    fn commands_in_messages_only_when_unambiguous() {
        let cases: &[(&str, Option<Command>)] = &[
            ("whoami", Some(Command::Whoami)),
            ("Help", Some(Command::Help)),
            ("accounts", Some(Command::Accounts { name: vec![] })),
            (
                "accounts prod",
                Some(Command::Accounts {
                    name: vec!["prod".into()],
                }),
            ),
            ("accounts without CloudTrail enabled anywhere", None),
            ("accounts with public buckets?", None),
            ("whoami and what can I do", None),
            ("help me find idle EC2 instances", None),
            ("list EC2 instances", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(&in_message(text), want, "{text}");
        }
    }
}
