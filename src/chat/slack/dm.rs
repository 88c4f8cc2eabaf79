//! Is this the bot's own direct message with the person?
//!
//! A slash command says `channel_name = "directmessage"` for *any* one-to-one DM, also one
//! between two people where the other person reads every reply (and `mpdm-…` for group DMs).
//! So a slash command's DM is confirmed with `conversations.info` (bot token, scope
//! `im:read`): only an IM the bot is part of is visible to it (`is_im: true`), and its `user`
//! is the other party, which must be the sender; a DM between two people answers
//! `channel_not_found`. Answers are cached per (user, channel), bounded; any error counts as
//! "not the bot's DM" (fail closed), and only definite answers are cached. Messages from the
//! Events API need no check: Slack sends `message.im` only for the bot's own IMs.

use super::client::{SlackSink, slack_call};
use crate::chat::ChatError;
use crate::core::inbound::{Inbound, Place, PlaceKind};
use moka::sync::Cache;
use serde::Deserialize;
use std::time::Duration;

/// Most (user, channel) answers kept.
pub const CACHE_ENTRIES: u64 = 10_000;
/// How long an answer is kept.
pub const CACHE_TTL: Duration = Duration::from_secs(600);

/// Cached answers: (user id, channel id) -> whether it is the bot's DM with that user.
pub struct DmCache(Cache<(String, String), bool>);

impl Default for DmCache {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .time_to_live(CACHE_TTL)
                .build(),
        )
    }
}

#[derive(Deserialize)]
struct InfoResponse {
    channel: InfoChannel,
}

/// The fields of a conversation object the check reads (Slack's IM object: `is_im`, `user`).
#[derive(Deserialize)]
struct InfoChannel {
    #[serde(default)]
    is_im: bool,
    user: Option<String>,
}

impl SlackSink {
    /// Whether `channel` is the bot's own IM with `user` (cached; errors are not cached).
    pub async fn is_own_dm(&self, user: &str, channel: &str) -> Result<bool, ChatError> {
        let key = (user.to_string(), channel.to_string());
        if let Some(known) = self.dms().0.get(&key) {
            return Ok(known);
        }
        let client = self.client();
        let params = vec![("channel", Some(channel))];
        let info = slack_call(self.retry(), "conversations.info", || async {
            client
                .open_session(self.token())
                .http_session_api
                .http_get::<InfoResponse, _, _>("conversations.info", &params, None)
                .await
        })
        .await;
        let own = match info {
            Ok(r) => r.channel.is_im && r.channel.user.as_deref() == Some(user),
            // A DM the bot is not in is `channel_not_found`: a definite no.
            Err(ChatError::Api { code, .. }) => {
                if code != "channel_not_found" {
                    tracing::warn!(
                        code,
                        "conversations.info refused; is `im:read` among the app's scopes (manifests/)?"
                    );
                }
                false
            }
            Err(e) => return Err(e),
        };
        self.dms().0.insert(key, own);
        Ok(own)
    }

    /// The place a slash command came from: a claimed DM stays one only when it is the bot's
    /// own with the sender; otherwise a conversation between people ([`PlaceKind::Group`]).
    pub async fn confirmed_place(&self, inbound: &Inbound) -> Place {
        let place = inbound.place.clone();
        if place.kind != PlaceKind::Dm || inbound.handle.is_none() {
            return place;
        }
        let own = match self.is_own_dm(&inbound.who.id, &place.conversation).await {
            Ok(own) => own,
            Err(e) => {
                tracing::warn!(error = %e, channel = %place.conversation, "cannot check the direct message; answering as in a conversation between people");
                false
            }
        };
        if own {
            place
        } else {
            Place {
                kind: PlaceKind::Group,
                ..place
            }
        }
    }
}
