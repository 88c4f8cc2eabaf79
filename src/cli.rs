//! The `opsbot` command line: `serve` runs the bot, `check` validates the configuration.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// opsbot: ask about your AWS Organization from Slack. Read-only, attributable answers.
#[derive(Debug, Parser)]
#[command(
    name = "opsbot",
    version,
    after_help = "Examples:\n  \
        SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... opsbot serve --config opsbot.toml\n  \
        opsbot serve --config opsbot.toml --listen 127.0.0.1:8080\n  \
        opsbot check --config opsbot.toml\n  \
        opsbot check --config opsbot.toml --aws\n\n\
        Secrets come from the environment only: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,\n\
        SLACK_APP_TOKEN (Socket Mode). Logs: RUST_LOG=opsbot=debug, OPSBOT_LOG_FORMAT=json."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
}
