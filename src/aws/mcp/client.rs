//! One MCP session over Streamable HTTP, signed with one identity's credentials.
//!
//! `initialize` (pinned protocol version, no client capabilities) then
//! `notifications/initialized`; `tools/list` with cursor paging; `tools/call` with the region in
//! `params._meta.AWS_REGION`; DELETE when the session is dropped. A 404 on a known session means
//! it expired: initialize again once and retry. 429 and 5xx are retried with backoff and jitter
//! (the server's `Retry-After` when it sends one), bounded.

use super::sigv4;
use super::sse;
use crate::aws::sts::AwsCredentials;
use crate::retry::{self, Attempt, RetryPolicy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The MCP protocol version opsbot speaks (the hosted server accepts it).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Largest response body read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

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
    /// Still throttled (HTTP 429) after the allowed retries.
    #[error("the MCP server is throttling requests (HTTP 429) for this account and region")]
    Throttled,
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
    /// Endpoint URL, e.g. `https://aws-mcp.us-east-1.api.aws/mcp`.
    pub url: String,
    /// SigV4 signing region.
    pub signing_region: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries for 429 and 5xx.
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

enum Failure {
    Expired,
    Retry(Option<Duration>, McpError),
    Fatal(McpError),
}

/// One session, for one signing identity.
pub struct McpSession {
    http: reqwest::Client,
    server: Arc<McpServer>,
    creds: AwsCredentials,
    state: Mutex<Option<Arc<Negotiated>>>,
    ids: AtomicU64,
}

impl McpSession {
    /// A session (not yet initialized) signing with `creds`.
    pub fn new(http: reqwest::Client, server: Arc<McpServer>, creds: AwsCredentials) -> Self {
        Self {
            http,
            server,
            creds,
            state: Mutex::new(None),
            ids: AtomicU64::new(1),
        }
    }

    /// The access key this session signs with.
    pub fn access_key_id(&self) -> &str {
        &self.creds.access_key_id
    }

    /// Every tool the server offers (follows `nextCursor`, at most 20 pages).
    pub async fn list_tools(&self) -> Result<Vec<ToolInfo>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let result = self.rpc("tools/list", params).await?;
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

    /// Calls `name` with `arguments`, in `region` (sent as `_meta.AWS_REGION`).
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        region: Option<&str>,
    ) -> Result<ToolResult, McpError> {
        let mut params = json!({ "name": name, "arguments": arguments });
        if let Some(r) = region {
            params["_meta"] = json!({ "AWS_REGION": r });
        }
        let result = self.rpc("tools/call", params).await?;
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

    /// Ends the session on the server (DELETE); errors are only logged.
    pub async fn close(&self) {
        let Some(n) = self.state.lock().await.take() else {
            return;
        };
        let Some(id) = &n.session_id else { return };
        let headers = [
            ("mcp-session-id", id.as_str()),
            ("mcp-protocol-version", n.version.as_str()),
        ];
        match self.send("DELETE", Vec::new(), &headers).await {
            Ok(res) => tracing::debug!(status = res.status().as_u16(), "MCP session closed"),
            Err(e) => tracing::debug!(error = %e, "MCP session close failed"),
        }
    }

    /// One JSON-RPC request: initializes first if needed; a 404 re-initializes once.
    async fn rpc(&self, method: &str, params: Value) -> Result<Value, McpError> {
        let mut renewed = false;
        loop {
            let negotiated = self.negotiated().await?;
            match self.request(method, params.clone(), &negotiated).await {
                Err(Failure::Expired) if !renewed => {
                    tracing::info!("MCP session expired; initializing a new one");
                    renewed = true;
                    let mut state = self.state.lock().await;
                    if state.as_ref().is_some_and(|s| Arc::ptr_eq(s, &negotiated)) {
                        *state = None;
                    }
                }
                Err(Failure::Expired) => return Err(McpError::SessionExpired),
                Err(Failure::Retry(_, e) | Failure::Fatal(e)) => return Err(e),
                Ok(v) => return Ok(v),
            }
        }
    }

    /// The negotiated session, initializing it (once, whoever asks first) if needed.
    async fn negotiated(&self) -> Result<Arc<Negotiated>, McpError> {
        let mut state = self.state.lock().await;
        if let Some(n) = state.as_ref() {
            return Ok(n.clone());
        }
        let init = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "opsbot", "version": env!("CARGO_PKG_VERSION")},
        });
        let (result, session_id) = self.initialize(init).await?;
        let version = result["protocolVersion"]
            .as_str()
            .unwrap_or(PROTOCOL_VERSION)
            .to_string();
        let n = Arc::new(Negotiated {
            session_id,
            version,
        });
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let body = serde_json::to_vec(&note).map_err(|e| McpError::Protocol(e.to_string()))?;
        let headers = session_headers(&n);
        let res = self
            .send("POST", body, &headers)
            .await
            .map_err(|e| McpError::Transport(e.to_string()))?;
        if !res.status().is_success() {
            return Err(McpError::Http {
                status: res.status().as_u16(),
                message: "notifications/initialized was refused".into(),
            });
        }
        *state = Some(n.clone());
        Ok(n)
    }

    async fn initialize(&self, params: Value) -> Result<(Value, Option<String>), McpError> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let body = &rpc_body(id, "initialize", params)?;
        retry::run(self.server.retry, "mcp initialize", move || async move {
            let res = match self.send("POST", body.clone(), &[]).await {
                Ok(r) => r,
                Err(e) => return Attempt::Done(Err(McpError::Transport(e.to_string()))),
            };
            let session = res
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match read(res, id).await {
                Ok(v) => Attempt::Done(Ok((v, session))),
                Err(Failure::Retry(after, e)) => Attempt::Retry { after, error: e },
                Err(Failure::Fatal(e)) => Attempt::Done(Err(e)),
                Err(Failure::Expired) => Attempt::Done(Err(McpError::Protocol(
                    "initialize answered 404; check [mcp] url (it ends in /mcp)".into(),
                ))),
            }
        })
        .await
    }

    /// Sends one request in the session, retrying throttling and server errors.
    async fn request(&self, method: &str, params: Value, n: &Negotiated) -> Result<Value, Failure> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let body = rpc_body(id, method, params).map_err(Failure::Fatal)?;
        let headers = session_headers(n);
        let mut attempt = 0;
        loop {
            let res = self
                .send("POST", body.clone(), &headers)
                .await
                .map_err(|e| Failure::Fatal(McpError::Transport(e.to_string())))?;
            match read(res, id).await {
                Err(Failure::Retry(after, e)) => {
                    if attempt >= self.server.retry.max_retries {
                        return Err(Failure::Fatal(e));
                    }
                    let wait = retry::wait_for(self.server.retry, attempt, after);
                    attempt += 1;
                    tracing::info!(method, retry = attempt, wait_ms = wait.as_millis() as u64, error = %e, "MCP throttled or unavailable; retrying");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Signs and sends one HTTP request.
    async fn send(
        &self,
        method: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Result<reqwest::Response, String> {
        let url = &self.server.url;
        let host = host_of(url)?;
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", host.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        headers.extend_from_slice(extra);
        let signed = sigv4::sign_headers(
            &self.creds,
            &self.server.signing_region,
            method,
            url,
            &headers,
            &body,
            SystemTime::now(),
        )
        .map_err(|e| e.to_string())?;
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = self
            .http
            .request(m, url)
            .timeout(self.server.timeout)
            .body(body);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            req = req.header(*k, *v);
        }
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send().await.map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} s", self.server.timeout.as_secs())
            } else {
                e.to_string()
            }
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

/// Reads a response: the JSON-RPC result for `id`, or how it failed.
async fn read(res: reqwest::Response, id: u64) -> Result<Value, Failure> {
    let status = res.status().as_u16();
    let after = retry::retry_after(res.headers());
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if res.status().is_redirection() {
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok())
            .map_or_else(
                || "an unreadable location".to_string(),
                |u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")),
            );
        return Err(Failure::Fatal(McpError::Redirected { status, location }));
    }
    let body = read_capped(res).await.map_err(Failure::Fatal)?;
    let excerpt = || body.chars().take(300).collect::<String>();
    match status {
        200..=299 => {}
        404 => return Err(Failure::Expired),
        429 => return Err(Failure::Retry(after, McpError::Throttled)),
        401 | 403 => {
            return Err(Failure::Fatal(McpError::Denied {
                status,
                message: message_of(&body).unwrap_or_else(excerpt),
            }));
        }
        500..=599 => {
            return Err(Failure::Retry(
                after,
                McpError::Http {
                    status,
                    message: excerpt(),
                },
            ));
        }
        _ => {
            return Err(Failure::Fatal(McpError::Http {
                status,
                message: message_of(&body).unwrap_or_else(excerpt),
            }));
        }
    }
    let msg = sse::response_for(&content_type, &body, id).ok_or_else(|| {
        Failure::Fatal(McpError::Protocol(format!(
            "no response for request {id} in a {content_type} body"
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
