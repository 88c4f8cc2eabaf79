//! [`McpPool`]: one MCP session per signing identity and endpoint. Calls run as whoever signs
//! them, so a session is keyed by the access key that signs it and the endpoint Region it talks
//! to. A session lives as long as its credentials: it is reused across questions and schedule
//! runs (set-up requests are paid once per credential, not per question), and closed (DELETE)
//! when they expire; refreshed credentials (a new access key) get a new session. Every request
//! of every session goes through one shared [`Pacer`]. The server's tool list is fetched once
//! per endpoint and kept for an hour.

use super::client::{McpError, McpServer, McpSession, ToolInfo};
use super::endpoints::Endpoint;
use super::pace::{PaceSettings, Pacer};
use crate::aws::sts::AwsCredentials;
use moka::future::Cache;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How long the tool list is trusted.
pub const TOOLS_TTL: Duration = Duration::from_secs(3600);
/// Most sessions open at once (the hosted server allows 180 per account per Region, 90 per
/// role).
pub const MAX_SESSIONS: u64 = 2_000;
/// Longest a session is kept even with longer-lived credentials.
const MAX_LIFE: Duration = Duration::from_secs(12 * 3600);

/// (access key, endpoint Region).
type Key = (String, String);

/// Sessions live until their credentials expire.
struct UntilExpiry;

impl moka::Expiry<Key, Arc<McpSession>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &Key,
        session: &Arc<McpSession>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let left = session
            .expiration()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Some(left.min(MAX_LIFE))
    }
}

/// Sessions per signing identity and endpoint, the shared pacer, and the server's tools.
pub struct McpPool {
    http: reqwest::Client,
    server: Arc<McpServer>,
    pacer: Arc<Pacer>,
    sessions: Cache<Key, Arc<McpSession>>,
    /// Endpoint Region → its tools (fetched once per endpoint however many ask at once).
    tools: Cache<String, Arc<Vec<ToolInfo>>>,
}

impl McpPool {
    /// A pool for `server` over `http` (build it with [`super::client::http_client`]: no
    /// redirects), pacing every request with `pace`. Must be created inside a tokio runtime
    /// (closing sessions spawns).
    pub fn new(http: reqwest::Client, server: McpServer, pace: PaceSettings) -> Self {
        let runtime = tokio::runtime::Handle::current();
        let sessions = Cache::builder()
            .max_capacity(MAX_SESSIONS)
            .expire_after(UntilExpiry)
            .eviction_listener(move |_key, session: Arc<McpSession>, _cause| {
                runtime.spawn(async move { session.close().await });
            })
            .build();
        Self {
            http,
            server: Arc::new(server),
            pacer: Arc::new(Pacer::new(pace)),
            sessions,
            tools: Cache::builder()
                .max_capacity(64)
                .time_to_live(TOOLS_TTL)
                .build(),
        }
    }

    /// The server this pool talks to.
    pub fn server(&self) -> &McpServer {
        &self.server
    }

    /// The pacer every request goes through.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.pacer
    }

    /// The session for `creds` (of `account`) at `endpoint`, created on first use.
    pub async fn session(
        &self,
        account: &str,
        endpoint: &Endpoint,
        creds: &AwsCredentials,
    ) -> Arc<McpSession> {
        let key = (creds.access_key_id.clone(), endpoint.region.clone());
        self.sessions
            .get_with(key, async {
                Arc::new(McpSession::new(
                    self.http.clone(),
                    self.server.clone(),
                    endpoint.clone(),
                    account,
                    creds.clone(),
                    self.pacer.clone(),
                ))
            })
            .await
    }

    /// The tools at `endpoint`, listed with `creds` the first time (and hourly after); one
    /// listing per endpoint however many ask at once.
    pub async fn tools(
        &self,
        account: &str,
        endpoint: &Endpoint,
        creds: &AwsCredentials,
        deadline: Instant,
    ) -> Result<Arc<Vec<ToolInfo>>, McpError> {
        self.tools
            .try_get_with(endpoint.region.clone(), async {
                let session = self.session(account, endpoint, creds).await;
                session.list_tools(deadline).await.map(Arc::new)
            })
            .await
            .map_err(|e| (*e).clone())
    }

    /// A tool list fetched within the hour, from any endpoint (no network).
    pub async fn cached_tools(&self) -> Option<Arc<Vec<ToolInfo>>> {
        self.tools.iter().next().map(|(_, t)| t)
    }

    /// Sessions open now (metrics, tests).
    pub fn open_sessions(&self) -> u64 {
        self.sessions.entry_count()
    }

    /// Closes every session (shutdown).
    pub async fn close_all(&self) {
        self.sessions.invalidate_all();
        self.sessions.run_pending_tasks().await;
    }
}
