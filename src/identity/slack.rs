//! Slack as an identity source: profiles (`users.info`, scopes `users:read` and
//! `users:read.email`) and the `slack_usergroups` provider (`usergroups.list` with
//! `include_users=true`, scope `usergroups:read`). Many teams sync user groups from their IdP
//! with SCIM, so this needs no credentials beyond the bot token.

use super::{GroupDirectory, IdentityError, Person, Profiles, Standing};
use crate::cache::TtlCache;
use crate::chat::slack::client::{Connector, slack_call};
use crate::core::inbound::{ChatUser, Platform};
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Reads people and user groups from the Slack Web API.
#[derive(Clone)]
pub struct SlackDirectory {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    retry: RetryPolicy,
}

/// A Slack user's standing: deactivated (`deleted`), guest (`is_restricted` multi-channel,
/// `is_ultra_restricted` single-channel) or member.
pub fn standing(user: &SlackUser) -> Standing {
    if user.deleted == Some(true) {
        Standing::Deactivated
    } else if user.flags.is_restricted == Some(true) || user.flags.is_ultra_restricted == Some(true)
    {
        Standing::Guest
    } else {
        Standing::Member
    }
}

fn to_person(user: &SlackUser, team: Option<String>) -> Person {
    let profile = user.profile.as_ref();
    Person {
        user: ChatUser {
            platform: Platform::Slack,
            id: user.id.to_string(),
            team: team.or_else(|| user.team_id.as_ref().map(ToString::to_string)),
        },
        email: profile
            .and_then(|p| p.email.as_ref())
            .map(|e| e.0.to_lowercase()),
        handle: user.name.clone(),
        display_name: profile.and_then(|p| {
            p.display_name
                .clone()
                .filter(|d| !d.is_empty())
                .or(p.real_name.clone())
        }),
        standing: standing(user),
    }
}

impl SlackDirectory {
    /// A directory using the bot's client and token.
    pub fn new(
        client: Arc<SlackClient<Connector>>,
        token: SlackApiToken,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            client,
            token,
            retry,
        }
    }

    /// The Slack user with this email (`users.lookupByEmail`), for the terminal's `--as`.
    /// `Ok(None)` when Slack knows no such user.
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<ChatUser>, IdentityError> {
        let req = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_string()));
        match slack_call(self.retry, "users.lookupByEmail", || async {
            self.client
                .open_session(&self.token)
                .users_lookup_by_email(&req)
                .await
        })
        .await
        {
            Ok(res) => Ok(Some(to_person(&res.user, None).user)),
            Err(crate::chat::ChatError::Api { code, .. }) if code == "users_not_found" => Ok(None),
            Err(e) => Err(IdentityError::Profile {
                detail: e.to_string(),
            }),
        }
    }
}

#[async_trait]
impl Profiles for SlackDirectory {
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let req = SlackApiUsersInfoRequest::new(user.id.clone().into());
        let res = slack_call(self.retry, "users.info", || async {
            self.client.open_session(&self.token).users_info(&req).await
        })
        .await
        .map_err(|e| IdentityError::Profile {
            detail: e.to_string(),
        })?;
        Ok(to_person(&res.user, user.team.clone()))
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
        let res = slack_call(self.slack.retry, "usergroups.list", || async {
            self.slack
                .client
                .open_session(&self.slack.token)
                .usergroups_list(&req)
                .await
        })
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
        if person.user.platform != Platform::Slack {
            return Ok(Vec::new());
        }
        let all = self.list().await?;
        Ok(all
            .iter()
            .filter(|(_, users)| users.contains(&person.user.id))
            .map(|(handle, _)| handle.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(extra: serde_json::Value) -> SlackUser {
        let mut v = serde_json::json!({"id": "U1", "team_id": "T1", "name": "ana",
            "profile": {"email": "Ana@Example.com", "display_name": "", "real_name": "Ana L"}});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn deactivated_and_guests_are_told_apart_from_members() {
        let cases = [
            (serde_json::json!({}), Standing::Member),
            (
                serde_json::json!({"deleted": false, "is_restricted": false}),
                Standing::Member,
            ),
            (serde_json::json!({"deleted": true}), Standing::Deactivated),
            (
                serde_json::json!({"deleted": true, "is_restricted": true}),
                Standing::Deactivated,
            ),
            (serde_json::json!({"is_restricted": true}), Standing::Guest),
            (
                serde_json::json!({"is_restricted": true, "is_ultra_restricted": true}),
                Standing::Guest,
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(standing(&user(extra.clone())), want, "{extra}");
        }
        let p = to_person(&user(serde_json::json!({})), None);
        assert_eq!(p.email.as_deref(), Some("ana@example.com"));
        assert_eq!(p.display_name.as_deref(), Some("Ana L"));
        assert_eq!(p.user.team.as_deref(), Some("T1"));
    }
}
