//! Readiness (`/readyz`) and the start-up loops that make the bot ready: Slack `auth.test`,
//! and the Bot Framework signing keys and client credentials for Teams.

use crate::chat::slack::SlackDoor;
use crate::chat::slack::client::{AUTH_BACKOFF_MAX, SlackSink};
use crate::chat::slack::socket::SocketHealth;
use crate::chat::teams::TeamsDoor;
use crate::chat::teams::connector::Connector as TeamsConnector;
use crate::chat::teams::jwt::Validator;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Arc;
use std::time::Duration;

/// The Teams side of the app.
#[derive(Clone)]
pub struct Teams {
    /// The adapter.
    pub door: Arc<TeamsDoor>,
    /// Inbound token validation.
    pub validator: Arc<Validator>,
    /// The connector (outbound token, replies, member lookups).
    pub connector: Arc<TeamsConnector>,
}

/// What `/readyz` checks: the bot can receive on every platform it serves. Slack over HTTP:
/// `auth.test` passed (the signing secret was checked at start); Socket Mode: also at least one
/// connection said `hello`. Teams: the Bot Framework signing keys are loaded.
pub struct Readiness {
    pub(super) door: Option<Arc<SlackDoor>>,
    pub(super) socket: Option<Arc<SocketHealth>>,
    pub(super) teams: Option<Arc<Validator>>,
}

impl Readiness {
    /// `Ok` when ready, else why not.
    pub fn check(&self) -> Result<(), String> {
        if let Some(v) = &self.teams
            && !v.has_keys()
        {
            return Err(
                "waiting for the Bot Framework signing keys (check teams.openid_metadata_url and the network)"
                    .into(),
            );
        }
        let Some(door) = &self.door else {
            return Ok(());
        };
        if !door.knows_itself() {
            return Err("waiting for Slack auth.test to succeed (check SLACK_BOT_TOKEN)".into());
        }
        if let Some(h) = &self.socket
            && h.live() == 0
        {
            return Err(match h.last_loss() {
                Some(why) => format!("no Socket Mode connection is open (last one: {why})"),
                None => "no Socket Mode connection has said hello yet".into(),
            });
        }
        Ok(())
    }
}

/// Calls `auth.test` until it succeeds (backing off to 30 s), then marks Slack ready.
pub(super) async fn wait_for_slack(door: Arc<SlackDoor>, sink: Arc<SlackSink>) {
    let mut wait = Duration::from_millis(250);
    loop {
        match sink.identity().await {
            Ok(id) => {
                tracing::info!(
                    bot_user = id.user_id,
                    team = id.team_id,
                    "Slack token works; ready"
                );
                door.set_identity(id);
                return;
            }
            Err(e) => {
                door.core().metrics().error(e.kind());
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "auth.test failed; not ready (check SLACK_BOT_TOKEN)");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(AUTH_BACKOFF_MAX);
    }
}

/// Loads the Bot Framework signing keys until it works (backing off to 30 s), and checks once
/// that the bot's credentials get an outbound token, saying what to fix if not.
pub(super) async fn wait_for_teams(t: Teams) {
    match t.connector.tokens().get().await {
        Ok(_) => tracing::info!("Teams client credentials work"),
        Err(e) => {
            t.door.core().metrics().error("teams_token");
            tracing::error!(error = %e, "cannot get a Teams token; replies will fail until this is fixed");
        }
    }
    let mut wait = Duration::from_millis(250);
    loop {
        match t.validator.warm().await {
            Ok(n) => {
                tracing::info!(keys = n, "Bot Framework signing keys loaded; Teams ready");
                return;
            }
            Err(e) => {
                t.door.core().metrics().error("teams_keys");
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot load the Bot Framework signing keys; not ready");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(AUTH_BACKOFF_MAX);
    }
}

pub(super) async fn readyz(State(ready): State<Arc<Readiness>>) -> impl IntoResponse {
    match ready.check() {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}
