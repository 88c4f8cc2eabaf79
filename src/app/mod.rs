//! The application: the outside services wired around the core, the HTTP router, and the run
//! loop with graceful shutdown (stop accepting, finish in-flight answers up to a deadline).
//!
//! [`App::builder`] wires the real services from the configuration; tests (and the terminal)
//! replace any of them — a chat sink per platform, STS, profiles, group providers, the
//! responder, the conversation store — with their own.

use crate::access::Access;
use crate::accounts::discover::AccountBook;
use crate::agent::Agent;
use crate::agent::bedrock::Bedrock;
use crate::agent::model::Model;
use crate::aws::mcp::pool::McpPool;
use crate::aws::pool::CredentialPool;
use crate::aws::read::reader::Reader;
use crate::aws::sts::{LazySdkSts, Sts};
use crate::chat::slack::SlackDoor;
use crate::chat::slack::client::{Connector, SlackSink};
use crate::chat::slack::settings::SlackMode;
use crate::chat::slack::socket::SocketHealth;
use crate::chat::teams::TeamsDoor;
use crate::chat::teams::connector::Connector as TeamsConnector;
use crate::chat::teams::jwt::Validator;
use crate::chat::teams::profiles::TeamsProfiles;
use crate::chat::teams::refs::References;
use crate::chat::teams::sink::TeamsSink;
use crate::chat::{ChatSink, Sinks};
use crate::config::Config;

pub mod config;
mod ready;
mod serve;
mod stores;
use crate::core::dispatch::{Core, CoreParts, CoreSettings};
use crate::core::inbound::Platform;
use crate::core::respond::Responder;
use crate::identity::slack::SlackDirectory;
use crate::identity::{Directory, GroupDirectory, Profiles, TrustedProfiles};
use crate::inventory::Inventory;
use crate::metrics::Metrics;
use crate::store::ConversationStore;
use crate::store::runs::RunStore;
pub use ready::{Readiness, Teams};
use slack_morphism::SlackClient;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Why the application could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The TLS roots or HTTP client could not be set up.
    #[error("cannot set up the HTTP clients: {0}")]
    Client(#[from] std::io::Error),
    /// Socket Mode failed to connect.
    #[error(transparent)]
    Socket(#[from] crate::chat::slack::socket::SocketError),
    /// The HTTP server failed.
    #[error("HTTP server error: {0}")]
    Serve(std::io::Error),
    /// The run store could not be opened.
    #[error(transparent)]
    Store(crate::store::StoreError),
}

/// Everything the running bot is made of.
pub struct App {
    /// Validated configuration.
    pub config: Config,
    /// The chat-neutral core.
    pub core: Arc<Core>,
    /// The Slack adapter.
    pub slack: Arc<SlackDoor>,
    /// The Teams adapter, when `[teams]` is configured.
    pub teams: Option<Teams>,
    /// The real Slack client (auth.test, people lookups).
    slack_sink: Arc<SlackSink>,
    /// Whether the bot can receive: readiness.
    ready: Arc<Readiness>,
    /// Inventories and their schedules.
    pub inventory: Arc<Inventory>,
}

/// Builds an [`App`], with the real service for anything not replaced.
pub struct AppBuilder {
    config: Config,
    sinks: HashMap<Platform, Arc<dyn ChatSink>>,
    sts: Option<Arc<dyn Sts>>,
    profiles: HashMap<Platform, Arc<dyn Profiles>>,
    groups: Option<Vec<Arc<dyn GroupDirectory>>>,
    responder: Option<Arc<dyn Responder>>,
    model: Option<Arc<dyn Model>>,
    store: Option<Arc<dyn ConversationStore>>,
    runs: Option<Arc<dyn RunStore>>,
    wrap: Option<SinkWrapper>,
    dynamodb: Option<aws_sdk_dynamodb::Client>,
}

/// Wraps a platform's sink (see [`AppBuilder::wrap_sinks`]).
pub type SinkWrapper = Box<dyn Fn(Platform, Arc<dyn ChatSink>) -> Arc<dyn ChatSink> + Send>;

impl AppBuilder {
    /// Wraps every platform's sink, real or replaced, with `wrap` (tests record what the core
    /// delivers while the real platform client still delivers it).
    pub fn wrap_sinks(
        mut self,
        wrap: impl Fn(Platform, Arc<dyn ChatSink>) -> Arc<dyn ChatSink> + Send + 'static,
    ) -> Self {
        self.wrap = Some(Box::new(wrap));
        self
    }

    /// The configuration being wired (tests build real clients from it).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replies for `platform` go through `sink` (default: the real Slack Web API for Slack).
    pub fn sink(mut self, platform: Platform, sink: Arc<dyn ChatSink>) -> Self {
        self.sinks.insert(platform, sink);
        self
    }

    /// AssumeRole goes through `sts` (default: the AWS SDK, built on first use).
    pub fn sts(mut self, sts: Arc<dyn Sts>) -> Self {
        self.sts = Some(sts);
        self
    }

    /// People on `platform` are looked up in `profiles` (default: Slack `users.info` when a
    /// bot token is set; the terminal trusts its operator).
    pub fn profiles(mut self, platform: Platform, profiles: Arc<dyn Profiles>) -> Self {
        self.profiles.insert(platform, profiles);
        self
    }

    /// Groups come from `groups` (default: the providers in `[identity]`).
    pub fn groups(mut self, groups: Vec<Arc<dyn GroupDirectory>>) -> Self {
        self.groups = Some(groups);
        self
    }

    /// Questions are answered by `responder` (default: the [`Agent`], which says "no agent is
    /// configured" without `[agent]`).
    pub fn responder(mut self, responder: Arc<dyn Responder>) -> Self {
        self.responder = Some(responder);
        self
    }

    /// The agent answers with `model` (default: Bedrock Converse when `[agent]` is set).
    pub fn model(mut self, model: Arc<dyn Model>) -> Self {
        self.model = Some(model);
        self
    }

    /// Scheduled runs and snapshots live in `runs` (default: SQLite at `inventory.database`
    /// when schedules are configured, else in memory).
    pub fn runs(mut self, runs: Arc<dyn RunStore>) -> Self {
        self.runs = Some(runs);
        self
    }

    /// With `[store] kind = "dynamodb"`, the table is reached through `client` (default: the
    /// AWS SDK's configuration, `AWS_ENDPOINT_URL_DYNAMODB` honoured).
    pub fn dynamodb(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.dynamodb = Some(client);
        self
    }

    /// Conversation state lives in `store` (default: memory, or DynamoDB per `[store]`).
    pub fn store(mut self, store: Arc<dyn ConversationStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Wires everything. Must run inside a tokio runtime.
    pub async fn build(self) -> Result<App, AppError> {
        let config = self.config;
        let slack_sink = Arc::new(SlackSink::new(&config.slack)?);
        let slack_directory = SlackDirectory::new(
            slack_sink.client(),
            slack_sink.token().clone(),
            slack_sink.retry(),
        )
        .with_trusted_teams(config.slack.trusted_teams.clone());
        let http = crate::endpoint::client(Some(Duration::from_secs(20)))
            .map_err(|e| AppError::Client(std::io::Error::other(e)))?;
        let groups = match self.groups {
            Some(g) => g,
            None => {
                config
                    .identity
                    .build(slack_directory.clone(), http.clone())
                    .await
            }
        };
        let metrics = Metrics::new();
        let (runs, store) =
            stores::build(&config, &metrics, self.runs, self.store, self.dynamodb).await?;
        let mut profiles: HashMap<Platform, Arc<dyn Profiles>> = HashMap::new();
        profiles.insert(Platform::Terminal, Arc::new(TrustedProfiles));
        if config.slack.has_token() {
            profiles.insert(Platform::Slack, Arc::new(slack_directory));
        }
        let teams_parts = match &config.teams {
            Some(t) => {
                let settings = Arc::new(t.clone());
                let connector = Arc::new(TeamsConnector::new(http.clone(), settings.clone()));
                let refs = Arc::new(References::new(runs.clone()));
                profiles.insert(
                    Platform::Teams,
                    Arc::new(TeamsProfiles::new(connector.clone(), refs.clone())),
                );
                Some((settings, connector, refs))
            }
            None => None,
        };
        profiles.extend(self.profiles);
        let directory = Directory::new(profiles, groups, config.identity.ttl)
            .with_timeout(config.identity.timeout);
        let book = AccountBook::new(config.accounts.registry.clone());
        let access = Arc::new(Access::new(
            directory,
            book,
            config.accounts.policy.clone(),
            &config.identity.help_contact,
        ));
        let credentials = CredentialPool::new(
            self.sts.unwrap_or_else(|| Arc::new(LazySdkSts::default())),
            config.aws.clone(),
            metrics.clone(),
        );
        let mcp_http = crate::aws::mcp::client::http_client()
            .map_err(|e| AppError::Client(std::io::Error::other(e)))?;
        if config.mcp.server.runs_as == crate::aws::mcp::client::RunsAs::Server {
            tracing::warn!(
                url = %config.mcp.server.endpoints.describe(),
                "mcp.server = \"self_hosted\": {}; every answer through it says so",
                crate::aws::mcp::settings::SELF_HOSTED_LOSS
            );
        }
        let reader = Arc::new(Reader::new(
            Arc::new(McpPool::new(
                mcp_http,
                config.mcp.server.clone(),
                config.mcp.pace,
            )),
            config.mcp.read_settings(),
        ));
        let inventory = Arc::new(Inventory::new(
            reader.clone(),
            credentials.clone(),
            access.clone(),
            runs,
            config.inventory.clone(),
        ));
        let responder = match self.responder {
            Some(r) => r,
            None => {
                let model: Option<Arc<dyn Model>> = match (self.model, &config.agent) {
                    (Some(m), _) => Some(m),
                    (None, Some(a)) => Some(Arc::new(
                        Bedrock::new(&a.model_id, &a.region, a.prompt_caching).await,
                    )),
                    (None, None) => None,
                };
                Arc::new(
                    Agent::new(model, reader, config.agent.clone())
                        .with_inventory(inventory.clone())
                        .with_caps(config.work.read_caps),
                )
            }
        };
        let mut platforms: HashMap<Platform, Arc<dyn ChatSink>> = HashMap::new();
        if config.slack_enabled {
            platforms.insert(Platform::Slack, slack_sink.clone());
        }
        if let Some((_, connector, refs)) = &teams_parts {
            platforms.insert(
                Platform::Teams,
                Arc::new(TeamsSink::new(connector.clone(), refs.clone())),
            );
        }
        platforms.extend(self.sinks);
        let mut sinks = Sinks::default();
        for (platform, sink) in platforms {
            let sink = match &self.wrap {
                Some(wrap) => wrap(platform, sink),
                None => sink,
            };
            sinks = sinks.with(platform, sink);
        }
        let core = Core::new(
            CoreParts {
                sinks,
                access,
                responder,
                store,
                credentials,
                metrics,
            },
            CoreSettings {
                work: config.work.clone(),
                dedup_ttl: config.slack.dedup_ttl,
                command_prefixes: {
                    let mut p = HashMap::from([(Platform::Slack, config.slack.command.clone())]);
                    if let Some(t) = &config.teams {
                        p.insert(Platform::Teams, format!("@{}", t.bot_name));
                    }
                    p
                },
            },
        );
        let slack = SlackDoor::new(core.clone());
        let teams = teams_parts.map(|(settings, connector, refs)| {
            let keys = crate::endpoint::client(Some(Duration::from_secs(10))).unwrap_or_default();
            Teams {
                validator: Arc::new(Validator::new(
                    keys,
                    settings.openid_metadata_url.clone(),
                    settings.app_id.clone(),
                    Duration::from_secs(60),
                )),
                door: TeamsDoor::new(core.clone(), refs, settings),
                connector,
            }
        });
        let ready = Arc::new(Readiness {
            door: config.slack_enabled.then(|| slack.clone()),
            socket: (config.slack_enabled && config.slack.mode == SlackMode::Socket)
                .then(|| Arc::new(SocketHealth::default())),
            teams: teams.as_ref().map(|t| t.validator.clone()),
        });
        Ok(App {
            slack,
            teams,
            core,
            slack_sink,
            ready,
            inventory,
            config,
        })
    }
}

impl App {
    /// A builder with the real services for `config`.
    pub fn builder(config: Config) -> AppBuilder {
        AppBuilder {
            config,
            sinks: HashMap::new(),
            sts: None,
            profiles: HashMap::new(),
            groups: None,
            responder: None,
            model: None,
            store: None,
            runs: None,
            wrap: None,
            dynamodb: None,
        }
    }

    /// The real Slack client.
    pub fn slack_client(&self) -> Arc<SlackClient<Connector>> {
        self.slack_sink.client()
    }

    /// Slack people lookups, when a bot token is configured.
    pub fn slack_directory(&self) -> Option<SlackDirectory> {
        self.config.slack.has_token().then(|| {
            SlackDirectory::new(
                self.slack_sink.client(),
                self.slack_sink.token().clone(),
                self.slack_sink.retry(),
            )
        })
    }
}
