//! `okta` provider: `GET {url}/api/v1/users/{login}/groups` with an API token
//! (`Authorization: SSWS ...`, env `OKTA_API_TOKEN`; a read-only admin token suffices).
//! Follows `Link: <...>; rel="next"` pagination; on 429 waits for `X-Rate-Limit-Reset`
//! (bounded) and retries. The login is the person's email. Groups are keyed `okta:<group id>`
//! (`00g…`, immutable); `profile.name` is only their display name.

use super::group::{Group, Kind};
use super::{GroupDirectory, IdentityError, Person};
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::Secret;
use async_trait::async_trait;
use serde::Deserialize;
use std::time::Duration;

const PROVIDER: &str = Kind::Okta.provider();

/// Okta group lookups.
pub struct Okta {
    http: reqwest::Client,
    base: String,
    token: Secret,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct OktaGroup {
    id: String,
    profile: OktaProfile,
}

#[derive(Deserialize)]
struct OktaProfile {
    name: String,
}

fn fail(detail: impl Into<String>) -> IdentityError {
    IdentityError::Provider {
        provider: PROVIDER,
        detail: detail.into(),
    }
}

/// The `rel="next"` URL of an RFC 8288 `Link` header, if any.
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
                .then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
        })
}

impl Okta {
    /// A provider for the Okta org at `base` (e.g. `https://example.okta.com`).
    pub fn new(http: reqwest::Client, base: &str, token: Secret) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
            retry: RetryPolicy {
                max_retries: 2,
                base: Duration::from_secs(1),
                max_wait: Duration::from_secs(10),
            },
        }
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, IdentityError> {
        crate::retry::run(self.retry, "okta groups", || async {
            let res = match self
                .http
                .get(url)
                .header("Authorization", format!("SSWS {}", self.token.expose()))
                .header("Accept", "application/json")
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => return Attempt::Done(Err(fail(format!("request failed: {e}")))),
            };
            if res.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Attempt::Done(Ok(res));
            }
            // Okta says when the window resets (X-Rate-Limit-Reset, Unix seconds).
            let after = res
                .headers()
                .get("x-rate-limit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|reset| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs();
                    Duration::from_secs(reset.saturating_sub(now).max(1))
                });
            Attempt::Retry {
                after,
                error: fail("still rate limited (HTTP 429) after retries"),
            }
        })
        .await
    }
}

#[async_trait]
impl GroupDirectory for Okta {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError> {
        let Some(login) = person.email.as_deref() else {
            return Ok(Vec::new());
        };
        let mut url = format!(
            "{}/api/v1/users/{}/groups?limit=200",
            self.base,
            urlencode(login)
        );
        let mut groups = Vec::new();
        for _page in 0..100 {
            let res = self.get(&url).await?;
            match res.status() {
                s if s.is_success() => {}
                reqwest::StatusCode::NOT_FOUND => return Ok(Vec::new()),
                s => return Err(fail(format!("HTTP {s}"))),
            }
            let next = next_link(res.headers());
            let page: Vec<OktaGroup> = res
                .json()
                .await
                .map_err(|e| fail(format!("unexpected response: {e}")))?;
            groups.extend(
                page.into_iter()
                    .map(|g| Group::new(Kind::Okta, &g.id, g.profile.name)),
            );
            match next {
                Some(n) => url = n,
                None => return Ok(groups),
            }
        }
        Err(fail("more than 100 pages of groups"))
    }
}

/// Percent-encodes a path segment.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_link_among_several() {
        let mut h = reqwest::header::HeaderMap::new();
        h.append(
            "link",
            "<https://x.okta.com/api/v1/users/a/groups?limit=2>; rel=\"self\""
                .parse()
                .unwrap(),
        );
        h.append(
            "link",
            "<https://x.okta.com/api/v1/users/a/groups?after=00g2&limit=2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://x.okta.com/api/v1/users/a/groups?after=00g2&limit=2")
        );
        let mut one = reqwest::header::HeaderMap::new();
        one.insert(
            "link",
            "<https://a/1>; rel=\"self\", <https://a/2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&one).as_deref(), Some("https://a/2"));
        assert_eq!(next_link(&reqwest::header::HeaderMap::new()), None);
    }
}
