//! HTTP front door: `POST /slack/events`, `/slack/commands`, `/slack/interactions`.
//!
//! Each route reads the raw body (413 over the limit), verifies the signature on those bytes
//! (401, no detail; one warning line a minute with a count), then parses (400) and hands off
//! to the [`SlackDoor`], which only decides and enqueues: the 200 goes back before any outside
//! call. A slash command carries its signed-delivery key ([`verify::replay_key`]), so a replay
//! of the same signed body within the window is acknowledged but answered only once.

use super::verify::{self, Verifier};
use super::{EventAck, SlackDoor, commands, events};
use crate::metrics::{Metrics, Route};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// State shared by the Slack routes.
#[derive(Clone)]
pub struct SlackState {
    /// The Slack adapter.
    pub door: Arc<SlackDoor>,
    /// Signature verifier for the signing secret.
    pub verifier: Arc<Verifier>,
}

impl SlackState {
    fn metrics(&self) -> &Arc<Metrics> {
        self.door.core().metrics()
    }
}

/// The Slack routes with a body limit of `body_limit` bytes.
pub fn routes(state: SlackState, body_limit: usize) -> Router {
    Router::new()
        .route("/slack/events", post(on_events))
        .route("/slack/commands", post(on_commands))
        .route("/slack/interactions", post(on_interactions))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// A request body whose Slack signature has been verified.
pub struct Signed {
    /// The raw bytes, exactly as signed.
    pub body: Bytes,
    /// Request headers.
    pub headers: HeaderMap,
    started: Instant,
}

/// Why a request was turned away before parsing.
pub enum Rejected {
    /// Over the body limit: 413.
    TooLarge,
    /// The body could not be read: 400.
    Unreadable,
    /// Signature check failed: 401.
    Unauthorized,
}

impl<S: Send + Sync> FromRequest<S> for Signed
where
    SlackState: axum::extract::FromRef<S>,
{
    type Rejection = (StatusCode, &'static str);

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let started = Instant::now();
        let st = <SlackState as axum::extract::FromRef<S>>::from_ref(state);
        let route = route_of(req.uri().path());
        let headers = req.headers().clone();
        let body = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                st.metrics().request(route, "too_large");
                return Err((StatusCode::PAYLOAD_TOO_LARGE, "payload too large"));
            }
            Err(_) => {
                st.metrics().request(route, "malformed");
                return Err((StatusCode::BAD_REQUEST, "unreadable body"));
            }
        };
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        if let Err(e) = st.verifier.verify(
            header(verify::SIGNATURE_HEADER),
            header(verify::TIMESTAMP_HEADER),
            &body,
            verify::unix_now(),
        ) {
            tracing::debug!(route, reason = e.label(), "rejected request");
            st.verifier.note_rejection(route, e);
            st.metrics().request(route, "unauthorized");
            return Err((StatusCode::UNAUTHORIZED, ""));
        }
        Ok(Signed {
            body,
            headers,
            started,
        })
    }
}

fn route_of(path: &str) -> &'static str {
    match path {
        "/slack/events" => "events",
        "/slack/commands" => "commands",
        _ => "interactions",
    }
}

fn finish(
    st: &SlackState,
    route: &'static str,
    outcome: &'static str,
    started: Instant,
    resp: Response,
) -> Response {
    st.metrics().request(route, outcome);
    st.metrics()
        .ack_seconds
        .get_or_create(&Route { route })
        .observe(started.elapsed().as_secs_f64());
    resp
}

async fn on_events(State(st): State<SlackState>, signed: Signed) -> Response {
    let envelope = match events::parse(&signed.body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "malformed event payload");
            let resp = (StatusCode::BAD_REQUEST, "malformed payload").into_response();
            return finish(&st, "events", "malformed", signed.started, resp);
        }
    };
    let retry = signed
        .headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let ack = st.door.on_event(envelope, retry);
    let outcome = ack.outcome();
    let resp = match ack {
        EventAck::Challenge(c) => Json(json!({ "challenge": c })).into_response(),
        EventAck::Ok(_) => StatusCode::OK.into_response(),
    };
    finish(&st, "events", outcome, signed.started, resp)
}

async fn on_commands(State(st): State<SlackState>, signed: Signed) -> Response {
    let cmd = match commands::parse_form(&signed.body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "malformed command payload");
            let resp = (StatusCode::BAD_REQUEST, "malformed payload").into_response();
            return finish(&st, "commands", "malformed", signed.started, resp);
        }
    };
    // The same signed body can be replayed within the signature window: name this delivery
    // by its timestamp and signature so the core answers it once.
    let header = |name| {
        signed
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let replay = verify::replay_key(
        header(verify::TIMESTAMP_HEADER),
        header(verify::SIGNATURE_HEADER),
    );
    let text = st.door.on_command(&cmd, Some(replay));
    let resp = Json(json!({ "response_type": "ephemeral", "text": text })).into_response();
    finish(&st, "commands", "ok", signed.started, resp)
}

#[derive(serde::Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn on_interactions(State(st): State<SlackState>, signed: Signed) -> Response {
    let kind = serde_urlencoded::from_bytes::<InteractionForm>(&signed.body)
        .ok()
        .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.payload).ok())
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
    let Some(kind) = kind else {
        let resp = (StatusCode::BAD_REQUEST, "malformed payload").into_response();
        return finish(&st, "interactions", "malformed", signed.started, resp);
    };
    // No interactive components are sent yet; acknowledge so Slack shows no error.
    tracing::debug!(kind, "interaction acknowledged");
    finish(
        &st,
        "interactions",
        "ok",
        signed.started,
        StatusCode::OK.into_response(),
    )
}
