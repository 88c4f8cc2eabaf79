//! HTTP front door: `POST /api/messages`, where the Bot Framework delivers activities.
//!
//! Order matters (Microsoft Learn, "Authentication with the Bot Connector API"): the bearer
//! token is validated before the body is read (401 with an empty body on any failure), then
//! the body is read within the limit (413) and parsed (400), then the token's `serviceurl`
//! claim and key endorsement are checked against the activity (401 / 403), and only then is
//! the activity handed to the [`TeamsDoor`], which only decides and enqueues: the 200 goes
//! back before any outside call. There is no setting that turns validation off.

use super::jwt::Validator;
use super::{TeamsDoor, activity};
use crate::core::shed::LogEvery;
use crate::metrics::Route;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// Refused foreign activities are logged at most once a minute (with how many).
static FOREIGN_LOG: LazyLock<LogEvery> = LazyLock::new(|| LogEvery::new(Duration::from_secs(60)));

/// State of the Teams route.
#[derive(Clone)]
pub struct TeamsState {
    /// The Teams adapter.
    pub door: Arc<TeamsDoor>,
    /// Bearer token validation.
    pub validator: Arc<Validator>,
}

/// The Teams route with a body limit of `body_limit` bytes.
pub fn routes(state: TeamsState, body_limit: usize) -> Router {
    Router::new()
        .route("/api/messages", post(on_messages))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn on_messages(State(st): State<TeamsState>, req: Request) -> Response {
    let started = Instant::now();
    let metrics = st.door.core().metrics().clone();
    let finish = |outcome: &'static str, resp: Response| {
        metrics.request("teams", outcome);
        metrics
            .ack_seconds
            .get_or_create(&Route { route: "teams" })
            .observe(started.elapsed().as_secs_f64());
        resp
    };
    let auth = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let verified = match st.validator.validate(auth.as_deref(), unix_now()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(reason = e.kind(), "rejected Teams request: {e}");
            return finish("unauthorized", StatusCode::UNAUTHORIZED.into_response());
        }
    };
    let body = match Bytes::from_request(req, &()).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return finish(
                "too_large",
                (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response(),
            );
        }
        Err(_) => {
            return finish(
                "malformed",
                (StatusCode::BAD_REQUEST, "unreadable body").into_response(),
            );
        }
    };
    let a = match activity::parse(&body) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "malformed Teams activity");
            return finish(
                "malformed",
                (StatusCode::BAD_REQUEST, "malformed activity").into_response(),
            );
        }
    };
    if let Err(e) = verified.check_activity(&a.service_url, &a.channel_id) {
        tracing::warn!(reason = e.kind(), "rejected Teams activity: {e}");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let outcome = if status == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "unauthorized"
        };
        return finish(outcome, status.into_response());
    }
    if let Err(e) = activity::check_origin(&a, &st.door.settings().tenant_id) {
        metrics.error(e.kind());
        if let Some(n) = FOREIGN_LOG.tick() {
            tracing::warn!(reason = %e, refused = n, "refused Teams activity from outside our tenant or from another channel (not answered); the bot serves only msteams in teams.tenant_id");
        }
        return finish("foreign", StatusCode::OK.into_response());
    }
    let outcome = st.door.on_activity(&a);
    finish(outcome, StatusCode::OK.into_response())
}
