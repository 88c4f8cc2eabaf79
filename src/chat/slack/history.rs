//! Finding a scheduled post again: the post carries Slack message metadata
//! (`event_type: opsbot_scheduled_post`, `event_payload.marker`), and
//! `conversations.history` with `include_all_metadata` finds it. A replica that takes over an
//! expired claim on a run looks first, so a crash between posting and recording the run never
//! posts it twice.

use super::client::{SlackSink, slack_call};
use crate::chat::ChatError;
use slack_morphism::prelude::*;
use std::collections::HashMap;

/// The metadata event type of scheduled posts.
pub const EVENT_TYPE: &str = "opsbot_scheduled_post";
/// Messages read per page, and pages read at most, when looking for a post.
const PAGE: u16 = 200;
const MAX_PAGES: usize = 5;

/// The metadata a scheduled post carries.
pub fn metadata(marker: &str) -> SlackMessageMetadata {
    SlackMessageMetadata {
        event_type: EVENT_TYPE.into(),
        event_payload: Some(HashMap::from([("marker".to_string(), marker.to_string())])),
    }
}

impl SlackSink {
    /// The ts of the bot's post in `channel` since `since` (Unix seconds) carrying `marker`.
    pub async fn find_marked(
        &self,
        channel: &str,
        marker: &str,
        since: i64,
    ) -> Result<Option<String>, ChatError> {
        let client = self.client();
        let mut cursor: Option<SlackCursorId> = None;
        for _ in 0..MAX_PAGES {
            let req = SlackApiConversationsHistoryRequest::new()
                .with_channel(channel.to_string().into())
                .with_oldest(format!("{}.000000", since.max(0)).into())
                .with_limit(PAGE)
                .with_include_all_metadata(true)
                .opt_cursor(cursor.clone());
            let res = slack_call(self.retry(), "conversations.history", || async {
                client
                    .open_session(self.token())
                    .conversations_history(&req)
                    .await
            })
            .await?;
            let found = res.messages.iter().find(|m| {
                m.content.metadata.as_ref().is_some_and(|md| {
                    md.event_type == EVENT_TYPE
                        && md
                            .event_payload
                            .as_ref()
                            .and_then(|p| p.get("marker"))
                            .is_some_and(|v| v == marker)
                })
            });
            if let Some(m) = found {
                return Ok(Some(m.origin.ts.to_string()));
            }
            cursor = res
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }
}
