//! [`SlackSink`]: the [`ChatSink`] over slack-morphism's Web API client.
//!
//! Every call retries HTTP 429 after Slack's `Retry-After`, at most `max_retries` times and
//! never waiting longer than `max_retry_wait`. The Web API base URL is configurable
//! (`slack.api_url`) so tests and proxies can stand in for slack.com.

use crate::chat::{
    BotIdentity, ChatError, ChatSink, MessageRef, OutFile, OutMessage, ThreadRef, Visibility,
};
use crate::config::{Progress, SlackConfig};
use async_trait::async_trait;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The hyper connector type used for every Slack call.
pub type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// Builds the Slack HTTP connector: https only for slack.com, http allowed when the
/// configured API URL is http (local fakes, proxies).
pub fn connector(api_url: &str) -> std::io::Result<Connector> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?;
    let https = if api_url.starts_with("http://") {
        builder.https_or_http().enable_http1().build()
    } else {
        builder.https_only().enable_http1().build()
    };
    Ok(SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url))
}

/// Slack Web API implementation of [`ChatSink`].
pub struct SlackSink {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    progress: Progress,
    reaction: String,
    max_retries: u32,
    max_wait: Duration,
}

impl SlackSink {
    /// A sink for `config` (API URL, token, retry and progress settings).
    pub fn new(config: &SlackConfig) -> std::io::Result<Self> {
        Ok(Self {
            client: Arc::new(SlackClient::new(connector(&config.api_url)?)),
            token: SlackApiToken::new(config.bot_token.expose().into()),
            progress: config.progress,
            reaction: config.progress_reaction.clone(),
            max_retries: config.max_retries,
            max_wait: config.max_retry_wait,
        })
    }

    /// The underlying client (Socket Mode shares it).
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    /// The bot token (for other Slack readers such as identity lookups).
    pub fn token(&self) -> &SlackApiToken {
        &self.token
    }

    /// Retry settings: (max retries after 429, longest wait).
    pub fn retry_policy(&self) -> (u32, Duration) {
        (self.max_retries, self.max_wait)
    }

    async fn call<T, F, Fut>(&self, method: &'static str, f: F) -> Result<T, ChatError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        with_retries(self.max_retries, self.max_wait, method, f).await
    }
}

/// Runs a Slack call, retrying HTTP 429 after `Retry-After` (at most `max_retries` times,
/// each wait capped at `max_wait`), and maps errors to [`ChatError`].
pub async fn with_retries<T, F, Fut>(
    max_retries: u32,
    max_wait: Duration,
    method: &'static str,
    f: F,
) -> Result<T, ChatError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    let mut retries = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(SlackClientError::RateLimitError(e)) => {
                if retries >= max_retries {
                    return Err(ChatError::RateLimited { method, retries });
                }
                retries += 1;
                let wait = e
                    .retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(max_wait);
                tracing::info!(
                    method,
                    retry = retries,
                    wait_secs = wait.as_secs(),
                    "slack rate limited; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Err(SlackClientError::ApiError(e)) => {
                return Err(ChatError::Api {
                    method,
                    code: e.code,
                });
            }
            Err(e) => {
                return Err(ChatError::Transport {
                    method,
                    detail: transport_detail(&e),
                });
            }
        }
    }
}

fn transport_detail(e: &SlackClientError) -> String {
    match e {
        SlackClientError::HttpError(h) => format!("HTTP {}", h.status_code),
        other => {
            // Error texts can echo response bodies; keep them short.
            let s = other.to_string();
            s.chars().take(200).collect()
        }
    }
}

/// What a `response_url` accepts (Slack: "Handling user interaction").
#[derive(serde::Serialize)]
struct ResponseUrlBody<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [serde_json::Value],
    response_type: &'static str,
    replace_original: bool,
}

fn content(message: &OutMessage) -> SlackMessageContent {
    let blocks: Vec<SlackBlock> = message
        .blocks
        .iter()
        .filter_map(|b| serde_json::from_value(b.clone()).ok())
        .collect();
    let content = SlackMessageContent::new().with_text(message.text.clone());
    if blocks.is_empty() {
        content
    } else {
        content.with_blocks(blocks)
    }
}

#[async_trait]
impl ChatSink for SlackSink {
    async fn post(&self, thread: &ThreadRef, message: &OutMessage) -> Result<String, ChatError> {
        let req =
            SlackApiChatPostMessageRequest::new(thread.channel.clone().into(), content(message))
                .with_thread_ts(thread.thread_ts.clone().into());
        let res = self
            .call("chat.postMessage", || async {
                self.client
                    .open_session(&self.token)
                    .chat_post_message(&req)
                    .await
            })
            .await?;
        Ok(res.ts.to_string())
    }

    async fn respond(
        &self,
        response_url: &str,
        message: &OutMessage,
        visibility: Visibility,
    ) -> Result<(), ChatError> {
        let url: url::Url = response_url.parse().map_err(|_| ChatError::Transport {
            method: "response_url",
            detail: "response_url is not a URL".into(),
        })?;
        let body = ResponseUrlBody {
            text: &message.text,
            blocks: &message.blocks,
            response_type: match visibility {
                Visibility::Ephemeral => "ephemeral",
                Visibility::InChannel => "in_channel",
            },
            replace_original: false,
        };
        let span = tracing::Span::current();
        self.call("response_url", || async {
            let context = SlackClientApiCallContext {
                rate_control_params: None,
                token: None,
                tracing_span: &span,
                is_sensitive_url: true,
            };
            self.client
                .http_api
                .connector
                .http_post_uri::<_, serde_json::Value>(url.clone(), &body, context)
                .await
        })
        .await?;
        Ok(())
    }

    async fn upload(&self, thread: &ThreadRef, file: &OutFile) -> Result<(), ChatError> {
        let get = SlackApiFilesGetUploadUrlExternalRequest::new(
            file.filename.clone(),
            file.content.len(),
        );
        let slot = self
            .call("files.getUploadURLExternal", || async {
                self.client
                    .open_session(&self.token)
                    .get_upload_url_external(&get)
                    .await
            })
            .await?;
        let put = SlackApiFilesUploadViaUrlRequest::new(
            slot.upload_url.clone(),
            file.content.clone().into_bytes(),
            "text/markdown".into(),
        );
        self.call("files.upload(url)", || async {
            self.client
                .open_session(&self.token)
                .files_upload_via_url(&put)
                .await
        })
        .await?;
        let complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(slot.file_id.clone()).with_title(file.title.clone()),
        ])
        .with_channel_id(thread.channel.clone().into())
        .with_thread_ts(thread.thread_ts.clone().into())
        .with_initial_comment(file.comment.clone());
        self.call("files.completeUploadExternal", || async {
            self.client
                .open_session(&self.token)
                .files_complete_upload_external(&complete)
                .await
        })
        .await?;
        Ok(())
    }

    async fn progress(
        &self,
        at: &MessageRef,
        thread: &ThreadRef,
        on: bool,
    ) -> Result<(), ChatError> {
        match self.progress {
            Progress::None => Ok(()),
            Progress::Reaction => {
                let name = SlackReactionName(self.reaction.clone());
                if on {
                    let req = SlackApiReactionsAddRequest::new(
                        at.channel.clone().into(),
                        name,
                        at.ts.clone().into(),
                    );
                    self.call("reactions.add", || async {
                        self.client
                            .open_session(&self.token)
                            .reactions_add(&req)
                            .await
                    })
                    .await?;
                } else {
                    let req = SlackApiReactionsRemoveRequest::new(name)
                        .with_channel(at.channel.clone().into())
                        .with_timestamp(at.ts.clone().into());
                    self.call("reactions.remove", || async {
                        self.client
                            .open_session(&self.token)
                            .reactions_remove(&req)
                            .await
                    })
                    .await?;
                }
                Ok(())
            }
            Progress::AssistantStatus => {
                let status = if on { "is looking into it..." } else { "" };
                let req = SlackApiAssistantThreadsSetStatusRequest::new(
                    thread.channel.clone().into(),
                    status.into(),
                    thread.thread_ts.clone().into(),
                );
                self.call("assistant.threads.setStatus", || async {
                    self.client
                        .open_session(&self.token)
                        .assistant_threads_set_status(&req)
                        .await
                })
                .await?;
                Ok(())
            }
        }
    }

    async fn identity(&self) -> Result<BotIdentity, ChatError> {
        let res = self
            .call("auth.test", || async {
                self.client.open_session(&self.token).auth_test().await
            })
            .await?;
        Ok(BotIdentity {
            user_id: res.user_id.to_string(),
            team_id: res.team_id.to_string(),
        })
    }
}
