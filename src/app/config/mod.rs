//! Configuration: one TOML file for settings, environment variables for secrets.
//!
//! [`Config::load`] reads the file and hands each section to the subsystem that owns it
//! (`[slack]` → `chat::slack::settings`, `[work]` → `work`, `[aws]` → `aws::pool`,
//! `[identity]` → `identity::settings`, `[accounts]` → `accounts` and the policy). Every
//! problem is reported at once, each naming the key and what to do: unknown keys, wrong types
//! (one per section at worst), bad values, missing files and missing secrets. Secrets never
//! live in the file and are wrapped in [`Secret`] so they cannot reach logs or `Debug` output.
//! Nothing outside `app`, `cli` and `main` imports this module.

use crate::accounts::{self, Registry};
use crate::agent::settings::{AgentSettings, RawAgent};
use crate::aws::mcp::settings::{McpSettings, RawMcp};
use crate::aws::pool::{PoolSettings, RawAws};
use crate::chat::slack::settings::{Needs, RawSlack, SlackMode, SlackSettings};
use crate::chat::teams::settings::{RawTeams, TeamsSettings};
use crate::identity::settings::{IdentityConfig, RawSettings as RawIdentity};
use crate::inventory::schedule::{InventorySettings, RawInventory, RawSchedule};
use crate::policy::Policy;
use crate::problem::{self, Problem};
use crate::store::settings::{RawStore, StoreSettings};
use crate::work::{RawWork, WorkSettings};
use serde::Deserialize;

pub use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The validated configuration the bot runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// File the settings came from (for messages).
    pub source: PathBuf,
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Slack settings and secrets.
    pub slack: SlackSettings,
    /// Whether the bot serves Slack: `[slack]` is present, or `[teams]` is absent.
    pub slack_enabled: bool,
    /// Microsoft Teams (`[teams]`); `None`: the bot does not serve Teams.
    pub teams: Option<TeamsSettings>,
    /// Limits on concurrent work.
    pub work: WorkSettings,
    /// Account registry and access policy.
    pub accounts: AccountsConfig,
    /// Identity providers.
    pub identity: IdentityConfig,
    /// AWS credential pool settings.
    pub aws: PoolSettings,
    /// The AWS MCP Server (`[mcp]`, defaults to the hosted endpoint).
    pub mcp: McpSettings,
    /// The agent (`[agent]`); `None` keeps the "no agent is configured" reply.
    pub agent: Option<AgentSettings>,
    /// Inventory kinds, schedules and the run database (`[inventory]`, `[[schedule]]`).
    pub inventory: InventorySettings,
    /// Where shared state lives (`[store]`).
    pub store: StoreSettings,
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
    /// How many replicas run (`server.replicas`, default 1): checked against the store and
    /// Slack's Socket Mode connection limit.
    pub replicas: u32,
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
    #[error("{} problem(s) in {}:\n{}", problems.len(), path.display(), problem::list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawServer {
    listen: Option<String>,
    body_limit_bytes: Option<usize>,
    drain_seconds: Option<u64>,
    replicas: Option<u32>,
}

/// The top-level sections, each read on its own.
const SECTIONS: &[&str] = &[
    "server",
    "slack",
    "teams",
    "work",
    "accounts",
    "identity",
    "aws",
    "mcp",
    "agent",
    "inventory",
    "schedule",
    "store",
];

/// Deserializes `table[name]` (or its default), recording unknown keys and a type error as
/// problems instead of stopping.
fn section<T: for<'de> Deserialize<'de> + Default>(
    table: &toml::Table,
    name: &str,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(value) = table.get(name) else {
        return T::default();
    };
    let mut unknown = Vec::new();
    let mut track = |p: serde_ignored::Path<'_>| unknown.push(format!("{name}.{p}"));
    let result = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value.clone(),
        &mut track,
    ));
    for key in unknown {
        problems.push(Problem::new(
            key,
            "unknown key; remove it or check the spelling against opsbot.example.toml",
        ));
    }
    match result {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let key = if path == "." || path.is_empty() {
                name.to_string()
            } else {
                format!("{name}.{path}")
            };
            problems.push(Problem::new(
                key,
                format!(
                    "{}; see opsbot.example.toml for this key",
                    e.inner().to_string().lines().next().unwrap_or("wrong type")
                ),
            ));
            T::default()
        }
    }
}

impl Config {
    /// Loads and validates `path` for `opsbot serve`, reading secrets through `env`
    /// (pass `std::env::var(..).ok()`).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::load_for(path, env, Needs::Serve)
    }

    /// Loads and validates `path`, requiring the Slack secrets only if `needs` says so.
    pub fn load_for(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        needs: Needs,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_for(&text, path, env, needs).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }

    /// Parses TOML text for `opsbot serve`; `path` is only used in messages and to find the
    /// files it references. Returns every problem found.
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<Problem>> {
        Self::parse_for(text, path, env, Needs::Serve)
    }

    /// Parses TOML text, requiring the Slack secrets only if `needs` says so.
    pub fn parse_for(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        needs: Needs,
    ) -> Result<Self, Vec<Problem>> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            vec![Problem::new(
                "(syntax)",
                format!("not valid TOML: {}", e.message()),
            )]
        })?;
        let mut problems = Vec::new();
        for key in table.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
            problems.push(Problem::new(
                key.clone(),
                "unknown key; remove it or check the spelling against opsbot.example.toml",
            ));
        }
        let raw_server: RawServer = section(&table, "server", &mut problems);
        let raw_slack: RawSlack = section(&table, "slack", &mut problems);
        let raw_work: RawWork = section(&table, "work", &mut problems);
        let raw_accounts: accounts::Settings = section(&table, "accounts", &mut problems);
        let raw_identity: RawIdentity = section(&table, "identity", &mut problems);
        let raw_aws: RawAws = section(&table, "aws", &mut problems);
        let raw_mcp: RawMcp = section(&table, "mcp", &mut problems);
        let raw_inventory: RawInventory = section(&table, "inventory", &mut problems);
        let raw_schedules: Vec<RawSchedule> = section(&table, "schedule", &mut problems);
        let raw_store: RawStore = section(&table, "store", &mut problems);
        let raw_teams: Option<RawTeams> = table
            .contains_key("teams")
            .then(|| section(&table, "teams", &mut problems));
        let slack_enabled = table.contains_key("slack") || raw_teams.is_none();
        let raw_agent: Option<RawAgent> = table
            .contains_key("agent")
            .then(|| section(&table, "agent", &mut problems));

        let base = path.parent().unwrap_or(Path::new("."));
        let accounts = files::load_accounts(raw_accounts, base, &mut problems);
        let identity = raw_identity.validate(base, env, &mut problems);
        let aws = raw_aws.validate(&mut problems);
        let work = raw_work.validate(&mut problems);
        let slack = raw_slack.validate(
            env,
            if slack_enabled {
                needs
            } else {
                Needs::Optional
            },
            &mut problems,
        );
        let teams = raw_teams.map(|t| t.validate(env, needs == Needs::Serve, &mut problems));
        let mcp = raw_mcp.validate(env, &mut problems);
        let agent = raw_agent.map(|a| a.validate(base, &mut problems));
        let inventory = raw_inventory.validate(
            raw_schedules,
            base,
            &accounts.registry,
            &accounts.policy,
            &mut problems,
        );

        let store = raw_store.validate(&mut problems);
        let replicas = raw_server.replicas.unwrap_or(1);
        if replicas == 0 {
            problems.push(Problem::new("server.replicas", "must be at least 1"));
        }
        if replicas > 1 && !store.shared() {
            problems.push(Problem::new(
                "server.replicas",
                format!(
                    "{replicas} replicas need shared state: set [store] kind = \"dynamodb\" (otherwise retries reaching another replica are answered twice and schedules post once per replica)"
                ),
            ));
        }
        if slack_enabled && slack.mode == SlackMode::Socket {
            // A rolling update runs one extra pod while the old ones still hold connections.
            let needed = (replicas + 1) * slack.socket_connections;
            if needed > 10 {
                problems.push(Problem::new(
                    "slack.socket_connections",
                    format!(
                        "{} replicas + 1 during a rolling update × {} connections = {needed}; Slack allows 10 per app: lower slack.socket_connections",
                        replicas, slack.socket_connections
                    ),
                ));
            }
        }
        for (i, s) in inventory.schedules.iter().enumerate() {
            let platform = s.post_to.platform;
            let served = match platform {
                crate::core::inbound::Platform::Slack => slack_enabled,
                crate::core::inbound::Platform::Teams => teams.is_some(),
                crate::core::inbound::Platform::Terminal => false,
            };
            if !served {
                problems.push(Problem::new(
                    format!("schedule[{i}].post_to"),
                    format!(
                        "posts to {}, but the bot does not serve {platform}; add a [{platform}] section or post elsewhere",
                        s.post_to.key()
                    ),
                ));
            }
        }
        let listen_text = raw_server.listen.as_deref().unwrap_or("0.0.0.0:3000");
        let listen = listen_text.parse().unwrap_or_else(|_| {
            problems.push(Problem::new(
                "server.listen",
                format!("{listen_text:?} is not an address; use HOST:PORT such as 0.0.0.0:3000"),
            ));
            SocketAddr::from(([0, 0, 0, 0], 3000))
        });
        let body_limit_bytes = raw_server.body_limit_bytes.unwrap_or(1024 * 1024);
        if body_limit_bytes < 1024 {
            problems.push(Problem::new(
                "server.body_limit_bytes",
                "must be at least 1024; Slack payloads reach tens of KiB",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            source: path.to_owned(),
            server: ServerConfig {
                listen,
                body_limit_bytes,
                drain: Duration::from_secs(raw_server.drain_seconds.unwrap_or(25)),
                replicas,
            },
            slack,
            slack_enabled,
            teams,
            work,
            accounts,
            identity,
            aws,
            mcp,
            agent,
            inventory,
            store,
        })
    }

    fn schedules_summary(&self) -> String {
        let inv = &self.inventory;
        if inv.schedules.is_empty() {
            return "none configured".into();
        }
        let list: Vec<String> = inv
            .schedules
            .iter()
            .map(|s| {
                format!(
                    "{} \"{}\" ({}) to {}",
                    s.name,
                    s.pattern,
                    s.timezone,
                    s.post_to.key()
                )
            })
            .collect();
        format!(
            "{}; runs and snapshots in {}",
            list.join(", "),
            inv.database
                .as_deref()
                .map_or("memory".into(), |p| p.display().to_string())
        )
    }

    /// A human summary for `opsbot check` (never prints secrets).
    pub fn summary(&self) -> String {
        let mode = match self.slack.mode {
            _ if !self.slack_enabled => "off (no [slack] section)".to_string(),
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
        let mut secrets = Vec::new();
        if self.slack.has_token() {
            secrets.push("bot token");
        }
        if !self.slack.signing_secret.expose().is_empty() {
            secrets.push("signing secret");
        }
        if self.slack.app_token.is_some() {
            secrets.push("app token");
        }
        let store = format!(
            "{}; {} replica(s)",
            self.store.describe(),
            self.server.replicas
        );
        let teams = match &self.teams {
            None => "off (no [teams] section)".to_string(),
            Some(t) => {
                if !t.client_secret.expose().is_empty() {
                    secrets.push("Teams client secret");
                }
                format!(
                    "app {} in tenant {}, messages at http://{}/api/messages, connectors {}",
                    t.app_id,
                    t.tenant_id,
                    self.server.listen,
                    t.allowed_service_hosts.join(", ")
                )
            }
        };
        format!(
            "configuration {} is valid\n  slack mode:     {mode}\n  teams:          {teams}\n  slack api:      {}\n  slash command:  {}\n  work limits:    {} at once, {} per person, {} waiting, answers time out after {} s\n  store:          {}\n  accounts:       {accounts}\n  discovery:      {}\n  access policy:  {} grant(s), {} channel rule(s), other channels allow {}, DMs allow {}\n  identity:       {}\n  aws sessions:   {} s, refreshed {} s before expiry, session tags {}\n  mcp server:     {} ({}; {} req/s per account per endpoint Region, burst {}, {} reads per script)\n  agent:          {}\n  schedules:      {}\n  secrets:        {} set",
            self.source.display(),
            self.slack.api_url,
            self.slack.command,
            self.work.max_concurrent,
            self.work.max_per_user,
            self.work.max_queued,
            self.work.answer_timeout.as_secs(),
            store,
            if self.accounts.settings.discover {
                "AWS Organizations (merged with the file)"
            } else {
                "off"
            },
            policy.grants.len(),
            policy.channels.len(),
            selectors(&policy.channel_default),
            selectors(&policy.dm),
            match policy.migration_note(self.identity.has_idp()) {
                Some(note) => format!("{}\n    note: {note}", self.identity.describe()),
                None => self.identity.describe(),
            },
            self.aws.duration.as_secs(),
            self.aws.refresh_margin.as_secs(),
            if self.aws.session_tags { "on" } else { "off" },
            self.mcp.server.endpoints.describe(),
            match self.mcp.server.runs_as {
                crate::aws::mcp::client::RunsAs::Signer =>
                    "hosted: every call runs as the asking person".to_string(),
                crate::aws::mcp::client::RunsAs::Server => format!(
                    "SELF-HOSTED, what is lost: {}",
                    crate::aws::mcp::settings::SELF_HOSTED_LOSS
                ),
            },
            self.mcp.pace.requests_per_second,
            self.mcp.pace.burst,
            self.mcp.max_reads_per_script,
            match &self.agent {
                Some(a) => format!(
                    "{} in {} (at most {} turns, {} tool calls, {} s)",
                    a.model_id,
                    a.region,
                    a.max_turns,
                    a.max_tool_calls,
                    a.deadline.as_secs()
                ),
                None =>
                    "not configured (questions get a \"no agent is configured\" reply; `run` works)"
                        .into(),
            },
            self.schedules_summary(),
            if secrets.is_empty() {
                "none".to_string()
            } else {
                secrets.join(", ")
            },
        )
    }
}

mod files;
use crate::policy::describe as selectors;

#[cfg(test)]
mod tests;
