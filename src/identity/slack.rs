//! Slack as an identity source: profiles (`users.info`, scopes `users:read` and
//! `users:read.email`) and the `slack_usergroups` provider (`usergroups.list` with
//! `include_users=true`, scope `usergroups:read`). Many teams sync user groups from their IdP
//! with SCIM, so this needs no credentials beyond the bot token.

use super::{GroupDirectory, IdentityError, Person, Profiles};
use crate::cache::TtlCache;
use crate::chat::slack::client::{Connector, with_retries};
use async_trait::async_trait;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Reads people and user groups from the Slack Web API.
#[derive(Clone)]
pub struct SlackDirectory {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    retries: (u32, Duration),
}

impl SlackDirectory {
    /// A directory using the bot's client and token.
    pub fn new(
        client: Arc<SlackClient<Connector>>,
        token: SlackApiToken,
        retries: (u32, Duration),
    ) -> Self {
        Self {
            client,
            token,
            retries,
        }
    }
}

#[async_trait]
impl Profiles for SlackDirectory {
    async fn person(&self, slack_id: &str) -> Result<Person, IdentityError> {
        let req = SlackApiUsersInfoRequest::new(slack_id.to_string().into());
        let res = with_retries(self.retries.0, self.retries.1, "users.info", || async {
            self.client.open_session(&self.token).users_info(&req).await
        })
        .await
        .map_err(|e| IdentityError::Profile {
            detail: e.to_string(),
        })?;
        let profile = res.user.profile.as_ref();
        Ok(Person {
            slack_id: slack_id.to_string(),
            email: profile
                .and_then(|p| p.email.as_ref())
                .map(|e| e.0.to_lowercase()),
            handle: res.user.name.clone(),
            display_name: profile.and_then(|p| {
                p.display_name
                    .clone()
                    .filter(|d| !d.is_empty())
                    .or(p.real_name.clone())
            }),
        })
    }
}

/// Every user group: (handle, member ids).
type Memberships = Arc<Vec<(String, Vec<String>)>>;

/// The `slack_usergroups` provider: the user groups (by handle) a person belongs to.
pub struct SlackUserGroups {
    slack: SlackDirectory,
    /// The whole membership list, fetched once per TTL (one API call for everyone).
    snapshot: TtlCache<Memberships>,
}

impl SlackUserGroups {
    /// A provider caching the group list for `ttl`.
    pub fn new(slack: SlackDirectory, ttl: Duration) -> Self {
        Self {
            slack,
            snapshot: TtlCache::new(ttl, 1),
        }
    }

    async fn list(&self) -> Result<Memberships, IdentityError> {
        if let Some(s) = self.snapshot.get("all") {
            return Ok(s);
        }
        let req = SlackApiUserGroupsListRequest::new().with_include_users(true);
        let res = with_retries(
            self.slack.retries.0,
            self.slack.retries.1,
            "usergroups.list",
            || async {
                self.slack
                    .client
                    .open_session(&self.slack.token)
                    .usergroups_list(&req)
                    .await
            },
        )
        .await
        .map_err(|e| IdentityError::Provider {
            provider: "Slack user groups",
            detail: e.to_string(),
        })?;
        let groups: Vec<(String, Vec<String>)> = res
            .usergroups
            .into_iter()
            // Disabled groups are excluded by usergroups.list unless include_disabled is set.
            .map(|g| {
                (
                    g.handle,
                    g.users
                        .unwrap_or_default()
                        .into_iter()
                        .map(|u| u.to_string())
                        .collect(),
                )
            })
            .collect();
        let groups = Arc::new(groups);
        self.snapshot.insert("all", groups.clone());
        Ok(groups)
    }
}

#[async_trait]
impl GroupDirectory for SlackUserGroups {
    fn name(&self) -> &'static str {
        "Slack user groups"
    }

    async fn groups(&self, person: &Person) -> Result<Vec<String>, IdentityError> {
        let all = self.list().await?;
        Ok(all
            .iter()
            .filter(|(_, users)| users.contains(&person.slack_id))
            .map(|(handle, _)| handle.clone())
            .collect())
    }
}
