//! One MCP session over Streamable HTTP, for one signing identity at one endpoint.
//!
//! `initialize` (pinned protocol version, no client capabilities) then
//! `notifications/initialized`; `tools/list` with cursor paging; `tools/call` with the region in
//! `params._meta.AWS_REGION`; DELETE when the session is dropped. Every HTTP request, set-up
//! included, waits for its turn in the shared [`Pacer`] (the server's quota counts every
//! request, per account per endpoint Region). A 404 on a known session means it expired:
//! initialize again once and retry. A 429 is not a failure until the caller's deadline says so:
//! its `Retry-After` (or jittered backoff) holds every request of that account and endpoint,
//! then the request goes back through the pacer. 5xx is retried a bounded number of times.
//! Redirects are never followed.

use super::endpoints::{Endpoint, Endpoints};
use super::pace::{PaceKey, Pacer};
use super::sigv4;
use super::sse;
use crate::aws::sts::AwsCredentials;
use crate::retry::{self, RetryPolicy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The MCP protocol version opsbot speaks (the hosted server accepts it).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Largest response body read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long closing a session (DELETE) may wait for its turn and answer.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// Why an MCP request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// The server refused the signature or the identity (HTTP 401/403).
    #[error(
        "the MCP server refused the request (HTTP {status}): {message}; check the role's permissions and [mcp] url/signing_region"
    )]
    Denied {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Still throttled (HTTP 429) when the deadline came.
    #[error(
        "the AWS MCP Server's rate limit (3 requests per second per account through each endpoint Region) kept answering 429 through the {endpoint} endpoint until this answer's deadline; others may share the quota (the same role used elsewhere): try again in a minute"
    )]
    Throttled {
        /// The endpoint's Region.
        endpoint: String,
    },
    /// No turn within the quota before the deadline (the pacer's queue was too long).
    #[error(
        "no room in the AWS MCP Server's quota (3 requests per second per account through the {endpoint} endpoint) before this answer's deadline: ask about fewer accounts or kinds at once, or try again"
    )]
    Late {
        /// The endpoint's Region.
        endpoint: String,
    },
    /// The server failed (5xx) after the allowed retries, or answered another HTTP error.
    #[error("the MCP server answered HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// A short excerpt of the body.
        message: String,
    },
    /// A JSON-RPC error.
    #[error("MCP error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The session expired again right after a new one was made.
    #[error("the MCP session keeps expiring")]
    SessionExpired,
    /// The response was not what the protocol says.
    #[error("unexpected MCP response: {0}")]
    Protocol(String),
    /// The server answered a redirect, which opsbot never follows.
    #[error(
        "the MCP server answered a redirect (HTTP {status} to {location}); opsbot never follows redirects with signed requests: set [mcp] url to the final endpoint"
    )]
    Redirected {
        /// HTTP status (3xx).
        status: u16,
        /// Where it pointed (scheme and host only).
        location: String,
    },
    /// The request did not complete (network, timeout, signing).
    #[error("MCP request failed: {0}; check [mcp] url and the network")]
    Transport(String),
}

/// Whose identity the server runs AWS calls with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsAs {
    /// The signer's: the hosted AWS MCP Server forwards each call with the credentials that
    /// signed the request, so per-person credentials, account routing and attribution apply.
    Signer,
    /// Its own: a self-hosted server (the awslabs one) ignores who signed and calls AWS with
    /// the credentials it was started with. Declared with `mcp.server = "self_hosted"`.
    Server,
}

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct McpServer {
    /// The endpoint(s): one URL, or one per Region (`mcp.url` with `{region}`).
    pub endpoints: Endpoints,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries for 5xx (429 is retried until the caller's deadline).
    pub retry: RetryPolicy,
    /// Whose identity AWS calls run with there.
    pub runs_as: RunsAs,
}

/// A tool the server offers.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// Name, e.g. `aws___run_script`.
    pub name: String,
    /// Description.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: Value,
}

/// What a tool call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The text content, joined.
    pub text: String,
    /// `structuredContent`, when present.
    pub structured: Option<Value>,
    /// The server marked the result as an error.
    pub is_error: bool,
}

struct Negotiated {
    session_id: Option<String>,
    version: String,
}

/// How one exchange failed.
enum Failure {
    /// 404 on a session: it expired.
    Expired,
    /// Anything else.
    Fatal(McpError),
}

impl From<McpError> for Failure {
    fn from(e: McpError) -> Self {
        Self::Fatal(e)
    }
}

/// A response, read whole while the request held its turn.
struct Reply {
    status: u16,
    session: Option<String>,
    content_type: String,
    body: String,
    retry_after: Option<Duration>,
    location: Option<String>,
}

/// One session, for one signing identity at one endpoint.
pub struct McpSession {
    http: reqwest::Client,
    server: Arc<McpServer>,
    endpoint: Endpoint,
    creds: AwsCredentials,
    pacer: Arc<Pacer>,
    key: PaceKey,
    state: Mutex<Option<Arc<Negotiated>>>,
    ids: AtomicU64,
}

impl McpSession {
    /// A session (not yet initialized) at `endpoint`, signing with `creds` of `account`, every
    /// request paced by `pacer`.
    pub fn new(
        http: reqwest::Client,
        server: Arc<McpServer>,
        endpoint: Endpoint,
        account: &str,
        creds: AwsCredentials,
        pacer: Arc<Pacer>,
    ) -> Self {
        let key = PaceKey {
            account: account.to_string(),
            endpoint: endpoint.region.clone(),
        };
        Self {
            http,
            server,
            endpoint,
            creds,
            pacer,
            key,
            state: Mutex::new(None),
            ids: AtomicU64::new(1),
        }
    }

    /// The access key this session signs with.
    pub fn access_key_id(&self) -> &str {
        &self.creds.access_key_id
    }

    /// When the signing credentials expire (the session ends then).
    pub fn expiration(&self) -> SystemTime {
        self.creds.expiration
    }

    /// Where this session talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Every tool the server offers (follows `nextCursor`, at most 20 pages).
    pub async fn list_tools(&self, deadline: Instant) -> Result<Vec<ToolInfo>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let result = self.rpc("tools/list", params, deadline).await?;
            for t in result["tools"].as_array().into_iter().flatten() {
                tools.push(ToolInfo {
                    name: t["name"].as_str().unwrap_or_default().to_string(),
                    description: t["description"].as_str().unwrap_or_default().to_string(),
                    input_schema: t
                        .get("inputSchema")
                        .cloned()
                        .unwrap_or(json!({"type": "object"})),
                });
            }
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => return Ok(tools),
            }
        }
        Err(McpError::Protocol("tools/list pages never end".into()))
    }

    /// Calls `name` with `arguments`, in `region` (sent as `_meta.AWS_REGION`), before
    /// `deadline`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        region: Option<&str>,
        deadline: Instant,
    ) -> Result<ToolResult, McpError> {
        let mut params = json!({ "name": name, "arguments": arguments });
        if let Some(r) = region {
            params["_meta"] = json!({ "AWS_REGION": r });
        }
        let result = self.rpc("tools/call", params, deadline).await?;
        let text = result["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == "text")
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(ToolResult {
            text,
            structured: result.get("structuredContent").cloned(),
            is_error: result["isError"].as_bool().unwrap_or(false),
        })
    }

    /// Ends the session on the server (DELETE, paced like any request); errors are only
    /// logged.
    pub async fn close(&self) {
        let Some(n) = self.state.lock().await.take() else {
            return;
        };
        let Some(id) = &n.session_id else { return };
        let headers = [
            ("mcp-session-id", id.as_str()),
            ("mcp-protocol-version", n.version.as_str()),
        ];
        let deadline = Instant::now() + CLOSE_WITHIN;
        match self
            .exchange("DELETE", Vec::new(), &headers, deadline)
            .await
        {
            Ok(r) => tracing::debug!(status = r.status, "MCP session closed"),
            Err(e) => tracing::debug!(error = %e, "MCP session close failed"),
        }
    }

    /// One JSON-RPC request: initializes first if needed; a 404 re-initializes once.
    async fn rpc(&self, method: &str, params: Value, deadline: Instant) -> Result<Value, McpError> {
        let mut renewed = false;
        loop {
            let negotiated = self.negotiated(deadline).await?;
            let id = self.ids.fetch_add(1, Ordering::Relaxed);
            let body = rpc_body(id, method, params.clone())?;
            let headers = session_headers(&negotiated);
            let reply = self.exchange("POST", body, &headers, deadline).await?;
            match result_of(&reply, id) {
                Err(Failure::Expired) if !renewed => {
                    tracing::info!("MCP session expired; initializing a new one");
                    renewed = true;
                    let mut state = self.state.lock().await;
                    if state.as_ref().is_some_and(|s| Arc::ptr_eq(s, &negotiated)) {
                        *state = None;
                    }
                }
                Err(Failure::Expired) => return Err(McpError::SessionExpired),
                Err(Failure::Fatal(e)) => return Err(e),
                Ok(v) => return Ok(v),
            }
        }
    }

    /// Initializes the session now if it is not yet (so set-up overlaps other waiting, such
    /// as the endpoint's tool listing); later calls reuse it.
    pub async fn open(&self, deadline: Instant) -> Result<(), McpError> {
        self.negotiated(deadline).await.map(|_| ())
    }

    /// The negotiated session, initializing it (once, whoever asks first) if needed.
    async fn negotiated(&self, deadline: Instant) -> Result<Arc<Negotiated>, McpError> {
        let mut state = self.state.lock().await;
        if let Some(n) = state.as_ref() {
            return Ok(n.clone());
        }
        let init = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "opsbot", "version": env!("CARGO_PKG_VERSION")},
        });
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let reply = self
            .exchange("POST", rpc_body(id, "initialize", init)?, &[], deadline)
            .await?;
        let result = match result_of(&reply, id) {
            Ok(v) => v,
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Expired) => {
                return Err(McpError::Protocol(
                    "initialize answered 404; check [mcp] url (it ends in /mcp)".into(),
                ));
            }
        };
        let version = result["protocolVersion"]
            .as_str()
            .unwrap_or(PROTOCOL_VERSION)
            .to_string();
        let n = Arc::new(Negotiated {
            session_id: reply.session,
            version,
        });
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let body = serde_json::to_vec(&note).map_err(|e| McpError::Protocol(e.to_string()))?;
        let reply = self
            .exchange("POST", body, &session_headers(&n), deadline)
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(McpError::Http {
                status: reply.status,
                message: "notifications/initialized was refused".into(),
            });
        }
        *state = Some(n.clone());
        Ok(n)
    }

    /// Sends one request in its turn and reads the reply; 429 waits (holding the whole key)
    /// and goes again until `deadline`, 5xx a bounded number of times. Other statuses are the
    /// caller's.
    async fn exchange(
        &self,
        method: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<Reply, McpError> {
        let endpoint = || self.endpoint.region.clone();
        let mut throttled = 0u32;
        let mut failed = 0u32;
        loop {
            let turn = self.pacer.turn(&self.key, deadline).await;
            let Ok(_turn) = turn else {
                return Err(if throttled > 0 {
                    McpError::Throttled {
                        endpoint: endpoint(),
                    }
                } else {
                    McpError::Late {
                        endpoint: endpoint(),
                    }
                });
            };
            let reply = self.send(method, body.clone(), extra, deadline).await?;
            drop(_turn);
            let wait = match reply.status {
                429 => {
                    let wait =
                        retry::wait_for(self.server.retry, throttled.min(8), reply.retry_after);
                    throttled += 1;
                    self.pacer.back_off(&self.key, wait);
                    if Instant::now() + wait >= deadline {
                        return Err(McpError::Throttled {
                            endpoint: endpoint(),
                        });
                    }
                    tracing::info!(endpoint = %self.endpoint.region, account = %self.key.account, retry = throttled, wait_ms = wait.as_millis() as u64, "MCP server throttled (429); waiting its turn again");
                    wait
                }
                500..=599 if failed < self.server.retry.max_retries => {
                    let wait = retry::wait_for(self.server.retry, failed, reply.retry_after);
                    failed += 1;
                    tracing::info!(
                        status = reply.status,
                        retry = failed,
                        wait_ms = wait.as_millis() as u64,
                        "MCP server error; retrying"
                    );
                    wait
                }
                _ => return Ok(reply),
            };
            if Instant::now() + wait >= deadline {
                return Ok(reply);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Signs and sends one HTTP request, reading the whole reply.
    async fn send(
        &self,
        method: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<Reply, McpError> {
        let transport = |e: String| McpError::Transport(e);
        let url = &self.endpoint.url;
        let host = host_of(url).map_err(transport)?;
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", host.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        headers.extend_from_slice(extra);
        let signed = sigv4::sign_headers(
            &self.creds,
            &self.endpoint.region,
            method,
            url,
            &headers,
            &body,
            SystemTime::now(),
        )
        .map_err(|e| transport(e.to_string()))?;
        let m =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| transport(e.to_string()))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = self.server.timeout.min(left.max(Duration::from_millis(1)));
        let mut req = self.http.request(m, url).timeout(timeout).body(body);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            req = req.header(*k, *v);
        }
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        let res = req.send().await.map_err(|e| {
            transport(if e.is_timeout() {
                format!("no answer within {} s", timeout.as_secs_f32().ceil())
            } else {
                e.to_string()
            })
        })?;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (session, content_type, location) = (
            header("mcp-session-id"),
            header("content-type"),
            header("location"),
        );
        let status = res.status().as_u16();
        let retry_after = retry::retry_after(res.headers());
        let body = if res.status().is_redirection() {
            String::new()
        } else {
            read_capped(res).await?
        };
        Ok(Reply {
            status,
            session,
            content_type: content_type.unwrap_or_default(),
            body,
            retry_after,
            location,
        })
    }
}

/// The HTTP client for MCP requests: it never follows a redirect (the signed request, its
/// session id and security token would travel to wherever the redirect points).
pub fn http_client() -> Result<reqwest::Client, McpError> {
    crate::endpoint::client(None).map_err(|e| McpError::Transport(e.to_string()))
}

fn rpc_body(id: u64, method: &str, params: Value) -> Result<Vec<u8>, McpError> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .map_err(|e| McpError::Protocol(e.to_string()))
}

fn session_headers(n: &Negotiated) -> Vec<(&str, &str)> {
    let mut h = vec![("mcp-protocol-version", n.version.as_str())];
    if let Some(id) = &n.session_id {
        h.push(("mcp-session-id", id.as_str()));
    }
    h
}

/// `host[:port]` as the Host header carries it.
fn host_of(url: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| format!("[mcp] url: {e}"))?;
    let host = u.host_str().ok_or("[mcp] url has no host")?;
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// The JSON-RPC result for `id` in `reply`, or how it failed.
fn result_of(reply: &Reply, id: u64) -> Result<Value, Failure> {
    let status = reply.status;
    let body = &reply.body;
    let excerpt = || body.chars().take(300).collect::<String>();
    match status {
        200..=299 => {}
        300..=399 => {
            let location = reply
                .location
                .as_deref()
                .and_then(|l| url::Url::parse(l).ok())
                .map_or_else(
                    || "an unreadable location".to_string(),
                    |u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")),
                );
            return Err(Failure::Fatal(McpError::Redirected { status, location }));
        }
        404 => return Err(Failure::Expired),
        401 | 403 => {
            return Err(Failure::Fatal(McpError::Denied {
                status,
                message: message_of(body).unwrap_or_else(excerpt),
            }));
        }
        _ => {
            return Err(Failure::Fatal(McpError::Http {
                status,
                message: message_of(body).unwrap_or_else(excerpt),
            }));
        }
    }
    let msg = sse::response_for(&reply.content_type, body, id).ok_or_else(|| {
        Failure::Fatal(McpError::Protocol(format!(
            "no response for request {id} in a {} body",
            reply.content_type
        )))
    })?;
    if let Some(e) = msg.get("error") {
        return Err(Failure::Fatal(McpError::Rpc {
            code: e["code"].as_i64().unwrap_or(0),
            message: e["message"].as_str().unwrap_or("").to_string(),
        }));
    }
    Ok(msg["result"].clone())
}

fn message_of(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("message")
        .or_else(|| v.get("error").and_then(|e| e.get("message")))
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn read_capped(mut res: reqwest::Response) -> Result<String, McpError> {
    let mut out = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?
    {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(McpError::Protocol(format!(
                "response larger than {} MiB",
                MAX_BODY / 1024 / 1024
            )));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).map_err(|e| McpError::Protocol(e.to_string()))
}
