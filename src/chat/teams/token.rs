//! The bot's outbound token: client credentials from the tenant's token endpoint
//! (`POST {login_url}/{tenant}/oauth2/v2.0/token`, scope `https://api.botframework.com/.default`),
//! cached until five minutes before it expires, fetched by one caller at a time, and dropped
//! when the connector answers 401 so the next call fetches a fresh one.

use super::settings::{SCOPE, TeamsSettings};
use crate::secret::Secret;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Tokens are renewed this long before they expire.
pub const EARLY: Duration = Duration::from_secs(300);

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The endpoint could not be reached or answered nonsense.
    #[error("cannot reach the Teams token endpoint: {0}; check teams.login_url and the network")]
    Transport(String),
    /// The endpoint refused the credentials.
    #[error(
        "the token endpoint refused the bot's credentials ({0}); check teams.app_id, teams.tenant_id and TEAMS_CLIENT_SECRET (it may have expired)"
    )]
    Refused(String),
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
}

struct Cached {
    token: Secret,
    until: Instant,
}

/// Client-credentials tokens for the connector.
pub struct Tokens {
    http: reqwest::Client,
    url: String,
    app_id: String,
    secret: Secret,
    cached: Mutex<Option<Cached>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl Tokens {
    /// Tokens for the app in `settings`.
    pub fn new(http: reqwest::Client, settings: &TeamsSettings) -> Self {
        Self {
            http,
            url: format!(
                "{}/{}/oauth2/v2.0/token",
                settings.login_url, settings.tenant_id
            ),
            app_id: settings.app_id.clone(),
            secret: settings.client_secret.clone(),
            cached: Mutex::new(None),
            fetched: Default::default(),
        }
    }

    /// A token valid for at least [`EARLY`] more.
    pub async fn get(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.until > Instant::now()
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            until: Instant::now() + lifetime.saturating_sub(EARLY),
        });
        Ok(token)
    }

    /// Forgets `token` after the connector refused it (a newer one is kept).
    pub async fn invalidate(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose() == token.expose())
        {
            *cached = None;
        }
    }

    /// How many tokens were fetched (metrics and tests).
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn fetch(&self) -> Result<(Secret, Duration), TokenError> {
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.secret.expose()),
            ("scope", SCOPE),
        ];
        let body =
            serde_urlencoded::to_string(form).map_err(|e| TokenError::Transport(e.to_string()))?;
        let res = self
            .http
            .post(&self.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            let code = serde_json::from_slice::<ErrorBody>(&bytes)
                .ok()
                .and_then(|b| b.error)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(if status.is_client_error() {
                TokenError::Refused(code)
            } else {
                TokenError::Transport(format!("HTTP {status}"))
            });
        }
        let body: TokenBody = serde_json::from_slice(&bytes)
            .map_err(|e| TokenError::Transport(format!("unexpected token response: {e}")))?;
        Ok((
            Secret::new(body.access_token),
            Duration::from_secs(body.expires_in.clamp(60, 86_400)),
        ))
    }
}
