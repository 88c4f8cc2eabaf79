//! `entra` provider: Microsoft Entra ID groups through Microsoft Graph.
//!
//! Client-credentials token from `{login_url}/{tenant}/oauth2/v2.0/token` (app registration with
//! the `GroupMember.Read.All` and `User.Read.All` application permissions; secret in env
//! `ENTRA_CLIENT_SECRET`), cached until shortly before it expires. Then
//! `GET {graph_url}/v1.0/users/{upn or object id}/transitiveMemberOf/microsoft.graph.group`
//! (Teams users by their Entra object id, everyone else by email) following
//! `@odata.nextLink`; 429/503 honour `Retry-After`. Groups are keyed `entra:<object id>`
//! (immutable; anyone may create a group with any display name, so names are only shown).

use super::group::{Group, Kind};
use super::{GroupDirectory, IdentityError, Person};
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::Secret;
use async_trait::async_trait;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

const PROVIDER: &str = Kind::Entra.provider();

/// Graph throttling: honour `Retry-After`, twice at most, never more than 10 s at a time.
const RETRY: RetryPolicy = RetryPolicy {
    max_retries: 2,
    base: Duration::from_secs(1),
    max_wait: Duration::from_secs(10),
};

/// The former `identity.entra.group_name` setting, still accepted so older configs load. It no
/// longer changes anything: grants always name Entra groups by object id (`entra:<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupName {
    /// Formerly: match by display name (squattable; no longer done).
    #[default]
    DisplayName,
    /// Formerly: match by object id (now always).
    Id,
}

/// Settings for the Entra provider.
#[derive(Debug, Clone)]
pub struct EntraSettings {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Graph base URL (`https://graph.microsoft.com`).
    pub graph_url: String,
    /// Login base URL (`https://login.microsoftonline.com`).
    pub login_url: String,
}

/// Entra group lookups.
pub struct Entra {
    http: reqwest::Client,
    settings: EntraSettings,
    token: Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct Page {
    value: Vec<GraphGroup>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

#[derive(Deserialize)]
struct GraphGroup {
    id: String,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
}

fn fail(detail: impl Into<String>) -> IdentityError {
    IdentityError::Provider {
        provider: PROVIDER,
        detail: detail.into(),
    }
}

impl Entra {
    /// A provider with `settings`.
    pub fn new(http: reqwest::Client, settings: EntraSettings) -> Self {
        Self {
            http,
            settings,
            token: Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<Secret, IdentityError> {
        let mut slot = self.token.lock().await;
        if let Some((t, until)) = slot.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let s = &self.settings;
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            s.login_url.trim_end_matches('/'),
            s.tenant_id
        );
        let res = self
            .http
            .post(url)
            .form(&[
                ("client_id", s.client_id.as_str()),
                ("client_secret", s.client_secret.expose()),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .map_err(|e| fail(format!("token request failed: {e}")))?;
        if !res.status().is_success() {
            return Err(fail(format!(
                "token endpoint answered HTTP {}; check tenant_id, client_id and ENTRA_CLIENT_SECRET",
                res.status()
            )));
        }
        let t: TokenResponse = res
            .json()
            .await
            .map_err(|e| fail(format!("unexpected token response: {e}")))?;
        let secret = Secret::new(t.access_token);
        let until = Instant::now() + Duration::from_secs(t.expires_in.saturating_sub(60));
        *slot = Some((secret.clone(), until));
        Ok(secret)
    }
}

#[async_trait]
impl GroupDirectory for Entra {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError> {
        // A Teams user is already known by their Entra object id; others by email (UPN).
        let upn = match person.user.platform {
            crate::core::inbound::Platform::Teams if !person.user.id.is_empty() => {
                person.user.id.as_str()
            }
            _ => match person.email.as_deref() {
                Some(e) => e,
                None => return Ok(Vec::new()),
            },
        };
        let token = self.token().await?;
        let mut url = format!(
            "{}/v1.0/users/{}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999",
            self.settings.graph_url.trim_end_matches('/'),
            super::okta::urlencode(upn)
        );
        let mut out = Vec::new();
        for _ in 0..200 {
            let res = crate::retry::run(RETRY, "graph transitiveMemberOf", || async {
                let res = match self.http.get(&url).bearer_auth(token.expose()).send().await {
                    Ok(r) => r,
                    Err(e) => return Attempt::Done(Err(fail(format!("request failed: {e}")))),
                };
                let status = res.status();
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                {
                    return Attempt::Retry {
                        after: crate::retry::retry_after(res.headers()),
                        error: fail(format!("Graph answered HTTP {status} after retries")),
                    };
                }
                Attempt::Done(Ok(res))
            })
            .await?;
            let status = res.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(Vec::new());
            }
            if !status.is_success() {
                return Err(fail(format!("Graph answered HTTP {status}")));
            }
            let page: Page = res
                .json()
                .await
                .map_err(|e| fail(format!("unexpected Graph response: {e}")))?;
            out.extend(page.value.into_iter().map(|g| {
                let name = g.display_name.unwrap_or_else(|| g.id.clone());
                Group::new(Kind::Entra, &g.id, name)
            }));
            match page.next {
                Some(n) => url = n,
                None => return Ok(out),
            }
        }
        Err(fail("too many pages of groups"))
    }
}
