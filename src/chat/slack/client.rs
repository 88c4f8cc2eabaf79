//! [`SlackSink`]: the core's [`ChatSink`] over slack-morphism's Web API client.
//!
//! Renders each [`Answer`] with [`super::render`] and delivers it where the [`Target`] says:
//! a thread (`chat.postMessage` with `thread_ts`), a new top-level channel message, a slash
//! command's `response_url` (ephemeral or in channel), or `chat.postEphemeral`. Files go up
//! with `files.getUploadURLExternal` + `files.completeUploadExternal`. Every post sets
//! `unfurl_links` and `unfurl_media` to false, so Slack fetches no URL it contains. A slash
//! command's claimed DM is confirmed in [`super::dm`]. Every call retries HTTP
//! 429 through [`crate::retry`] after Slack's `Retry-After`. The Web API base URL is
//! configurable (`slack.api_url`) so tests and proxies can stand in for slack.com.

use super::render::{self, OutFile, OutMessage};
use super::settings::{ProgressStyle, SlackSettings};
use crate::chat::{Asked, ChatError, ChatSink, ProgressUpdate};
use crate::core::answer::{Answer, Target};
use crate::core::inbound::{Inbound, Place};
use crate::retry::{Attempt, RetryPolicy};
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

/// The bot's own identity in the workspace (`auth.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's user id (its mentions look like `<@U...>`).
    pub user_id: String,
    /// Workspace id.
    pub team_id: String,
}

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

/// Runs a Slack call through [`crate::retry::run`]: HTTP 429 is retried after `Retry-After`;
/// other errors map to [`ChatError`] at once.
pub async fn slack_call<T, F, Fut>(
    policy: RetryPolicy,
    method: &'static str,
    f: F,
) -> Result<T, ChatError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    let f = &f;
    crate::retry::run(policy, method, move || async move {
        match f().await {
            Ok(v) => Attempt::Done(Ok(v)),
            Err(SlackClientError::RateLimitError(e)) => Attempt::Retry {
                after: e.retry_after,
                error: ChatError::RateLimited {
                    method,
                    retries: policy.max_retries,
                },
            },
            Err(SlackClientError::ApiError(e)) => Attempt::Done(Err(ChatError::Api {
                method,
                code: e.code,
            })),
            Err(e) => Attempt::Done(Err(ChatError::Transport {
                method,
                detail: transport_detail(&e),
            })),
        }
    })
    .await
}

fn transport_detail(e: &SlackClientError) -> String {
    match e {
        SlackClientError::HttpError(h) => format!("HTTP {}", h.status_code),
        // Error texts can echo response bodies; keep them short.
        other => other.to_string().chars().take(200).collect(),
    }
}

/// Slack Web API implementation of [`ChatSink`].
pub struct SlackSink {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    progress: ProgressStyle,
    reaction: String,
    retry: RetryPolicy,
    /// Which claimed DMs are the bot's own (see [`super::dm`]).
    dms: super::dm::DmCache,
}

/// What a `response_url` accepts (Slack: "Handling user interaction").
#[derive(serde::Serialize)]
struct ResponseUrlBody<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [serde_json::Value],
    response_type: &'static str,
    replace_original: bool,
    unfurl_links: bool,
    unfurl_media: bool,
}

/// `chat.postEphemeral` with the unfurl flags every post of the bot carries.
#[derive(serde::Serialize)]
struct EphemeralBody<'a> {
    #[serde(flatten)]
    request: &'a SlackApiChatPostEphemeralRequest,
    unfurl_links: bool,
    unfurl_media: bool,
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

/// Files can't be shared privately: say so, with the file's preview if it has one.
fn private_notice(file: &OutFile) -> OutMessage {
    let mut text = file.comment.clone().unwrap_or_default();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "_`{}` can't be shared privately here; ask me in a direct message to get it as a file._",
        render::escape(&file.filename)
    ));
    render::message(&render::split_sections(&text, render::SECTION_MAX))
}

impl SlackSink {
    /// A sink for `settings` (API URL, token, retry and progress settings).
    pub fn new(settings: &SlackSettings) -> std::io::Result<Self> {
        Ok(Self {
            client: Arc::new(SlackClient::new(connector(&settings.api_url)?)),
            token: SlackApiToken::new(settings.bot_token.expose().into()),
            progress: settings.progress,
            reaction: settings.progress_reaction.clone(),
            retry: settings.retry,
            dms: super::dm::DmCache::default(),
        })
    }

    /// The cache of confirmed direct messages.
    pub(super) fn dms(&self) -> &super::dm::DmCache {
        &self.dms
    }

    /// The underlying client (Socket Mode and identity lookups share it).
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    /// The bot token (for other Slack readers such as identity lookups).
    pub fn token(&self) -> &SlackApiToken {
        &self.token
    }

    /// The retry policy for 429s.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    async fn call<T, F, Fut>(&self, method: &'static str, f: F) -> Result<T, ChatError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        slack_call(self.retry, method, f).await
    }

    /// Who the bot is (`auth.test`); proves the token works.
    pub async fn identity(&self) -> Result<BotIdentity, ChatError> {
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

    async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        message: &OutMessage,
        marker: Option<&str>,
    ) -> Result<String, ChatError> {
        let mut content = content(message);
        if let Some(m) = marker {
            content = content.with_metadata(super::history::metadata(m));
        }
        // Slack fetches every URL in a post to unfurl it: never, for text the model wrote.
        let mut req = SlackApiChatPostMessageRequest::new(channel.to_string().into(), content)
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        if let Some(ts) = thread_ts {
            req = req.with_thread_ts(ts.to_string().into());
        }
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

    async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        message: &OutMessage,
    ) -> Result<(), ChatError> {
        let mut req = SlackApiChatPostEphemeralRequest::new(
            channel.to_string().into(),
            user.to_string().into(),
            content(message),
        );
        if let Some(ts) = thread_ts {
            req = req.with_thread_ts(ts.to_string().into());
        }
        let body = EphemeralBody {
            request: &req,
            unfurl_links: false,
            unfurl_media: false,
        };
        self.call("chat.postEphemeral", || async {
            self.client
                .open_session(&self.token)
                .http_session_api
                .http_post::<_, SlackApiChatPostEphemeralResponse>(
                    "chat.postEphemeral",
                    &body,
                    None,
                )
                .await
        })
        .await?;
        Ok(())
    }

    async fn respond(
        &self,
        response_url: &str,
        message: &OutMessage,
        in_channel: bool,
    ) -> Result<(), ChatError> {
        let url: url::Url = response_url.parse().map_err(|_| ChatError::Transport {
            method: "response_url",
            detail: "response_url is not a URL".into(),
        })?;
        let body = ResponseUrlBody {
            text: &message.text,
            blocks: &message.blocks,
            response_type: if in_channel {
                "in_channel"
            } else {
                "ephemeral"
            },
            replace_original: false,
            unfurl_links: false,
            unfurl_media: false,
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

    async fn upload(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        file: &OutFile,
    ) -> Result<(), ChatError> {
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
            file.mime.into(),
        );
        self.call("files.upload(url)", || async {
            self.client
                .open_session(&self.token)
                .files_upload_via_url(&put)
                .await
        })
        .await?;
        let mut complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(slot.file_id.clone()).with_title(file.title.clone()),
        ])
        .with_channel_id(channel.to_string().into());
        if let Some(ts) = thread_ts {
            complete = complete.with_thread_ts(ts.to_string().into());
        }
        if let Some(c) = &file.comment {
            complete = complete.with_initial_comment(c.clone());
        }
        self.call("files.completeUploadExternal", || async {
            self.client
                .open_session(&self.token)
                .files_complete_upload_external(&complete)
                .await
        })
        .await?;
        Ok(())
    }

    async fn set_status(&self, asked: &Asked, status: &str) -> Result<(), ChatError> {
        let Some(thread) = &asked.thread else {
            return Ok(());
        };
        let status: String = status.chars().take(100).collect();
        let req = SlackApiAssistantThreadsSetStatusRequest::new(
            thread.place.conversation.clone().into(),
            status,
            thread.root.clone().into(),
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

#[async_trait]
impl ChatSink for SlackSink {
    async fn send(&self, target: &Target, answer: &Answer) -> Result<Option<String>, ChatError> {
        let plan = render::plan(answer);
        match target {
            Target::Thread(t) => {
                let channel = &t.place.conversation;
                let mut first = None;
                for m in &plan.messages {
                    let ts = self.post(channel, Some(&t.root), m, None).await?;
                    first.get_or_insert(ts);
                }
                for f in &plan.files {
                    self.upload(channel, Some(&t.root), f).await?;
                }
                Ok(first)
            }
            Target::Channel {
                place,
                handle: None,
            } => {
                let channel = &place.conversation;
                let mut first: Option<String> = None;
                for m in &plan.messages {
                    // The marker goes on the post itself (not its thread replies).
                    let marker = answer.marker.as_deref().filter(|_| first.is_none());
                    let ts = self.post(channel, first.as_deref(), m, marker).await?;
                    first.get_or_insert(ts);
                }
                for f in &plan.files {
                    self.upload(channel, first.as_deref(), f).await?;
                }
                Ok(first)
            }
            Target::Channel {
                place,
                handle: Some(url),
            } => {
                for m in &plan.messages {
                    self.respond(url, m, true).await?;
                }
                for f in &plan.files {
                    // Sharing a file needs the bot in the channel; say so if it isn't.
                    if let Err(e) = self.upload(&place.conversation, None, f).await {
                        tracing::warn!(error = %e, "file not shared in the channel; answering with its preview");
                        let mut notice = private_notice(f);
                        notice.text = render::escape(&f.filename);
                        self.respond(url, &notice, true).await?;
                    }
                }
                Ok(None)
            }
            Target::Private {
                place,
                user,
                thread,
                handle,
            } => {
                let notices: Vec<OutMessage> = plan.files.iter().map(private_notice).collect();
                for m in plan.messages.iter().chain(&notices) {
                    match handle {
                        Some(url) => self.respond(url, m, false).await?,
                        None => {
                            let ts = thread.as_ref().map(|t| t.root.as_str());
                            self.ephemeral(&place.conversation, &user.id, ts, m).await?
                        }
                    }
                }
                Ok(None)
            }
        }
    }

    async fn confirm_place(&self, inbound: &Inbound) -> Place {
        self.confirmed_place(inbound).await
    }

    async fn find_post(
        &self,
        place: &Place,
        marker: &str,
        since: i64,
    ) -> Result<Option<String>, ChatError> {
        self.find_marked(&place.conversation, marker, since).await
    }

    async fn progress(&self, asked: &Asked, update: ProgressUpdate) -> Result<(), ChatError> {
        match self.progress {
            ProgressStyle::None => Ok(()),
            ProgressStyle::Reaction => {
                let Some(ts) = &asked.message else {
                    return Ok(());
                };
                let name = SlackReactionName(self.reaction.clone());
                let channel = asked.place.conversation.clone();
                match update {
                    ProgressUpdate::Started => {
                        let req = SlackApiReactionsAddRequest::new(
                            channel.into(),
                            name,
                            ts.clone().into(),
                        );
                        self.call("reactions.add", || async {
                            self.client
                                .open_session(&self.token)
                                .reactions_add(&req)
                                .await
                        })
                        .await?;
                    }
                    ProgressUpdate::Status(_) => {}
                    ProgressUpdate::Done => {
                        let req = SlackApiReactionsRemoveRequest::new(name)
                            .with_channel(channel.into())
                            .with_timestamp(ts.clone().into());
                        self.call("reactions.remove", || async {
                            self.client
                                .open_session(&self.token)
                                .reactions_remove(&req)
                                .await
                        })
                        .await?;
                    }
                }
                Ok(())
            }
            ProgressStyle::AssistantStatus => match update {
                ProgressUpdate::Started => self.set_status(asked, "is looking into it...").await,
                ProgressUpdate::Status(s) => self.set_status(asked, &s).await,
                ProgressUpdate::Done => self.set_status(asked, "").await,
            },
        }
    }
}

/// How long `auth.test` retries back off at most while waiting for a working token.
pub const AUTH_BACKOFF_MAX: Duration = Duration::from_secs(30);
