//! Socket Mode: the same [`SlackDoor`] handlers over WebSockets Slack hands out, so a team can
//! run opsbot with no public URL.
//!
//! Each of `slack.socket_connections` supervisors asks `apps.connections.open` (app-level
//! token) for a URL, connects, waits for `hello`, then acknowledges every envelope by
//! `envelope_id` right after handing it to the core (which never waits). Slack announces the end
//! of a connection with a `disconnect` frame shortly before closing it: the supervisor opens the
//! next connection at once while the old one keeps being read — and its envelopes acked — until
//! it closes, so nothing written behind the `disconnect` is lost. A lost connection is reopened
//! with jittered backoff. [`SocketHealth`] counts connections that said `hello`; readiness
//! depends on it.

use super::SlackDoor;
use super::commands::SlashCommand;
use super::events;
use crate::metrics::Metrics;
use crate::secret::Secret;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connection with no frame (Slack pings regularly) for this long is considered dead.
const SILENCE: Duration = Duration::from_secs(120);
/// How long a connection that announced `disconnect` is still read before it is dropped.
const DRAIN: Duration = Duration::from_secs(30);
/// Longest wait between attempts to reconnect.
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How many Socket Mode connections are open and greeted (`hello`), and why the last one ended.
#[derive(Default)]
pub struct SocketHealth {
    live: AtomicUsize,
    last_loss: Mutex<Option<String>>,
}

impl SocketHealth {
    /// Connections that said `hello` and are still open.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Why the last connection ended, if one did.
    pub fn last_loss(&self) -> Option<String> {
        self.last_loss
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Holds one greeted connection in the count; leaving it removes it.
struct Live {
    health: Arc<SocketHealth>,
    metrics: Arc<Metrics>,
}

impl Live {
    fn new(health: Arc<SocketHealth>, metrics: Arc<Metrics>) -> Self {
        let now = health.live.fetch_add(1, Ordering::SeqCst) + 1;
        metrics.socket_connections.set(now as i64);
        if now == 1 {
            tracing::info!("Socket Mode connected; ready to receive");
        }
        Self { health, metrics }
    }

    fn lost(self, why: &str) {
        *self
            .health
            .last_loss
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
        drop(self);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let now = self.health.live.fetch_sub(1, Ordering::SeqCst) - 1;
        self.metrics.socket_connections.set(now as i64);
        if now == 0 {
            tracing::warn!(
                reason = self.health.last_loss().as_deref().unwrap_or("-"),
                "no Socket Mode connection is open; not ready until one is back"
            );
        }
    }
}

/// Why Socket Mode could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "Socket Mode could not connect: {0}; check SLACK_APP_TOKEN (xapp-..., scope connections:write) and that Socket Mode is enabled in the app settings"
)]
pub struct SocketError(String);

/// Everything a connection needs.
struct Ctx {
    door: Arc<SlackDoor>,
    http: reqwest::Client,
    open_url: String,
    app_token: Secret,
    health: Arc<SocketHealth>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// A running Socket Mode client.
pub struct SocketMode {
    stop: CancellationToken,
    tasks: TaskTracker,
}

#[derive(Deserialize)]
struct OpenResponse {
    ok: bool,
    url: Option<String>,
    error: Option<String>,
}

/// How a connection ended.
enum Ended {
    /// Slack announced the end (`disconnect`); the socket is still readable (and still
    /// counted as live while it drains).
    Disconnect(Box<Ws>, String, Option<Live>),
    /// Closed, failed or silent.
    Lost(String),
    /// Shutdown.
    Stopped,
}

impl SocketMode {
    /// Starts `connections` supervisors against the Web API at `api_url`; returns at once
    /// (readiness follows [`SocketHealth`]). Fails only if the HTTP client can't be built.
    pub fn start(
        door: Arc<SlackDoor>,
        api_url: &str,
        app_token: &Secret,
        connections: u32,
        health: Arc<SocketHealth>,
    ) -> Result<Self, SocketError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| SocketError(e.to_string()))?;
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let ctx = Arc::new(Ctx {
            door,
            http,
            open_url: format!("{}/apps.connections.open", api_url.trim_end_matches('/')),
            app_token: app_token.clone(),
            health,
            stop: stop.clone(),
            tasks: tasks.clone(),
        });
        for n in 0..connections {
            let ctx = ctx.clone();
            tasks.spawn(supervise(ctx, n));
        }
        Ok(Self { stop, tasks })
    }

    /// Closes the WebSockets and waits for the supervisors to end.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }
}

/// Keeps one connection open for as long as the bot runs.
async fn supervise(ctx: Arc<Ctx>, n: u32) {
    let metrics = ctx.door.core().metrics().clone();
    let mut failures = 0u32;
    loop {
        if ctx.stop.is_cancelled() {
            return;
        }
        let ws = match connect(&ctx).await {
            Ok(ws) => ws,
            Err(e) => {
                failures += 1;
                metrics.socket_reconnect("connect_failed");
                let wait = crate::retry::wait_for(
                    crate::retry::RetryPolicy {
                        max_retries: u32::MAX,
                        base: Duration::from_secs(1),
                        max_wait: BACKOFF_MAX,
                    },
                    failures.min(10),
                    None,
                );
                tracing::warn!(connection = n, error = %e, retry_in_ms = wait.as_millis() as u64, "Socket Mode connection failed");
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    () = ctx.stop.cancelled() => return,
                }
            }
        };
        match serve(&ctx, ws, n, None, false).await {
            Ended::Stopped => return,
            Ended::Disconnect(old, reason, live) => {
                failures = 0;
                metrics.socket_reconnect("disconnect");
                tracing::info!(
                    connection = n,
                    reason,
                    "Slack is refreshing a Socket Mode connection; opening the next while the old one drains"
                );
                let ctx2 = ctx.clone();
                ctx.tasks.spawn(async move {
                    let _ = tokio::time::timeout(DRAIN, serve(&ctx2, *old, n, live, true)).await;
                });
            }
            Ended::Lost(why) => {
                failures += 1;
                metrics.socket_reconnect("lost");
                tracing::warn!(
                    connection = n,
                    why,
                    "Socket Mode connection lost; reconnecting"
                );
                let wait = Duration::from_millis(fastrand::u64(100..=1000));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = ctx.stop.cancelled() => return,
                }
            }
        }
    }
}

/// `apps.connections.open`, then the WebSocket handshake.
async fn connect(ctx: &Ctx) -> Result<Ws, String> {
    let res = ctx
        .http
        .post(&ctx.open_url)
        .bearer_auth(ctx.app_token.expose())
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .map_err(|e| format!("apps.connections.open: {e}"))?;
    let status = res.status();
    let body: OpenResponse = res
        .json()
        .await
        .map_err(|e| format!("apps.connections.open answered HTTP {status}: {e}"))?;
    let url = match (body.ok, body.url) {
        (true, Some(url)) => url,
        _ => {
            return Err(format!(
                "apps.connections.open said {:?}; check SLACK_APP_TOKEN (xapp-..., connections:write)",
                body.error.unwrap_or_default()
            ));
        }
    };
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| format!("WebSocket: {e}"))?;
    Ok(ws)
}

/// Reads frames until the connection ends. A current connection returns at `disconnect`; a
/// `draining` one keeps being read until the socket closes. `live` is its place in the count.
async fn serve(ctx: &Ctx, mut ws: Ws, n: u32, mut live: Option<Live>, draining: bool) -> Ended {
    let metrics = ctx.door.core().metrics().clone();
    let ended = loop {
        let frame = tokio::select! {
            () = ctx.stop.cancelled() => {
                let _ = ws.close(None).await;
                break Ended::Stopped;
            }
            f = tokio::time::timeout(SILENCE, ws.next()) => f,
        };
        let text = match frame {
            Err(_) => break Ended::Lost("no frame for 120 s".into()),
            Ok(None) => break Ended::Lost("closed by Slack".into()),
            Ok(Some(Err(e))) => break Ended::Lost(format!("WebSocket error: {e}")),
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(Message::Close(_)))) => break Ended::Lost("closed by Slack".into()),
            Ok(Some(Ok(_))) => continue, // pings are answered by the library
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            metrics.request("socket_events", "malformed");
            continue;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("hello") => {
                if live.is_none() {
                    live = Some(Live::new(ctx.health.clone(), metrics.clone()));
                }
            }
            Some("disconnect") if !draining => {
                let reason = v["reason"].as_str().unwrap_or("unknown").to_string();
                return Ended::Disconnect(Box::new(ws), reason, live.take());
            }
            Some("disconnect") => {}
            Some(_) => {
                if let Some(ack) = envelope(ctx, &v)
                    && let Err(e) = ws.send(Message::Text(ack.to_string().into())).await
                {
                    break Ended::Lost(format!("ack not sent: {e}"));
                }
            }
            None => metrics.request("socket_events", "malformed"),
        }
    };
    if let (Some(l), Ended::Lost(why)) = (live.take(), &ended) {
        tracing::debug!(connection = n, why, "Socket Mode connection ended");
        l.lost(why);
    }
    ended
}

/// Hands one envelope to the door; returns the acknowledgement to send.
fn envelope(ctx: &Ctx, v: &Value) -> Option<Value> {
    let metrics = ctx.door.core().metrics();
    let id = v.get("envelope_id").and_then(Value::as_str)?;
    let payload = v.get("payload").cloned().unwrap_or(Value::Null);
    match v["type"].as_str() {
        Some("events_api") => {
            let retry = v["retry_attempt"].as_u64().filter(|n| *n > 0);
            match serde_json::to_vec(&payload)
                .ok()
                .and_then(|b| events::parse(&b).ok())
            {
                Some(env) => {
                    let ack = ctx.door.on_event(env, retry.map(|n| n as u32));
                    metrics.request("socket_events", ack.outcome());
                }
                None => metrics.request("socket_events", "malformed"),
            }
            Some(json!({ "envelope_id": id }))
        }
        Some("slash_commands") => match serde_json::from_value::<SlashCommand>(payload) {
            Ok(cmd) => {
                let text = ctx
                    .door
                    .on_command(&cmd, Some(format!("slack:envelope:{id}")));
                metrics.request("socket_commands", "ok");
                Some(json!({
                    "envelope_id": id,
                    "payload": {"response_type": "ephemeral", "text": text}
                }))
            }
            Err(e) => {
                tracing::warn!(error = %e, "malformed slash command envelope");
                metrics.request("socket_commands", "malformed");
                Some(json!({ "envelope_id": id }))
            }
        },
        Some(kind) => {
            // Interactivity (no interactive elements yet) and anything newer: acknowledge.
            tracing::debug!(kind, "Socket Mode envelope acknowledged");
            metrics.request("socket_interactions", "ok");
            Some(json!({ "envelope_id": id }))
        }
        None => None,
    }
}
