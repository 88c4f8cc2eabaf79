//! A fake of the Bot Framework side of Teams, speaking the documented wire format and
//! recording every call: the OpenID metadata and JWKS the bot validates inbound tokens with,
//! the Entra v2 token endpoint (client credentials, scope `https://api.botframework.com/.default`)
//! and the Bot Connector REST API (v3 conversations, activities, members) under a service URL
//! with a path (`<base>/amer/`). Connector calls need a bearer token this fake issued and has
//! not revoked. Tests publish/rotate keys, script failures (429 with `Retry-After`, 412, 502,
//! 403 `BotNotInConversationRoster`), revoke tokens and seed members. Activity and token
//! builders live in `teams_wire`.
#![allow(
    dead_code,
    reason = "shared by Teams tests; each uses a different subset"
)]

use crate::teams_wire;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub use crate::teams_wire::SCOPE;

/// One recorded connector call.
#[derive(Debug, Clone)]
pub struct ConnectorCall {
    /// HTTP method.
    pub method: String,
    /// `create`, `send`, `reply`, `update`, `delete` or `member`.
    pub op: &'static str,
    /// The percent-decoded conversation id (None for `create`).
    pub conversation: Option<String>,
    /// The activity id from the path (reply, update, delete) or the member id (`member`).
    pub activity: Option<String>,
    /// The raw request path, as sent (still percent-encoded).
    pub path: String,
    /// The JSON body (`Null` when none or not JSON).
    pub body: Value,
    /// The bearer token presented, if any.
    pub token: Option<String>,
    /// The status the fake answered with.
    pub status: u16,
}

/// One recorded token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The tenant from the path.
    pub tenant: String,
    /// The form fields.
    pub form: HashMap<String, String>,
    /// The status the fake answered with.
    pub status: u16,
}

struct Failure {
    status: u16,
    retry_after: Option<u64>,
    code: String,
}

#[derive(Default)]
struct Inner {
    /// kid -> (which fixture key signs for it, endorsements).
    published: Vec<(String, String, Vec<String>)>,
    openid_fetches: usize,
    jwks_fetches: usize,
    token_requests: Vec<TokenRequest>,
    valid_tokens: HashSet<String>,
    tokens_issued: usize,
    calls: Vec<ConnectorCall>,
    failures: VecDeque<Failure>,
    /// Member id or Entra object id -> member JSON.
    members: HashMap<String, Value>,
    next_activity: u64,
}

/// Handle to a running fake.
#[derive(Clone)]
pub struct FakeTeams {
    /// Address it listens on.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

impl FakeTeams {
    /// Starts the fake on 127.0.0.1 with a random port; key1 is published as kid "key1",
    /// endorsed for `msteams`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Inner {
            published: vec![("key1".into(), "key1".into(), vec!["msteams".into()])],
            next_activity: 1_800_000_000_000,
            ..Inner::default()
        };
        let fake = FakeTeams {
            addr,
            inner: Arc::new(Mutex::new(inner)),
            changed: Arc::default(),
        };
        let conv = "/amer/v3/conversations/{conversation}";
        let app = Router::new()
            .route("/v1/.well-known/openidconfiguration", get(openid))
            .route("/v1/.well-known/keys", get(jwks))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/amer/v3/conversations", post(create))
            .route(&format!("{conv}/activities"), post(send))
            .route(
                &format!("{conv}/activities/{{activity}}"),
                post(activity).put(activity).delete(activity),
            )
            .route(&format!("{conv}/members/{{member}}"), get(member))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Base URL (`http://127.0.0.1:port`): the login URL to configure (`teams.login_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OpenID metadata URL (`teams.openid_metadata_url`).
    pub fn openid_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.url())
    }

    /// The connector's service URL, with a path like Teams' (`<base>/amer/`).
    pub fn service_url(&self) -> String {
        format!("{}/amer/", self.url())
    }

    /// Publishes `kid` (signed for by fixture key `which`: "key1" or "key2"), endorsed for
    /// `msteams`; replaces an existing `kid`.
    pub fn publish(&self, kid: &str, which: &str) {
        let mut i = self.inner.lock().unwrap();
        i.published.retain(|(k, _, _)| k != kid);
        i.published
            .push((kid.into(), which.into(), vec!["msteams".into()]));
    }

    /// Publishes key2 as kid "key2" (a key rotation).
    pub fn publish_key2(&self) {
        self.publish("key2", "key2");
    }

    /// Stops publishing `kid`.
    pub fn unpublish(&self, kid: &str) {
        self.inner
            .lock()
            .unwrap()
            .published
            .retain(|(k, _, _)| k != kid);
    }

    /// Sets the endorsements of published `kid`.
    pub fn set_endorsements(&self, kid: &str, endorsements: &[&str]) {
        let mut i = self.inner.lock().unwrap();
        for (k, _, e) in i.published.iter_mut() {
            if k == kid {
                *e = endorsements.iter().map(|s| s.to_string()).collect();
            }
        }
    }

    /// How often the OpenID metadata was fetched.
    pub fn openid_fetches(&self) -> usize {
        self.inner.lock().unwrap().openid_fetches
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.lock().unwrap().jwks_fetches
    }

    /// Every token request so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.inner.lock().unwrap().token_requests.clone()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().unwrap().tokens_issued
    }

    /// Revokes every token issued so far: the next connector call gets 401 until the bot
    /// fetches a new token.
    pub fn revoke_tokens(&self) {
        self.inner.lock().unwrap().valid_tokens.clear();
    }

    /// Answers the next `n` authorized connector calls with `status`,
    /// `{"error":{"code":code,…}}` and, if given, `Retry-After: retry_after`.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<u64>, code: &str) {
        let mut i = self.inner.lock().unwrap();
        for _ in 0..n {
            i.failures.push_back(Failure {
                status,
                retry_after,
                code: code.into(),
            });
        }
    }

    /// Makes `member` (JSON with `id` and `aadObjectId`, see `teams_wire::member`) known to
    /// every conversation, by either id.
    pub fn seed_member(&self, member: Value) {
        let mut i = self.inner.lock().unwrap();
        for key in ["id", "aadObjectId"] {
            if let Some(k) = member.get(key).and_then(Value::as_str) {
                i.members.insert(k.to_string(), member.clone());
            }
        }
    }

    /// Every connector call so far (any status).
    pub fn calls(&self) -> Vec<ConnectorCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Successful (2xx) connector calls of `op`.
    pub fn ok_calls(&self, op: &str) -> Vec<ConnectorCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.op == op && c.status < 300)
            .collect()
    }

    /// Waits until there are at least `n` successful calls of `op` (10 s liveness bound).
    pub async fn wait_for(&self, op: &str, n: usize) -> Vec<ConnectorCall> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            let calls = self.ok_calls(op);
            if calls.len() >= n {
                return calls;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {n} x {op}; calls: {:#?}",
                    self.calls()
                );
            }
        }
    }

    fn next_activity_id(&self) -> String {
        let mut i = self.inner.lock().unwrap();
        i.next_activity += 1;
        i.next_activity.to_string()
    }
}

fn json_response(status: u16, v: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(v)).into_response()
}

fn connector_error(status: u16, code: &str, message: &str) -> Response {
    json_response(status, json!({"error": {"code": code, "message": message}}))
}

async fn openid(State(f): State<FakeTeams>) -> Response {
    f.inner.lock().unwrap().openid_fetches += 1;
    json_response(
        200,
        json!({"issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/v1/.well-known/keys", f.url()),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]}),
    )
}

async fn jwks(State(f): State<FakeTeams>) -> Response {
    let published = {
        let mut i = f.inner.lock().unwrap();
        i.jwks_fetches += 1;
        i.published.clone()
    };
    let keys: Vec<Value> = published
        .iter()
        .map(|(kid, which, e)| teams_wire::jwk(kid, which, e))
        .collect();
    json_response(200, json!({ "keys": keys }))
}

async fn token(State(f): State<FakeTeams>, Path(tenant): Path<String>, body: String) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let reply = match teams_wire::entra_refusal(&tenant, &form) {
        Some((status, error)) => Err(json_response(status, error)),
        None => Ok(()),
    };
    let mut i = f.inner.lock().unwrap();
    let status = match &reply {
        Ok(()) => 200,
        Err(r) => r.status().as_u16(),
    };
    i.token_requests.push(TokenRequest {
        tenant,
        form,
        status,
    });
    if let Err(r) = reply {
        return r;
    }
    i.tokens_issued += 1;
    let access = format!("fake-bf-{}-{:016x}", i.tokens_issued, fastrand::u64(..));
    i.valid_tokens.insert(access.clone());
    json_response(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": access}),
    )
}

/// What one connector route saw.
struct Seen {
    method: Method,
    op: &'static str,
    conversation: Option<String>,
    activity: Option<String>,
    path: String,
    body: Value,
    token: Option<String>,
}

impl FakeTeams {
    /// Checks the token and scripted failures; records the call. `Some` is the refusal to send.
    fn admit(&self, seen: Seen, ok_status: u16) -> Option<Response> {
        let mut i = self.inner.lock().unwrap();
        let authorized = seen
            .token
            .as_ref()
            .is_some_and(|t| i.valid_tokens.contains(t));
        let refusal = if !authorized {
            let why = "Authorization has been denied for this request.";
            Some(connector_error(401, "Unauthorized", why))
        } else if let Some(fail) = i.failures.pop_front() {
            let why = format!("scripted failure {}", fail.code);
            let mut r = connector_error(fail.status, &fail.code, &why);
            if let Some(s) = fail.retry_after {
                r.headers_mut().insert("retry-after", s.into());
            }
            Some(r)
        } else {
            None
        };
        let status = refusal.as_ref().map_or(ok_status, |r| r.status().as_u16());
        let Seen {
            method,
            op,
            conversation,
            activity,
            path,
            body,
            token,
        } = seen;
        let method = method.to_string();
        i.calls.push(ConnectorCall {
            method,
            op,
            conversation,
            activity,
            path,
            body,
            token,
            status,
        });
        drop(i);
        self.changed.notify_waiters();
        refusal
    }
}

fn seen(method: Method, op: &'static str, headers: &HeaderMap, uri: &Uri, body: &str) -> Seen {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    Seen {
        method,
        op,
        conversation: None,
        activity: None,
        path: uri.path().to_string(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        token,
    }
}

async fn create(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> Response {
    let s = seen(Method::POST, "create", &headers, &uri, &body);
    let b = s.body.clone();
    let channel = b["channelData"]["channel"]["id"].as_str();
    let bad = if channel.is_some() {
        None
    } else if b["members"][0]["id"].as_str().is_none() {
        Some("Members or channel is required")
    } else if b["channelData"]["tenant"]["id"].as_str().is_none() {
        Some("Tenant id is required")
    } else {
        None
    };
    if let Some(r) = f.admit(s, if bad.is_some() { 400 } else { 201 }) {
        return r;
    }
    if let Some(why) = bad {
        return connector_error(400, "BadArgument", why);
    }
    let reply = match channel {
        Some(channel) => {
            let n = f.next_activity_id();
            json!({"id": format!("{channel};messageid={n}"), "activityId": n})
        }
        None => json!({"id": format!("a:1{:032x}", fastrand::u128(..))}),
    };
    json_response(201, reply)
}

async fn send(
    State(f): State<FakeTeams>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> Response {
    let mut s = seen(Method::POST, "send", &headers, &uri, &body);
    s.conversation = Some(conversation);
    if let Some(r) = f.admit(s, 201) {
        return r;
    }
    json_response(201, json!({"id": f.next_activity_id()}))
}

async fn activity(
    State(f): State<FakeTeams>,
    method: Method,
    Path((conversation, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: String,
) -> Response {
    let (op, ok) = match method {
        Method::POST => ("reply", 201),
        Method::PUT => ("update", 200),
        _ => ("delete", 200),
    };
    let mut s = seen(method, op, &headers, &uri, &body);
    s.conversation = Some(conversation);
    s.activity = Some(id.clone());
    if let Some(r) = f.admit(s, ok) {
        return r;
    }
    match op {
        "reply" => json_response(201, json!({"id": f.next_activity_id()})),
        "update" => json_response(200, json!({ "id": id })),
        _ => StatusCode::OK.into_response(),
    }
}

async fn member(
    State(f): State<FakeTeams>,
    Path((conversation, member)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let known = f.inner.lock().unwrap().members.get(&member).cloned();
    let mut s = seen(Method::GET, "member", &headers, &uri, "");
    s.conversation = Some(conversation);
    s.activity = Some(member);
    let found = known.is_some();
    if let Some(r) = f.admit(s, if found { 200 } else { 404 }) {
        return r;
    }
    match known {
        Some(m) => json_response(200, m),
        None => connector_error(
            404,
            "MemberNotFoundInConversation",
            "The specified member was not found in the conversation.",
        ),
    }
}
