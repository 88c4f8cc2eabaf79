//! The Bot Connector REST API (Microsoft Learn, "Bot Connector API reference"): send, reply,
//! update and delete activities, create conversations, read a member.
//!
//! Every call goes to the conversation's `serviceUrl` (path kept) only if its host is in
//! `teams.allowed_service_hosts`; carries the bot's client-credentials token (refetched once
//! on a 401); waits for the conversation's [`Pacer`]; and retries 429 (after `Retry-After`),
//! 412, 502 and 504 with backoff. Errors come back as `{"error": {"code", "message"}}`; a 403
//! `BotNotInConversationRoster` is logged once per conversation with what to do.

use super::pacer::Pacer;
use super::settings::TeamsSettings;
use super::token::Tokens;
use crate::chat::ChatError;
use crate::retry::{Attempt, RetryPolicy};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Retries for throttling and transient connector errors.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_retries: 4,
    base: std::time::Duration::from_millis(500),
    max_wait: std::time::Duration::from_secs(30),
};

/// A conversation member as the connector describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Member {
    /// `29:…`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Entra object id (older responses).
    pub object_id: Option<String>,
    /// Entra object id.
    pub aad_object_id: Option<String>,
    /// Email, when the account has one.
    pub email: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// `user` or `guest`.
    pub user_role: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
}

/// The created conversation: its id and, for a channel post, the post's activity id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Created {
    /// Conversation id (`19:…;messageid=N` for a channel post, `a:…` for a personal chat).
    pub id: String,
    /// The first activity's id, when one was sent.
    pub activity_id: Option<String>,
}

/// The connector client.
pub struct Connector {
    http: reqwest::Client,
    tokens: Tokens,
    settings: Arc<TeamsSettings>,
    pacer: Pacer,
    /// Conversations whose roster error was logged already (bounded).
    warned: moka::sync::Cache<String, ()>,
}

/// `{service_url}/v3/conversations[/{conversation}[/activities[/{activity}]]]`, each id
/// percent-encoded as one path segment.
pub fn url(service_url: &str, parts: &[&str]) -> Option<url::Url> {
    let mut u = url::Url::parse(service_url).ok()?;
    u.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["v3", "conversations"])
        .extend(parts);
    Some(u)
}

impl Connector {
    /// A client for the bot in `settings`.
    pub fn new(http: reqwest::Client, settings: Arc<TeamsSettings>) -> Self {
        Self {
            tokens: Tokens::new(http.clone(), &settings),
            http,
            settings,
            pacer: Pacer::default(),
            warned: moka::sync::Cache::new(10_000),
        }
    }

    /// The token source (for `opsbot check` and metrics).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The bot's settings.
    pub fn settings(&self) -> &TeamsSettings {
        &self.settings
    }

    /// Sends `activity` to `conversation` (a thread when the id has `;messageid=`).
    pub async fn send(
        &self,
        service_url: &str,
        conversation: &str,
        activity: &Value,
    ) -> Result<Option<String>, ChatError> {
        let v = self
            .call(
                "send activity",
                Method::POST,
                service_url,
                &[conversation, "activities"],
                Some(activity),
                Some(conversation),
            )
            .await?;
        Ok(id_of(&v))
    }

    /// Replaces activity `id` in `conversation` with `activity`.
    pub async fn update(
        &self,
        service_url: &str,
        conversation: &str,
        id: &str,
        activity: &Value,
    ) -> Result<(), ChatError> {
        self.call(
            "update activity",
            Method::PUT,
            service_url,
            &[conversation, "activities", id],
            Some(activity),
            Some(conversation),
        )
        .await
        .map(|_| ())
    }

    /// Deletes activity `id` from `conversation`.
    pub async fn delete(
        &self,
        service_url: &str,
        conversation: &str,
        id: &str,
    ) -> Result<(), ChatError> {
        self.call(
            "delete activity",
            Method::DELETE,
            service_url,
            &[conversation, "activities", id],
            None,
            None,
        )
        .await
        .map(|_| ())
    }

    /// Creates a conversation (a new channel post, or a personal chat) with `body`.
    pub async fn create(&self, service_url: &str, body: &Value) -> Result<Created, ChatError> {
        let v = self
            .call(
                "create conversation",
                Method::POST,
                service_url,
                &[],
                Some(body),
                None,
            )
            .await?;
        serde_json::from_value(v).map_err(|e| ChatError::Transport {
            method: "create conversation",
            detail: format!("unexpected response: {e}"),
        })
    }

    /// Reads one member of `conversation`.
    pub async fn member(
        &self,
        service_url: &str,
        conversation: &str,
        member: &str,
    ) -> Result<Member, ChatError> {
        let v = self
            .call(
                "get member",
                Method::GET,
                service_url,
                &[conversation, "members", member],
                None,
                None,
            )
            .await?;
        serde_json::from_value(v).map_err(|e| ChatError::Transport {
            method: "get member",
            detail: format!("unexpected response: {e}"),
        })
    }

    /// One call with token, pacing (`paced`: the conversation to pace by) and retries.
    async fn call(
        &self,
        method_name: &'static str,
        method: Method,
        service_url: &str,
        parts: &[&str],
        body: Option<&Value>,
        paced: Option<&str>,
    ) -> Result<Value, ChatError> {
        if !self.settings.allows_service_url(service_url) {
            return Err(ChatError::Api {
                method: method_name,
                code: format!(
                    "service URL host not allowed; add it to teams.allowed_service_hosts if {service_url:?} is a Microsoft connector"
                ),
            });
        }
        let Some(url) = url(service_url, parts) else {
            return Err(ChatError::Transport {
                method: method_name,
                detail: "the service URL is not a URL".into(),
            });
        };
        if let Some(c) = paced {
            let (channel, _) = super::activity::split_thread(c);
            self.pacer.wait(channel).await;
        }
        let refreshed = AtomicBool::new(false);
        let (url, method, refreshed) = (&url, &method, &refreshed);
        crate::retry::run(RETRY, method_name, move || async move {
            let token = match self.tokens.get().await {
                Ok(t) => t,
                Err(e) => {
                    return Attempt::Done(Err(ChatError::Transport {
                        method: method_name,
                        detail: e.to_string(),
                    }));
                }
            };
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    return Attempt::Retry {
                        after: None,
                        error: ChatError::Transport {
                            method: method_name,
                            detail: e.without_url().to_string(),
                        },
                    };
                }
            };
            let status = res.status();
            let after = crate::retry::retry_after(res.headers());
            let bytes = res.bytes().await.unwrap_or_default();
            if status.is_success() {
                let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                return Attempt::Done(Ok(v));
            }
            let code = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error.code)
                .ok()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            match status {
                StatusCode::UNAUTHORIZED if !refreshed.swap(true, Ordering::Relaxed) => {
                    self.tokens.invalidate(&token).await;
                    Attempt::Retry {
                        after: Some(std::time::Duration::ZERO),
                        error: ChatError::Api {
                            method: method_name,
                            code,
                        },
                    }
                }
                StatusCode::TOO_MANY_REQUESTS => Attempt::Retry {
                    after,
                    error: ChatError::RateLimited {
                        method: method_name,
                        retries: RETRY.max_retries,
                    },
                },
                StatusCode::PRECONDITION_FAILED
                | StatusCode::BAD_GATEWAY
                | StatusCode::GATEWAY_TIMEOUT => Attempt::Retry {
                    after,
                    error: ChatError::Api {
                        method: method_name,
                        code,
                    },
                },
                _ => {
                    if code == "BotNotInConversationRoster" {
                        let key = parts.first().copied().unwrap_or_default().to_string();
                        if !self.warned.contains_key(&key) {
                            self.warned.insert(key.clone(), ());
                            tracing::error!(
                                conversation = key,
                                "Teams says the bot is not in this conversation: add the opsbot app to the team or chat (Teams > Apps > opsbot > Add to a team), then try again"
                            );
                        }
                    }
                    Attempt::Done(Err(ChatError::Api {
                        method: method_name,
                        code,
                    }))
                }
            }
        })
        .await
    }
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_service_path_and_encode_ids() {
        let u = url(
            "https://smba.trafficmanager.net/amer/",
            &["19:abc@thread.tacv2;messageid=1", "activities"],
        )
        .unwrap();
        assert!(
            u.as_str().starts_with(
                "https://smba.trafficmanager.net/amer/v3/conversations/19:abc@thread.tacv2"
            ),
            "{u}"
        );
        assert_eq!(
            u.path_segments().unwrap().nth(3).unwrap(),
            "19:abc@thread.tacv2;messageid=1"
        );
        let u = url("https://x.example/teams", &["a/b?c#d"]).unwrap();
        assert_eq!(u.path(), "/teams/v3/conversations/a%2Fb%3Fc%23d");
        assert!(url("not a url", &[]).is_none());
    }
}
