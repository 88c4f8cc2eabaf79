//! The `[slack]` section of opsbot.toml and the Slack secrets from the environment.

use crate::problem::Problem;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use serde::Deserialize;
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
pub enum ProgressStyle {
    /// Add a reaction to the asking message, remove it when the answer is posted.
    Reaction,
    /// `assistant.threads.setStatus` (apps with the Agents & AI Apps feature enabled); shows
    /// what the bot is doing as it goes.
    AssistantStatus,
    /// Show nothing.
    None,
}

/// Which Slack secrets a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// `opsbot serve`: the bot token, plus the signing secret (HTTP) or app token (Socket Mode).
    Serve,
    /// Terminal commands: Slack is optional (used only to look people up when a token is set).
    Optional,
}

/// `[slack]`: the Slack app, validated.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// HTTP Events API or Socket Mode (`slack.mode`).
    pub mode: SlackMode,
    /// Web API base URL without trailing slash (`slack.api_url`, env `SLACK_API_URL`).
    pub api_url: String,
    /// Slash command name including the slash (`slack.command`, default `/aws`).
    pub command: String,
    /// Progress signal while working (`slack.progress`).
    pub progress: ProgressStyle,
    /// Reaction name used when `progress = "reaction"` (`slack.progress_reaction`).
    pub progress_reaction: String,
    /// How long an `event_id` is remembered for de-duplication (`slack.dedup_ttl_seconds`).
    pub dedup_ttl: Duration,
    /// Retries after a 429 from Slack (`slack.max_retries`, default 3), each after
    /// `Retry-After` but never longer than `slack.max_retry_wait_seconds` (default 30).
    pub retry: RetryPolicy,
    /// Socket Mode connections kept open (`slack.socket_connections`, default 2).
    pub socket_connections: u32,
    /// Bot token (`SLACK_BOT_TOKEN`); empty when not needed and not set.
    pub bot_token: Secret,
    /// Signing secret (`SLACK_SIGNING_SECRET`).
    pub signing_secret: Secret,
    /// App-level token for Socket Mode (`SLACK_APP_TOKEN`); required when `mode = "socket"`.
    pub app_token: Option<Secret>,
    /// Other workspaces (`T…`) or Enterprise Grid organisations (`E…`) whose people count as
    /// ours (`slack.trusted_teams`, default none): everyone else outside the bot's own
    /// workspace (and enterprise) is a stranger.
    pub trusted_teams: Vec<String>,
}

impl SlackSettings {
    /// Whether a bot token is configured (terminal commands use Slack only then).
    pub fn has_token(&self) -> bool {
        !self.bot_token.expose().is_empty()
    }
}

/// Raw `[slack]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawSlack {
    mode: Option<String>,
    api_url: Option<String>,
    command: Option<String>,
    progress: Option<String>,
    progress_reaction: Option<String>,
    dedup_ttl_seconds: Option<u64>,
    max_retries: Option<u32>,
    max_retry_wait_seconds: Option<u64>,
    socket_connections: Option<u32>,
    trusted_teams: Vec<String>,
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

/// Parses an enum value from its TOML string, pushing a problem that lists the choices.
fn choice<T: for<'de> Deserialize<'de>>(
    value: Option<String>,
    key: &str,
    choices: &str,
    default: T,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(v) = value else { return default };
    match T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(&v)) {
        Ok(t) => t,
        Err(_) => {
            problems.push(Problem::new(key, format!("{v:?} is not one of {choices}")));
            default
        }
    }
}

impl RawSlack {
    /// Validates, reading secrets through `env`; pushes every problem.
    pub fn validate(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        needs: Needs,
        problems: &mut Vec<Problem>,
    ) -> SlackSettings {
        let mode = choice(
            self.mode,
            "slack.mode",
            "\"http\" or \"socket\"",
            SlackMode::Http,
            problems,
        );
        let progress = choice(
            self.progress,
            "slack.progress",
            "\"reaction\", \"assistant_status\" or \"none\"",
            ProgressStyle::Reaction,
            problems,
        );
        let api_url = env(ENV_API_URL)
            .or(self.api_url)
            .unwrap_or_else(|| "https://slack.com/api".into())
            .trim_end_matches('/')
            .to_string();
        if url::Url::parse(&api_url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            problems.push(Problem::new(
                "slack.api_url",
                format!("{api_url:?} is not an http(s) URL; use https://slack.com/api"),
            ));
        }
        let command = self.command.unwrap_or_else(|| "/aws".into());
        if !command.starts_with('/') || command.len() < 2 || command.contains(char::is_whitespace) {
            problems.push(Problem::new(
                "slack.command",
                format!("{command:?} must start with '/' and have no spaces, like \"/aws\""),
            ));
        }
        let socket_connections = self.socket_connections.unwrap_or(2);
        if !(1..=10).contains(&socket_connections) {
            problems.push(Problem::new(
                "slack.socket_connections",
                "must be between 1 and 10 (Slack allows 10 per app)",
            ));
        }
        for t in &self.trusted_teams {
            if !(t.starts_with(['T', 'E'])
                && t.len() >= 2
                && t.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                problems.push(Problem::new(
                    "slack.trusted_teams",
                    format!("{t:?} is not a workspace id (T…) or Enterprise Grid id (E…); find it in the workspace's settings or in users.info's team_id"),
                ));
            }
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
                        problems.push(Problem::new(
                            name,
                            format!("not set; export it with {help}"),
                        ));
                    }
                    None
                }
            }
        };
        let serve = needs == Needs::Serve;
        let bot_token = secret(ENV_BOT_TOKEN, serve);
        let signing_secret = secret(ENV_SIGNING_SECRET, serve && mode == SlackMode::Http);
        let app_token = secret(ENV_APP_TOKEN, serve && mode == SlackMode::Socket);
        SlackSettings {
            mode,
            api_url,
            command,
            progress,
            progress_reaction: self
                .progress_reaction
                .unwrap_or_else(|| "hourglass_flowing_sand".into()),
            dedup_ttl: Duration::from_secs(self.dedup_ttl_seconds.unwrap_or(3600)),
            retry: RetryPolicy {
                max_retries: self.max_retries.unwrap_or(3),
                base: Duration::from_secs(1),
                max_wait: Duration::from_secs(self.max_retry_wait_seconds.unwrap_or(30)),
            },
            socket_connections,
            bot_token: bot_token.unwrap_or_else(|| Secret::new("")),
            signing_secret: signing_secret.unwrap_or_else(|| Secret::new("")),
            app_token,
            trusted_teams: self.trusted_teams,
        }
    }
}
