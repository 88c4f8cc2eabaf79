//! The HTTP router (health, readiness, metrics, the Slack and Teams routes) and the run loop:
//! start the background work (readiness checks, discovery, Socket Mode, schedules), serve until
//! shutdown, then drain answers in progress.

use super::App;
use super::AppError;
use super::ready::{readyz, wait_for_slack, wait_for_teams};
use crate::chat::slack::http::{self, SlackState};
use crate::chat::slack::settings::SlackMode;
use crate::chat::slack::socket::SocketMode;
use crate::chat::slack::verify::Verifier;
use crate::chat::teams::http::{self as teams_http, TeamsState};
use crate::core::dispatch::Core;
use crate::inventory::Scheduler;
use crate::inventory::schedule::Clock;
use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

impl App {
    /// The HTTP router: health, readiness, metrics, the Teams route when Teams is served,
    /// and the Slack routes when Slack is served over HTTP.
    pub fn router(&self) -> Router {
        let mut ops = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .with_state(self.ready.clone())
            .merge(
                Router::new()
                    .route("/metrics", get(metrics))
                    .with_state(self.core.clone()),
            );
        if let Some(t) = &self.teams {
            let state = TeamsState {
                door: t.door.clone(),
                validator: t.validator.clone(),
            };
            ops = ops.merge(teams_http::routes(
                state,
                self.config.server.body_limit_bytes,
            ));
        }
        if !self.config.slack_enabled || self.config.slack.mode == SlackMode::Socket {
            return ops;
        }
        let state = SlackState {
            door: self.slack.clone(),
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
        let ready = self
            .config
            .slack_enabled
            .then(|| tokio::spawn(wait_for_slack(self.slack.clone(), self.slack_sink.clone())));
        let teams_ready = self.teams.clone().map(|t| tokio::spawn(wait_for_teams(t)));
        let discovery = self.config.accounts.settings.discover.then(|| {
            let book = self.core.access().book().clone();
            let settings = self.config.accounts.settings.clone();
            tokio::spawn(async move {
                let client = crate::accounts::discover::client(&settings).await;
                book.refresh_forever(client, settings).await;
            })
        });
        let socket = match (&self.ready.socket, &self.config.slack.app_token) {
            (Some(health), Some(token)) => Some(SocketMode::start(
                self.slack.clone(),
                &self.config.slack.api_url,
                token,
                self.config.slack.socket_connections,
                health.clone(),
            )?),
            _ => None,
        };
        let stop_schedules = CancellationToken::new();
        if !self.inventory.schedules().is_empty() {
            Arc::new(Scheduler::new(
                self.inventory.clone(),
                self.core.clone(),
                Clock::system(),
                format!("opsbot-{}-{:08x}", std::process::id(), fastrand::u32(..)),
            ))
            .start(stop_schedules.clone());
        }
        tracing::info!(
            addr = %listener.local_addr().map_err(AppError::Serve)?,
            mode = ?self.config.slack.mode,
            "opsbot listening"
        );
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(AppError::Serve)?;
        for task in [ready, teams_ready].into_iter().flatten() {
            task.abort();
        }
        stop_schedules.cancel();
        if let Some(d) = discovery {
            d.abort();
        }
        if let Some(s) = &socket {
            s.shutdown().await;
        }
        let workers = self.core.workers();
        tracing::info!(
            in_flight = workers.in_flight(),
            "shutting down: finishing answers in progress"
        );
        if workers.drain(self.config.server.drain).await {
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

async fn metrics(State(core): State<Arc<Core>>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        core.metrics().render(),
    )
}
