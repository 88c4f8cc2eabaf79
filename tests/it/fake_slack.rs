//! A fake of the Slack Web API that speaks the documented wire format and records every call.
//!
//! Serves `/api/{method}` (JSON or form bodies, `Authorization: Bearer` checked like Slack:
//! a wrong token gets `{"ok":false,"error":"invalid_auth"}`), upload URLs from
//! `files.getUploadURLExternal`, slash command `response_url`s, and a Socket Mode WebSocket
//! handed out by `apps.connections.open`. `conversations.info` knows the bot's own IMs
//! ([`U1_DM`] and those added with [`FakeSlack::add_im`]). Tests script failures (429 with `Retry-After`) and
//! delays per method, and read back what was called. Shared by tests and benches.
#![allow(
    dead_code,
    reason = "shared by tests and benches; each uses a different subset"
)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[path = "fake_slack_socket.rs"]
mod socket;
use socket::{SocketCmd, Sockets, socket};

/// The token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The bot user id `auth.test` reports.
pub const BOT_USER: &str = "UBOT";
/// The team id `auth.test` reports.
pub const TEAM: &str = "T0TEST";
/// The bot's IM with U1 (registered in every fake; others with [`FakeSlack::add_im`]).
pub const U1_DM: &str = "D0DM";

/// One recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Web API method (`chat.postMessage`), `upload`, `response_url` or `socket_ack`.
    pub method: String,
    /// Parsed body (JSON, form, or query as a JSON object).
    pub body: Value,
    /// Raw body bytes.
    pub raw: Vec<u8>,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// method -> queued (status, retry_after) failures to answer before succeeding.
    failures: HashMap<String, VecDeque<(u16, u64, &'static str)>>,
    delays: HashMap<String, Duration>,
    ts: u64,
    /// Seconds part of the ts of posted messages (default 1700000000).
    ts_base: u64,
    /// Posted messages with their channel, for `conversations.history`.
    posted: Vec<Value>,
    envelopes: VecDeque<Value>,
    /// Slack user groups: (handle, members).
    usergroups: Vec<(String, Vec<String>)>,
    /// `users.info` fields replacing the derived ones, per user id.
    users: HashMap<String, Value>,
    /// The bot's own IMs: channel id -> the person on the other side.
    ims: HashMap<String, String>,
}

/// Handle to a running fake.
#[derive(Clone)]
pub struct FakeSlack {
    /// Address it listens on.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    sockets: Arc<Mutex<Sockets>>,
    released: Arc<Notify>,
}

impl FakeSlack {
    /// Starts the fake on 127.0.0.1 with a random port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakeSlack {
            addr,
            inner: Arc::default(),
            changed: Arc::default(),
            sockets: Arc::default(),
            released: Arc::default(),
        };
        fake.add_im(U1_DM, "U1");
        let app = Router::new()
            .route("/api/{method}", any(api))
            .route("/upload/{id}", post(upload))
            .route("/response/{id}", post(response_url))
            .route("/socket", get(socket))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Base URL to configure as `slack.api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A `response_url` on this fake.
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/response/{id}", self.addr)
    }

    /// Answers the next `n` calls of `method` with HTTP 429 and `Retry-After: retry_after`.
    pub fn rate_limit(&self, method: &str, n: usize, retry_after: u64) {
        let mut i = self.inner.lock().unwrap();
        let q = i.failures.entry(method.into()).or_default();
        for _ in 0..n {
            q.push_back((429, retry_after, "ratelimited"));
        }
    }

    /// Answers the next `n` calls of `method` with `{"ok":false,"error":code}`.
    pub fn fail(&self, method: &str, n: usize, code: &'static str) {
        let mut i = self.inner.lock().unwrap();
        let q = i.failures.entry(method.into()).or_default();
        for _ in 0..n {
            q.push_back((200, 0, code));
        }
    }

    /// Posts from now on get ts `<secs>.<counter>` (Slack's ts is the post's time).
    pub fn set_ts_base(&self, secs: u64) {
        self.inner.lock().unwrap().ts_base = secs;
    }

    /// Delays every answer to `method` by `d`.
    pub fn delay(&self, method: &str, d: Duration) {
        self.inner.lock().unwrap().delays.insert(method.into(), d);
    }

    /// Sets the user groups `usergroups.list` returns: (handle, member ids).
    pub fn set_usergroups(&self, groups: &[(&str, &[&str])]) {
        self.inner.lock().unwrap().usergroups = groups
            .iter()
            .map(|(h, m)| (h.to_string(), m.iter().map(|u| u.to_string()).collect()))
            .collect();
    }

    /// `users.info` for `id` answers with `fields` replacing the derived top-level ones.
    pub fn set_user(&self, id: &str, fields: Value) {
        self.inner.lock().unwrap().users.insert(id.into(), fields);
    }

    /// Makes `channel` the bot's IM with `user`: `conversations.info` describes it as such.
    /// Any other conversation is one the bot is not part of (`channel_not_found`), as a DM
    /// between two people is.
    pub fn add_im(&self, channel: &str, user: &str) {
        self.inner
            .lock()
            .unwrap()
            .ims
            .insert(channel.into(), user.into());
    }

    /// Sends a Socket Mode envelope on the newest open connection, or queues it for the next
    /// connection (after its `hello`).
    pub fn send_envelope(&self, envelope: Value) {
        let sockets = self.sockets.lock().unwrap();
        if let Some((_, tx)) = sockets.open.last()
            && tx.send(SocketCmd::Send(envelope.clone())).is_ok()
        {
            return;
        }
        drop(sockets);
        self.inner.lock().unwrap().envelopes.push_back(envelope);
    }

    /// On the newest connection: a `disconnect` frame (as Slack sends before refreshing a
    /// connection), then `envelope` on that same connection, then the socket closes 500 ms later.
    /// Returns the connection's id.
    pub fn disconnect_then(&self, envelope: Value) -> u64 {
        let sockets = self.sockets.lock().unwrap();
        let (id, tx) = sockets.open.last().expect("an open Socket Mode connection");
        let disconnect = json!({"type": "disconnect", "reason": "refresh_requested",
            "debug_info": {"host": "applink-fake"}});
        tx.send(SocketCmd::Send(disconnect)).unwrap();
        tx.send(SocketCmd::Send(envelope)).unwrap();
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tx.send(SocketCmd::Close);
        });
        *id
    }

    /// Closes every open Socket Mode connection.
    pub fn close_sockets(&self) {
        for (_, tx) in self.sockets.lock().unwrap().open.drain(..) {
            let _ = tx.send(SocketCmd::Close);
        }
    }

    /// Holds back `apps.connections.open` answers until [`FakeSlack::release_sockets`].
    pub fn hold_sockets(&self) {
        self.sockets.lock().unwrap().held = true;
    }

    /// Answers the held-back `apps.connections.open` calls.
    pub fn release_sockets(&self) {
        self.sockets.lock().unwrap().held = false;
        self.released.notify_waiters();
    }

    /// Ids of the open Socket Mode connections, oldest first.
    pub fn open_sockets(&self) -> Vec<u64> {
        self.sockets
            .lock()
            .unwrap()
            .open
            .iter()
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Successful calls of `method`.
    pub fn ok_calls(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.status == 200)
            .collect()
    }

    /// All calls (any status) of `method`.
    pub fn all_calls(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits until `method` has at least `n` successful calls (10 s liveness bound).
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            let calls = self.ok_calls(method);
            if calls.len() >= n {
                return calls;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {n} x {method}; calls: {:#?}",
                    self.calls()
                );
            }
        }
    }

    fn record(&self, method: &str, body: Value, raw: &[u8], status: u16) {
        let mut i = self.inner.lock().unwrap();
        i.calls.push(Call {
            method: method.into(),
            body,
            raw: raw.to_vec(),
            status,
        });
        drop(i);
        self.changed.notify_waiters();
    }
}

fn parse_body(headers: &HeaderMap, raw: &[u8], query: Option<&str>) -> Value {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/json") {
        return serde_json::from_slice(raw).unwrap_or(Value::Null);
    }
    let text = if raw.is_empty() {
        query.unwrap_or("").as_bytes()
    } else {
        raw
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(text).unwrap_or_default();
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

async fn api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = parse_body(&headers, &raw, query.as_deref());
    let (failure, delay) = {
        let mut i = fake.inner.lock().unwrap();
        let f = i.failures.get_mut(&method).and_then(|q| q.pop_front());
        (f, i.delays.get(&method).copied())
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if method == "apps.connections.open" {
        loop {
            let released = fake.released.notified();
            if !fake.sockets.lock().unwrap().held {
                break;
            }
            released.await;
        }
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected_token = if method == "apps.connections.open" {
        "xapp-test-token"
    } else {
        BOT_TOKEN
    };
    if auth != format!("Bearer {expected_token}") {
        fake.record(&method, body, &raw, 200);
        return json_response(
            StatusCode::OK,
            json!({"ok": false, "error": if auth.is_empty() { "not_authed" } else { "invalid_auth" }}),
        );
    }
    if let Some((status, retry_after, code)) = failure {
        fake.record(&method, body, &raw, status);
        if status == 429 {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", retry_after.to_string()),
                    ("content-type", "application/json; charset=utf-8".into()),
                ],
                json!({"ok": false, "error": code}).to_string(),
            )
                .into_response();
        }
        return json_response(StatusCode::OK, json!({"ok": false, "error": code}));
    }
    let reply = match method.as_str() {
        "auth.test" => {
            json!({"ok": true, "url": "https://opsbot-test.slack.com/", "team": "Opsbot Test",
            "user": "opsbot", "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT", "is_enterprise_install": false})
        }
        "chat.postMessage" => {
            let mut i = fake.inner.lock().unwrap();
            i.ts += 1;
            let ts = format!(
                "{}.{:06}",
                [i.ts_base, 1_700_000_000][(i.ts_base == 0) as usize],
                i.ts
            );
            let mut message = json!({"type": "message", "user": BOT_USER, "bot_id": "B0BOT", "ts": ts,
                "text": body.get("text").cloned().unwrap_or(Value::Null), "team": TEAM});
            if let Some(t) = body.get("thread_ts") {
                message["thread_ts"] = t.clone();
            }
            for k in ["blocks", "metadata"]
                .into_iter()
                .filter(|k| body.get(k).is_some())
            {
                message[k] = body[k].clone();
            }
            i.posted
                .push(json!({"channel": body["channel"], "message": message}));
            json!({"ok": true, "channel": body.get("channel").cloned().unwrap_or(Value::Null), "ts": ts, "message": message})
        }
        "conversations.history" => {
            // Newest first; top-level messages since `oldest`; metadata only when asked for.
            let oldest: f64 = body["oldest"]
                .as_str()
                .and_then(|o| o.parse().ok())
                .unwrap_or(0.0);
            let meta = body["include_all_metadata"] == "true";
            let i = fake.inner.lock().unwrap();
            let messages: Vec<Value> = i
                .posted
                .iter()
                .rev()
                .filter(|p| {
                    p["channel"] == body["channel"] && p["message"].get("thread_ts").is_none()
                })
                .map(|p| p["message"].clone())
                .filter(|m| {
                    m["ts"]
                        .as_str()
                        .and_then(|t| t.parse::<f64>().ok())
                        .unwrap_or(0.0)
                        >= oldest
                })
                .map(|mut m| {
                    if !meta {
                        m.as_object_mut().unwrap().remove("metadata");
                    }
                    m
                })
                .collect();
            json!({"ok": true, "messages": messages, "has_more": false, "pin_count": 0,
                "response_metadata": {"next_cursor": ""}})
        }
        "conversations.info" => {
            // Slack's IM object (docs: "im object"): `is_im`, and `user` is the other party.
            // A conversation the bot is not in is not found for its token.
            let channel = body["channel"].as_str().unwrap_or("").to_string();
            let im = fake.inner.lock().unwrap().ims.get(&channel).cloned();
            match im {
                Some(user) => json!({"ok": true, "channel": {"id": channel, "created": 1700000000,
                    "is_im": true, "is_org_shared": false, "user": user, "is_user_deleted": false,
                    "priority": 0}}),
                None => json!({"ok": false, "error": "channel_not_found"}),
            }
        }
        "reactions.add" | "reactions.remove" | "assistant.threads.setStatus" => json!({"ok": true}),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1700000000.999999"}),
        "users.lookupByEmail" => {
            // Every @example.com address is a user whose id is the local part, upper-cased.
            let email = body
                .get("email")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            match email.strip_suffix("@example.com") {
                Some(local) => {
                    let id = local.to_uppercase();
                    json!({"ok": true, "user": {"id": id, "team_id": TEAM, "name": format!("user-{local}"),
                        "deleted": false, "profile": {"email": email, "display_name": format!("user{local}")}}})
                }
                None => json!({"ok": false, "error": "users_not_found"}),
            }
        }
        "files.getUploadURLExternal" => json!({"ok": true,
            "upload_url": format!("http://{}/upload/F0FILE1", fake.addr), "file_id": "F0FILE1"}),
        "files.completeUploadExternal" => json!({"ok": true, "files": [{"id": "F0FILE1",
            "title": body["files"][0]["title"].clone()}]}),
        "users.info" => {
            // Every user exists (U1 -> u1@example.com); UDEAD… deactivated, UGUEST… guests.
            let id = body
                .get("user")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let mut user = json!({"id": id, "team_id": TEAM, "name": format!("user-{}", id.to_lowercase()),
                "deleted": id.starts_with("UDEAD"), "is_restricted": id.starts_with("UGUEST"),
                "is_ultra_restricted": false, "real_name": format!("User {id}"), "tz": "Europe/Berlin", "tz_offset": 3600,
                "is_admin": false, "is_owner": false, "is_bot": false, "is_app_user": false, "updated": 1700000000,
                "profile": {"real_name": format!("User {id}"), "display_name": format!("user{}", id.to_lowercase()),
                    "email": format!("{}@example.com", id.to_lowercase()), "team": TEAM}});
            if let Some(Value::Object(extra)) = fake.inner.lock().unwrap().users.get(&id) {
                user.as_object_mut().unwrap().extend(extra.clone());
            }
            json!({"ok": true, "user": user})
        }
        "usergroups.list" => {
            let groups = fake.inner.lock().unwrap().usergroups.clone();
            let include_users = body.get("include_users").and_then(|v| v.as_str()) == Some("true");
            let list: Vec<Value> = groups.iter().enumerate().map(|(i, (handle, users))| {
                let mut g = json!({"id": format!("S{i:08}"), "team_id": TEAM, "is_usergroup": true, "is_subteam": true,
                    "name": format!("{handle} team"), "description": "", "handle": handle, "is_external": false,
                    "date_create": 1700000000, "date_update": 1700000000, "date_delete": 0, "auto_type": null,
                    "created_by": "U0ADMIN", "updated_by": "U0ADMIN", "deleted_by": null,
                    "prefs": {"channels": [], "groups": []}, "user_count": users.len()});
                if include_users { g["users"] = json!(users); }
                g
            }).collect();
            json!({"ok": true, "usergroups": list})
        }
        "apps.connections.open" => json!({"ok": true, "url": format!("ws://{}/socket", fake.addr)}),
        _ => {
            fake.record(&method, body, &raw, 200);
            return json_response(
                StatusCode::OK,
                json!({"ok": false, "error": "unknown_method"}),
            );
        }
    };
    fake.record(&method, body, &raw, 200);
    json_response(StatusCode::OK, reply)
}

async fn upload(State(fake): State<FakeSlack>, Path(id): Path<String>, raw: Bytes) -> Response {
    fake.record(
        "upload",
        json!({"file_id": id, "len": raw.len()}),
        &raw,
        200,
    );
    (StatusCode::OK, format!("OK - {}", raw.len())).into_response()
}

async fn response_url(
    State(fake): State<FakeSlack>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let mut body = parse_body(&headers, &raw, None);
    body["_id"] = json!(id);
    fake.record("response_url", body, &raw, 200);
    json_response(StatusCode::OK, json!({"ok": true}))
}
