//! Configuration: one TOML file for settings, environment variables for secrets.
//!
//! [`Config::load`] reads the file, rejects unknown keys, validates every value and reports
//! *all* problems at once, each naming the file, the key and what to do. Secrets never live in
//! the file: they come from `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` and `SLACK_APP_TOKEN`, and
//! are wrapped in [`Secret`] so they cannot reach logs or `Debug` output.

use crate::accounts::{self, Registry};
use crate::aws::pool::PoolSettings;
use crate::identity::settings::{IdentityConfig, RawSettings as RawIdentity};
use crate::policy::Policy;
use serde::Deserialize;

pub use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable holding the bot token (`xoxb-...`).
pub const ENV_BOT_TOKEN: &str = "SLACK_BOT_TOKEN";
/// Environment variable holding the request signing secret.
pub const ENV_SIGNING_SECRET: &str = "SLACK_SIGNING_SECRET";
/// Environment variable holding the app-level token (`xapp-...`) for Socket Mode.
pub const ENV_APP_TOKEN: &str = "SLACK_APP_TOKEN";
/// Environment variable overriding `slack.api_url`.
pub const ENV_API_URL: &str = "SLACK_API_URL";

/// How Slack reaches the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Slack POSTs to `/slack/events`, `/slack/commands`, `/slack/interactions` (needs a public URL).
    Http,
    /// The bot opens a WebSocket to Slack (`apps.connections.open`); no public URL needed.
    Socket,
}

/// How the bot shows it is working on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Add a reaction to the asking message, remove it when the answer is posted.
    Reaction,
    /// `assistant.threads.setStatus` (apps with the Agents & AI Apps feature enabled).
    AssistantStatus,
    /// Show nothing.
    None,
}

/// The validated configuration the bot runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// File the settings came from (for messages).
    pub source: PathBuf,
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Slack settings and secrets.
    pub slack: SlackConfig,
    /// Limits on concurrent work.
    pub work: WorkConfig,
    /// Account registry and access policy.
    pub accounts: AccountsConfig,
    /// Identity providers.
    pub identity: IdentityConfig,
    /// AWS credential pool settings.
    pub aws: PoolSettings,
}

/// `[accounts]`: the registry and the access policy, loaded and validated.
#[derive(Debug, Clone, Default)]
pub struct AccountsConfig {
    /// The raw settings (discovery, defaults).
    pub settings: accounts::Settings,
    /// Accounts from `accounts.file` (empty when unset).
    pub registry: Registry,
    /// Policy from `accounts.access_file` (deny everything when unset).
    pub policy: Policy,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (`server.listen`, default `0.0.0.0:3000`).
    pub listen: SocketAddr,
    /// Largest accepted request body (`server.body_limit_bytes`, default 1 MiB); larger gets 413.
    pub body_limit_bytes: usize,
    /// How long shutdown waits for in-flight answers (`server.drain_seconds`, default 25).
    pub drain: Duration,
}

/// `[slack]`: the Slack app.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// HTTP Events API or Socket Mode (`slack.mode`).
    pub mode: SlackMode,
    /// Web API base URL without trailing slash (`slack.api_url`, env `SLACK_API_URL`).
    pub api_url: String,
    /// Slash command name including the slash (`slack.command`, default `/aws`).
    pub command: String,
    /// Progress signal while working (`slack.progress`).
    pub progress: Progress,
    /// Reaction name used when `progress = "reaction"` (`slack.progress_reaction`).
    pub progress_reaction: String,
    /// How long an `event_id` is remembered for de-duplication (`slack.dedup_ttl_seconds`).
    pub dedup_ttl: Duration,
    /// Retries after a 429 from Slack, each after `Retry-After` (`slack.max_retries`, default 3).
    pub max_retries: u32,
    /// Longest `Retry-After` the bot is willing to wait (`slack.max_retry_wait_seconds`, default 30).
    pub max_retry_wait: Duration,
    /// Socket Mode connections kept open (`slack.socket_connections`, default 2).
    pub socket_connections: u32,
    /// Bot token (`SLACK_BOT_TOKEN`).
    pub bot_token: Secret,
    /// Signing secret (`SLACK_SIGNING_SECRET`).
    pub signing_secret: Secret,
    /// App-level token for Socket Mode (`SLACK_APP_TOKEN`); required when `mode = "socket"`.
    pub app_token: Option<Secret>,
}

/// `[work]`: the bounded pool answers run on.
#[derive(Debug, Clone)]
pub struct WorkConfig {
    /// Answers in progress at once across everyone (`work.max_concurrent`, default 32).
    pub max_concurrent: usize,
    /// Answers in progress at once for one person (`work.max_per_user`, default 2).
    pub max_per_user: usize,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key (`slack.mode`) or environment variable name.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read {path}: {source}; pass an existing file with --config (start from opsbot.example.toml)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// One or more problems, all listed.
    #[error("{} problem(s) in {}:\n{}", problems.len(), path.display(), list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {}: {}", p.key, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    server: RawServer,
    slack: RawSlack,
    work: RawWork,
    accounts: accounts::Settings,
    identity: RawIdentity,
    aws: RawAws,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAws {
    session_duration_seconds: Option<u64>,
    refresh_margin_seconds: Option<u64>,
    failure_cache_seconds: Option<u64>,
    session_tags: Option<bool>,
    pool_capacity: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawServer {
    listen: Option<String>,
    body_limit_bytes: Option<usize>,
    drain_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSlack {
    mode: Option<SlackMode>,
    api_url: Option<String>,
    command: Option<String>,
    progress: Option<Progress>,
    progress_reaction: Option<String>,
    dedup_ttl_seconds: Option<u64>,
    max_retries: Option<u32>,
    max_retry_wait_seconds: Option<u64>,
    socket_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawWork {
    max_concurrent: Option<usize>,
    max_per_user: Option<usize>,
}

/// Where each secret comes from, shown when it is missing.
const SECRET_HELP: &[(&str, &str)] = &[
    (
        ENV_BOT_TOKEN,
        "the Bot User OAuth Token (xoxb-...): Slack app settings > OAuth & Permissions, after installing the app from manifests/slack-app.yaml",
    ),
    (
        ENV_SIGNING_SECRET,
        "the Signing Secret: Slack app settings > Basic Information > App Credentials",
    ),
    (
        ENV_APP_TOKEN,
        "an app-level token (xapp-...) with connections:write: Slack app settings > Basic Information > App-Level Tokens (Socket Mode only)",
    ),
];

impl Config {
    /// Loads and validates `path`, reading secrets through `env` (pass `std::env::var(..).ok()`).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path, env).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }

    /// Parses TOML text; `path` is only used in messages. Returns every problem found.
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        let de = toml::Deserializer::parse(text).map_err(|e| {
            vec![Problem {
                key: "(syntax)".into(),
                message: format!("not valid TOML: {}", e.message()),
            }]
        })?;
        let mut track = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
        let raw: RawConfig =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(de, &mut track))
                .map_err(|e| {
                    vec![Problem {
                        key: e.path().to_string(),
                        message: format!(
                            "{}; see opsbot.example.toml for this key",
                            e.inner().message()
                        ),
                    }]
                })?;
        for key in unknown {
            problems.push(Problem {
                key,
                message: "unknown key; remove it or check the spelling against opsbot.example.toml"
                    .into(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let accounts_config = load_accounts(raw.accounts, base, &mut problems);
        let identity = raw.identity.validate(base, env, &mut problems);
        let defaults = PoolSettings::default();
        let aws = PoolSettings {
            duration: raw
                .aws
                .session_duration_seconds
                .map_or(defaults.duration, Duration::from_secs),
            refresh_margin: raw
                .aws
                .refresh_margin_seconds
                .map_or(defaults.refresh_margin, Duration::from_secs),
            failure_ttl: raw
                .aws
                .failure_cache_seconds
                .map_or(defaults.failure_ttl, Duration::from_secs),
            session_tags: raw.aws.session_tags.unwrap_or(defaults.session_tags),
            capacity: raw.aws.pool_capacity.unwrap_or(defaults.capacity),
        };
        if !(900..=43_200).contains(&aws.duration.as_secs()) {
            problems.push(Problem {
                key: "aws.session_duration_seconds".into(),
                message: "must be between 900 and 43200 (and at most the role's maximum session duration)".into(),
            });
        }
        if aws.refresh_margin >= aws.duration {
            problems.push(Problem {
                key: "aws.refresh_margin_seconds".into(),
                message: "must be shorter than aws.session_duration_seconds".into(),
            });
        }

        let listen_text = raw.server.listen.as_deref().unwrap_or("0.0.0.0:3000");
        let listen = listen_text.parse().unwrap_or_else(|_| {
            problems.push(Problem {
                key: "server.listen".into(),
                message: format!(
                    "{listen_text:?} is not an address; use HOST:PORT such as 0.0.0.0:3000"
                ),
            });
            SocketAddr::from(([0, 0, 0, 0], 3000))
        });
        let body_limit_bytes = raw.server.body_limit_bytes.unwrap_or(1024 * 1024);
        if body_limit_bytes < 1024 {
            problems.push(Problem {
                key: "server.body_limit_bytes".into(),
                message: "must be at least 1024; Slack payloads reach tens of KiB".into(),
            });
        }

        let mode = raw.slack.mode.unwrap_or(SlackMode::Http);
        let api_url = env(ENV_API_URL)
            .or(raw.slack.api_url)
            .unwrap_or_else(|| "https://slack.com/api".into())
            .trim_end_matches('/')
            .to_string();
        if url::Url::parse(&api_url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            problems.push(Problem {
                key: "slack.api_url".into(),
                message: format!("{api_url:?} is not an http(s) URL; use https://slack.com/api"),
            });
        }
        let command = raw.slack.command.unwrap_or_else(|| "/aws".into());
        if !command.starts_with('/') || command.len() < 2 || command.contains(char::is_whitespace) {
            problems.push(Problem {
                key: "slack.command".into(),
                message: format!(
                    "{command:?} must start with '/' and have no spaces, like \"/aws\""
                ),
            });
        }
        let max_concurrent = raw.work.max_concurrent.unwrap_or(32);
        let max_per_user = raw.work.max_per_user.unwrap_or(2);
        if max_concurrent == 0 {
            problems.push(Problem {
                key: "work.max_concurrent".into(),
                message: "must be at least 1".into(),
            });
        }
        if max_per_user == 0 || max_per_user > max_concurrent.max(1) {
            problems.push(Problem {
                key: "work.max_per_user".into(),
                message: "must be between 1 and work.max_concurrent".into(),
            });
        }
        let socket_connections = raw.slack.socket_connections.unwrap_or(2);
        if !(1..=10).contains(&socket_connections) {
            problems.push(Problem {
                key: "slack.socket_connections".into(),
                message: "must be between 1 and 10 (Slack allows 10 per app)".into(),
            });
        }

        let mut secret = |name: &str, needed: bool| -> Option<Secret> {
            match env(name).filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(Secret::new(v.trim())),
                None => {
                    if needed {
                        let help = SECRET_HELP
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map_or("", |(_, h)| h);
                        problems.push(Problem {
                            key: name.into(),
                            message: format!("not set; export it with {help}"),
                        });
                    }
                    None
                }
            }
        };
        let bot_token = secret(ENV_BOT_TOKEN, true);
        let signing_secret = secret(ENV_SIGNING_SECRET, mode == SlackMode::Http);
        let app_token = secret(ENV_APP_TOKEN, mode == SlackMode::Socket);

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            source: path.to_owned(),
            server: ServerConfig {
                listen,
                body_limit_bytes,
                drain: Duration::from_secs(raw.server.drain_seconds.unwrap_or(25)),
            },
            slack: SlackConfig {
                mode,
                api_url,
                command,
                progress: raw.slack.progress.unwrap_or(Progress::Reaction),
                progress_reaction: raw
                    .slack
                    .progress_reaction
                    .unwrap_or_else(|| "hourglass_flowing_sand".into()),
                dedup_ttl: Duration::from_secs(raw.slack.dedup_ttl_seconds.unwrap_or(3600)),
                max_retries: raw.slack.max_retries.unwrap_or(3),
                max_retry_wait: Duration::from_secs(raw.slack.max_retry_wait_seconds.unwrap_or(30)),
                socket_connections,
                bot_token: bot_token.unwrap_or_else(|| Secret::new("")),
                signing_secret: signing_secret.unwrap_or_else(|| Secret::new("")),
                app_token,
            },
            work: WorkConfig {
                max_concurrent,
                max_per_user,
            },
            accounts: accounts_config,
            identity,
            aws,
        })
    }

    /// A human summary for `opsbot check` (never prints secrets).
    pub fn summary(&self) -> String {
        let mode = match self.slack.mode {
            SlackMode::Http => format!(
                "HTTP (Events API at http://{}/slack/events)",
                self.server.listen
            ),
            SlackMode::Socket => format!(
                "Socket Mode ({} connection(s))",
                self.slack.socket_connections
            ),
        };
        let registry = &self.accounts.registry;
        let accounts = if registry.all().is_empty() {
            "none configured (set accounts.file)".to_string()
        } else {
            format!(
                "{}: {}",
                registry.all().len(),
                registry
                    .all()
                    .iter()
                    .map(|a| a.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let policy = &self.accounts.policy;
        format!(
            "configuration {} is valid\n  slack mode:     {mode}\n  slack api:      {}\n  slash command:  {}\n  work limits:    {} at once, {} per person\n  accounts:       {accounts}\n  discovery:      {}\n  access policy:  {} grant(s), {} channel rule(s), other channels allow {}, DMs allow {}\n  identity:       {}\n  aws sessions:   {} s, refreshed {} s before expiry, session tags {}\n  schedules:      none configured\n  secrets:        {} set",
            self.source.display(),
            self.slack.api_url,
            self.slack.command,
            self.work.max_concurrent,
            self.work.max_per_user,
            if self.accounts.settings.discover {
                "AWS Organizations (merged with the file)"
            } else {
                "off"
            },
            policy.grants.len(),
            policy.channels.len(),
            selectors(&policy.channel_default),
            selectors(&policy.dm),
            self.identity.describe(),
            self.aws.duration.as_secs(),
            self.aws.refresh_margin.as_secs(),
            if self.aws.session_tags { "on" } else { "off" },
            if self.slack.app_token.is_some() {
                "bot token, signing secret, app token"
            } else {
                "bot token, signing secret"
            },
        )
    }
}

mod files;
use crate::policy::describe as selectors;
use files::load_accounts;

#[cfg(test)]
mod tests;
