//! The application: services wired together, the HTTP router, and the run loop with
//! graceful shutdown (stop accepting, finish in-flight answers up to a deadline, exit).

use crate::access::Access;
use crate::accounts::discover::AccountBook;
use crate::aws::pool::CredentialPool;
use crate::aws::sts::LazySdkSts;
use crate::bot::{Bot, NotConfigured, Responder};
use crate::chat::ChatSink;
use crate::chat::slack::client::{Connector, SlackSink};
use crate::chat::slack::http::{self, SlackState};
use crate::chat::slack::socket::SocketMode;
use crate::chat::slack::verify::Verifier;
use crate::config::{Config, SlackMode};
use crate::identity::slack::SlackDirectory;
use crate::metrics::Metrics;
use crate::work::WorkPool;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use slack_morphism::SlackClient;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the application could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The TLS roots or HTTP client could not be set up.
    #[error("cannot set up the Slack HTTP client: {0}")]
    Client(#[from] std::io::Error),
    /// Socket Mode failed to connect.
    #[error(transparent)]
    Socket(#[from] crate::chat::slack::socket::SocketError),
    /// The HTTP server failed.
    #[error("HTTP server error: {0}")]
    Serve(std::io::Error),
}

/// Everything the running bot is made of.
pub struct App {
    /// Validated configuration.
    pub config: Config,
    /// The bot (handlers, pool, metrics).
    pub bot: Arc<Bot>,
    /// Identity, registry and policy.
    pub access: Arc<Access>,
    /// Per-person STS credentials (for the agent's AWS calls).
    pub pool: CredentialPool,
    /// The Slack client, for Socket Mode.
    client: Option<Arc<SlackClient<Connector>>>,
}

impl App {
    /// Builds the app with the real Slack sink, identity providers and policy, answering with
    /// `responder` (or [`NotConfigured`]).
    pub async fn build(
        config: Config,
        responder: Option<Arc<dyn Responder>>,
    ) -> Result<Self, AppError> {
        let sink = Arc::new(SlackSink::new(&config.slack)?);
        let client = sink.client();
        let slack_directory =
            SlackDirectory::new(client.clone(), sink.token().clone(), sink.retry_policy());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("opsbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::Client(std::io::Error::other(e)))?;
        let directory = config.identity.build(slack_directory, http).await;
        let book = AccountBook::new(config.accounts.registry.clone());
        let access = Arc::new(Access::new(
            directory,
            book,
            config.accounts.policy.clone(),
            &config.identity.help_contact,
        ));
        let metrics = Metrics::new();
        let credentials = CredentialPool::new(
            Arc::new(LazySdkSts::default()),
            config.aws.clone(),
            metrics.clone(),
        );
        let pool = WorkPool::new(config.work.max_concurrent, config.work.max_per_user);
        let sink: Arc<dyn ChatSink> = sink;
        let responder = responder.unwrap_or_else(|| Arc::new(NotConfigured));
        let bot = Bot::new(
            sink,
            access.clone(),
            responder,
            pool,
            metrics,
            &config.slack.command,
            config.slack.dedup_ttl,
        );
        Ok(Self {
            config,
            bot,
            access,
            pool: credentials,
            client: Some(client),
        })
    }

    /// The HTTP router: health, readiness, metrics, and (HTTP mode) the Slack routes.
    pub fn router(&self) -> Router {
        let ops = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self.bot.clone());
        if self.config.slack.mode == SlackMode::Socket {
            return ops;
        }
        let state = SlackState {
            bot: self.bot.clone(),
            verifier: Arc::new(Verifier::new(self.config.slack.signing_secret.expose())),
        };
        ops.merge(http::routes(state, self.config.server.body_limit_bytes))
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight work.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let ready = tokio::spawn(wait_for_slack(self.bot.clone()));
        let discovery = self.config.accounts.settings.discover.then(|| {
            let book = self.access.book().clone();
            let settings = self.config.accounts.settings.clone();
            tokio::spawn(async move {
                let client = crate::accounts::discover::client(&settings).await;
                book.refresh_forever(client, settings).await;
            })
        });
        let socket = match (
            self.config.slack.mode,
            &self.client,
            &self.config.slack.app_token,
        ) {
            (SlackMode::Socket, Some(client), Some(token)) => Some(
                SocketMode::start(
                    self.bot.clone(),
                    client.clone(),
                    token,
                    self.config.slack.socket_connections,
                )
                .await?,
            ),
            _ => None,
        };
        tracing::info!(
            addr = %listener.local_addr().map_err(AppError::Serve)?,
            mode = ?self.config.slack.mode,
            "opsbot listening"
        );
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(AppError::Serve)?;
        ready.abort();
        if let Some(d) = discovery {
            d.abort();
        }
        if let Some(s) = &socket {
            s.shutdown().await;
        }
        let in_flight = self.bot.pool().in_flight();
        tracing::info!(in_flight, "shutting down: finishing answers in progress");
        if self.bot.pool().drain(self.config.server.drain).await {
            tracing::info!("all answers delivered; bye");
        } else {
            tracing::warn!(
                deadline_secs = self.config.server.drain.as_secs(),
                "drain deadline passed; some answers were not delivered"
            );
        }
        Ok(())
    }
}

/// Calls `auth.test` until it succeeds (backing off to 30 s), then marks the bot ready.
async fn wait_for_slack(bot: Arc<Bot>) {
    let mut wait = Duration::from_millis(250);
    loop {
        match bot.sink().identity().await {
            Ok(id) => {
                tracing::info!(
                    bot_user = id.user_id,
                    team = id.team_id,
                    "Slack token works; ready"
                );
                bot.set_identity(id);
                return;
            }
            Err(e) => {
                bot.metrics().error(e.kind());
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "auth.test failed; not ready (check SLACK_BOT_TOKEN)");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

async fn readyz(State(bot): State<Arc<Bot>>) -> impl IntoResponse {
    if bot.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for Slack auth.test to succeed",
        )
    }
}

async fn metrics(State(bot): State<Arc<Bot>>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        bot.metrics().render(),
    )
}
