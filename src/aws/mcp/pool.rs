//! [`McpPool`]: one MCP session per signing identity. Calls run as whoever signs them, so a
//! session is keyed by the access key that signs it: when the pooled credentials are refreshed
//! (a new access key) the next call gets a new session, and the old one is closed (DELETE) once
//! idle. The server's tool list is the same for every identity: it is fetched once and kept for
//! an hour.

use super::client::{McpError, McpServer, McpSession, ToolInfo};
use crate::aws::sts::AwsCredentials;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;
use tokio::time::Instant;

/// How long an unused session is kept before it is closed.
pub const SESSION_IDLE: Duration = Duration::from_secs(600);
/// How long the tool list is trusted.
pub const TOOLS_TTL: Duration = Duration::from_secs(3600);
/// Most sessions open at once (the hosted server allows about 90 per role).
pub const MAX_SESSIONS: u64 = 2_000;

/// Sessions per signing identity, and the server's tools.
pub struct McpPool {
    http: reqwest::Client,
    server: Arc<McpServer>,
    sessions: Cache<String, Arc<McpSession>>,
    tools: RwLock<Option<(Instant, Arc<Vec<ToolInfo>>)>>,
}

impl McpPool {
    /// A pool for `server` over `http` (build it with [`super::client::http_client`]: no
    /// redirects). Must be created inside a tokio runtime (closing sessions spawns).
    pub fn new(http: reqwest::Client, server: McpServer) -> Self {
        let runtime = tokio::runtime::Handle::current();
        let sessions = Cache::builder()
            .max_capacity(MAX_SESSIONS)
            .time_to_idle(SESSION_IDLE)
            .eviction_listener(move |_key, session: Arc<McpSession>, _cause| {
                runtime.spawn(async move { session.close().await });
            })
            .build();
        Self {
            http,
            server: Arc::new(server),
            sessions,
            tools: RwLock::new(None),
        }
    }

    /// The server this pool talks to.
    pub fn server(&self) -> &McpServer {
        &self.server
    }

    /// The session for the identity `creds` belong to (created on first use).
    pub async fn session(&self, creds: &AwsCredentials) -> Arc<McpSession> {
        self.sessions
            .get_with(creds.access_key_id.clone(), async {
                Arc::new(McpSession::new(
                    self.http.clone(),
                    self.server.clone(),
                    creds.clone(),
                ))
            })
            .await
    }

    /// The server's tools, listed with `creds` the first time (and hourly after).
    pub async fn tools(&self, creds: &AwsCredentials) -> Result<Arc<Vec<ToolInfo>>, McpError> {
        if let Some((at, tools)) = self.tools.read().await.as_ref()
            && at.elapsed() < TOOLS_TTL
        {
            return Ok(tools.clone());
        }
        let tools = Arc::new(self.session(creds).await.list_tools().await?);
        *self.tools.write().await = Some((Instant::now(), tools.clone()));
        Ok(tools)
    }

    /// The tool list if it was fetched within the hour (no network).
    pub async fn cached_tools(&self) -> Option<Arc<Vec<ToolInfo>>> {
        self.tools
            .read()
            .await
            .as_ref()
            .filter(|(at, _)| at.elapsed() < TOOLS_TTL)
            .map(|(_, t)| t.clone())
    }

    /// Closes every session (shutdown).
    pub async fn close_all(&self) {
        self.sessions.invalidate_all();
        self.sessions.run_pending_tasks().await;
    }
}
