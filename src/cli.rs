//! The `opsbot` command line: `serve` runs the bot, `check` validates the configuration, and
//! `ask`, `whoami`, `accounts` are the terminal front door on the same core.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// opsbot: ask about your AWS Organization from Slack or a terminal. Read-only, attributable
/// answers.
#[derive(Debug, Parser)]
#[command(
    name = "opsbot",
    version,
    after_help = "Examples:\n  \
        SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... opsbot serve --config opsbot.toml\n  \
        opsbot serve --config opsbot.toml --listen 127.0.0.1:8080\n  \
        opsbot check --config opsbot.toml\n  \
        opsbot check --config opsbot.toml --aws\n  \
        opsbot ask --config opsbot.toml --as ana@example.com \"list EC2 instances in production\"\n  \
        opsbot whoami --config opsbot.toml --as U0123ABCD --channel C0123ABCD\n  \
        opsbot run --config opsbot.toml --as ana@example.com all s3 ListBuckets\n  \
        opsbot inventory --config opsbot.toml --schedule weekly-prod --once\n\n\
        Secrets come from the environment only: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,\n\
        SLACK_APP_TOKEN (Socket Mode). Logs: RUST_LOG=opsbot=debug, OPSBOT_LOG_FORMAT=json."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Who and where, for the terminal commands.
#[derive(Debug, Args)]
pub struct AsSomeone {
    /// Configuration file.
    #[arg(long, short, value_name = "FILE")]
    pub config: PathBuf,
    /// Whom to act for: an email (looked up in Slack when SLACK_BOT_TOKEN is set) or a Slack
    /// user id. Their groups and grants apply; AWS calls carry their identity.
    #[arg(long = "as", value_name = "EMAIL_OR_USER")]
    pub as_user: String,
    /// Where they ask, for the channel guardrail: slack:C0123ABCD (or C0123ABCD). Default: a
    /// private conversation (the DM guardrail).
    #[arg(long, value_name = "PLACE")]
    pub channel: Option<String>,
    /// Print the raw answer document as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot.
    Serve {
        /// Configuration file (start from opsbot.example.toml).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Listen address; overrides server.listen.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Validate the configuration and print what it found; exit 1 listing every problem.
    Check {
        /// Configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Also assume every account's role and call GetCallerIdentity; exit 1 if any fails.
        #[arg(long)]
        aws: bool,
    },
    /// Ask a question as someone, from the terminal: the same answer they would get in chat.
    Ask {
        /// Who and where.
        #[command(flatten)]
        who: AsSomeone,
        /// The question.
        #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
        question: Vec<String>,
    },
    /// Show someone's identity, groups and the accounts they may query there.
    Whoami {
        /// Who and where.
        #[command(flatten)]
        who: AsSomeone,
    },
    /// Run one read-only API call as someone, without the model, as a table.
    Run {
        /// Who and where.
        #[command(flatten)]
        who: AsSomeone,
        /// Only these regions (repeat the flag); default: each account's regions.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// Accounts: names, ids, aliases or environments, comma-separated, or `all`.
        accounts: String,
        /// Service, e.g. `ec2`.
        service: String,
        /// Operation, e.g. `DescribeInstances`.
        operation: String,
        /// Parameters as JSON (optional).
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        params: Vec<String>,
    },
    /// Run a schedule's inventory now, as the schedule: print it, or with --post post it (and
    /// record the run, so the next scheduled post compares with it).
    Inventory {
        /// Configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// The schedule's name (from [[schedule]]).
        #[arg(long, value_name = "NAME")]
        schedule: String,
        /// Run once now (the only mode today).
        #[arg(long)]
        once: bool,
        /// Post to the schedule's channel (needs SLACK_BOT_TOKEN) instead of printing.
        #[arg(long)]
        post: bool,
        /// Print the raw answer document as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the accounts someone may query there; with a name, what that name means there.
    Accounts {
        /// Who and where.
        #[command(flatten)]
        who: AsSomeone,
        /// An account id, name, alias, environment or `all`.
        #[arg(num_args = 0.., trailing_var_arg = true)]
        name: Vec<String>,
    },
}
