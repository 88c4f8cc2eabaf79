//! [`TeamsSink`]: the core's [`ChatSink`] for Teams.
//!
//! Answers are rendered by [`super::card`] and delivered where the [`Target`] says:
//! - a thread: into the channel thread (`19:…;messageid=<root>`) or the chat;
//! - a channel: a new post created proactively from the conversation reference, with the rest
//!   of the answer (continuation cards, CSV) in the post's thread; returns the post's id;
//! - privately: in a personal chat, there; elsewhere in a personal chat the bot opens with the
//!   person (Teams has no ephemeral messages), with a short notice in the thread. If Teams
//!   will not open one (the person has not installed the app), only the notice is posted:
//!   nothing private ever lands in the channel.
//!
//! Progress is an "I'm on it" reply updated as the work goes and deleted when it is done, or
//! the typing indicator (`teams.progress`).

use super::card;
use super::connector::Connector;
use super::refs::{References, thread_conversation};
use super::settings::TeamsProgress;
use crate::chat::{Asked, ChatError, ChatSink, ProgressUpdate};
use crate::core::answer::{Answer, Target};
use crate::core::inbound::{ChatUser, Place, PlaceKind, ThreadKey};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Status updates closer together than this are skipped (each costs a connector call).
pub const STATUS_EVERY: Duration = Duration::from_secs(2);

/// A progress message on screen.
#[derive(Clone)]
struct Shown {
    service_url: String,
    conversation: String,
    id: Option<String>,
    last: Instant,
}

/// Teams implementation of [`ChatSink`].
pub struct TeamsSink {
    connector: Arc<Connector>,
    refs: Arc<References>,
    shown: moka::sync::Cache<String, Shown>,
}

fn unknown(place: &Place) -> ChatError {
    ChatError::Api {
        method: "find conversation",
        code: format!(
            "no conversation reference for {}: add the opsbot app to that team or chat (or @mention it there once), or set teams.service_url",
            place.key()
        ),
    }
}

impl TeamsSink {
    /// A sink calling `connector`, finding conversations in `refs`.
    pub fn new(connector: Arc<Connector>, refs: Arc<References>) -> Self {
        Self {
            connector,
            refs,
            shown: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    /// The connector (people lookups share it).
    pub fn connector(&self) -> &Arc<Connector> {
        &self.connector
    }

    async fn service_url(&self, place: &Place) -> Result<(String, Option<String>), ChatError> {
        let settings = self.connector.settings();
        match self.refs.conversation_in(place, &settings.tenant_id).await {
            Some(r) => Ok((r.service_url, r.tenant)),
            None => match &settings.service_url {
                Some(u) => Ok((u.clone(), Some(settings.tenant_id.clone()))),
                None => Err(unknown(place)),
            },
        }
    }

    /// Sends every activity into `conversation`; returns the first id.
    async fn send_all(
        &self,
        service_url: &str,
        conversation: &str,
        activities: &[Value],
    ) -> Result<Option<String>, ChatError> {
        let mut first = None;
        for a in activities {
            let id = self.connector.send(service_url, conversation, a).await?;
            first = first.or(id);
        }
        Ok(first)
    }

    async fn to_thread(&self, t: &ThreadKey, answer: &Answer) -> Result<Option<String>, ChatError> {
        let (service_url, _) = self.service_url(&t.place).await?;
        let conversation = thread_conversation(&t.place, Some(&t.root));
        self.send_all(&service_url, &conversation, &card::render(answer))
            .await
    }

    async fn new_post(&self, place: &Place, answer: &Answer) -> Result<Option<String>, ChatError> {
        let (service_url, tenant) = self.service_url(place).await?;
        let activities = card::render(answer);
        if place.kind != PlaceKind::Channel {
            return self
                .send_all(&service_url, &place.conversation, &activities)
                .await;
        }
        let Some((first, rest)) = activities.split_first() else {
            return Ok(None);
        };
        let tenant = tenant.unwrap_or_else(|| self.connector.settings().tenant_id.clone());
        let created = self
            .connector
            .create(
                &service_url,
                &json!({
                    "isGroup": true,
                    "channelData": {"channel": {"id": place.conversation}, "tenant": {"id": tenant}},
                    "tenantId": tenant,
                    "activity": first,
                }),
            )
            .await?;
        let post = created.activity_id.clone().or_else(|| {
            super::activity::split_thread(&created.id)
                .1
                .map(str::to_string)
        });
        let thread = match &post {
            Some(p) => thread_conversation(place, Some(p)),
            None => created.id.clone(),
        };
        self.send_all(&service_url, &thread, rest).await?;
        Ok(post)
    }

    async fn private(
        &self,
        place: &Place,
        user: &ChatUser,
        thread: Option<&ThreadKey>,
        answer: &Answer,
    ) -> Result<Option<String>, ChatError> {
        let here = thread_conversation(place, thread.map(|t| t.root.as_str()));
        if place.kind == PlaceKind::Dm {
            let (service_url, _) = self.service_url(place).await?;
            return self
                .send_all(&service_url, &here, &card::render(answer))
                .await;
        }
        let Some(person) = self.refs.user(&user.id) else {
            return Err(ChatError::Api {
                method: "create conversation",
                code: "the person has not been seen recently; ask them to message the bot".into(),
            });
        };
        let tenant = person
            .tenant
            .clone()
            .unwrap_or_else(|| self.connector.settings().tenant_id.clone());
        let opened = self
            .connector
            .create(
                &person.service_url,
                &json!({
                    "isGroup": false,
                    "bot": {"id": format!("28:{}", self.connector.settings().app_id)},
                    "members": [{"id": person.teams_id}],
                    "channelData": {"tenant": {"id": tenant}},
                    "tenantId": tenant,
                }),
            )
            .await;
        let name = person.name.clone().unwrap_or_else(|| "you".into());
        let notice = match opened {
            Ok(chat) => {
                self.send_all(&person.service_url, &chat.id, &card::render(answer))
                    .await?;
                format!("{name}: I've sent you the answer in our chat.")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a personal chat; the private reply is not posted here");
                format!(
                    "{name}: I can only answer that privately, and I can't open a chat with you yet. Add the {} app for yourself (Apps > {}), then ask me there.",
                    self.connector.settings().bot_name,
                    self.connector.settings().bot_name
                )
            }
        };
        self.connector
            .send(&person.service_url, &here, &card::notice(&notice))
            .await
    }

    fn shown_key(asked: &Asked) -> String {
        format!(
            "{}/{}",
            asked.place.key(),
            asked.message.as_deref().unwrap_or("-")
        )
    }
}

#[async_trait]
impl ChatSink for TeamsSink {
    /// A private reply from a channel or group chat already posts "I've sent you the answer
    /// in our chat" (or how to get it) where the person asked.
    fn private_leaves_notice(&self) -> bool {
        true
    }

    async fn send(&self, target: &Target, answer: &Answer) -> Result<Option<String>, ChatError> {
        match target {
            Target::Thread(t) => self.to_thread(t, answer).await,
            Target::Channel { place, .. } => self.new_post(place, answer).await,
            Target::Private {
                place,
                user,
                thread,
                ..
            } => self.private(place, user, thread.as_ref(), answer).await,
        }
    }

    async fn progress(&self, asked: &Asked, update: ProgressUpdate) -> Result<(), ChatError> {
        let style = self.connector.settings().progress;
        if style == TeamsProgress::None {
            return Ok(());
        }
        let key = Self::shown_key(asked);
        let typing = json!({"type": "typing"});
        match update {
            ProgressUpdate::Started => {
                let (service_url, _) = self.service_url(&asked.place).await?;
                let conversation = thread_conversation(
                    &asked.place,
                    asked.thread.as_ref().map(|t| t.root.as_str()),
                );
                let id = match style {
                    TeamsProgress::Message => {
                        self.connector
                            .send(&service_url, &conversation, &card::status("Working on it…"))
                            .await?
                    }
                    _ => {
                        self.connector
                            .send(&service_url, &conversation, &typing)
                            .await?;
                        None
                    }
                };
                self.shown.insert(
                    key,
                    Shown {
                        service_url,
                        conversation,
                        id,
                        last: Instant::now(),
                    },
                );
            }
            ProgressUpdate::Status(text) => {
                let Some(s) = self.shown.get(&key) else {
                    return Ok(());
                };
                if s.last.elapsed() < STATUS_EVERY {
                    return Ok(());
                }
                self.shown.insert(
                    key,
                    Shown {
                        last: Instant::now(),
                        ..s.clone()
                    },
                );
                match &s.id {
                    Some(id) => {
                        self.connector
                            .update(&s.service_url, &s.conversation, id, &card::status(&text))
                            .await?
                    }
                    None => {
                        self.connector
                            .send(&s.service_url, &s.conversation, &typing)
                            .await?;
                    }
                }
            }
            ProgressUpdate::Done => {
                if let Some(s) = self.shown.remove(&key)
                    && let Some(id) = &s.id
                {
                    self.connector
                        .delete(&s.service_url, &s.conversation, id)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
