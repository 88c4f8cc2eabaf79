//! Slack as an identity source: profiles (`users.info`, scopes `users:read` and
//! `users:read.email`) and the `slack_usergroups` provider (`usergroups.list` with
//! `include_users=true`, scope `usergroups:read`). Many teams sync user groups from their IdP
//! with SCIM, so this needs no credentials beyond the bot token. User groups are keyed
//! `slack:<user group id>` (`S0123ABCD`); their handle is only shown.
//!
//! **Ours or a stranger.** "Ours" is the workspace the bot is installed in: the `team_id` (and,
//! on Enterprise Grid, the `enterprise_id`) `auth.test` reports, plus `slack.trusted_teams`.
//! A user whose `users.info` says `is_stranger` (Slack sets it for people of a foreign
//! workspace in a shared channel), or whose `team_id` and `enterprise_user.enterprise_id` are
//! both not ours, is a [`Standing::Stranger`]: their email is asserted by their own
//! organisation and never looks up our groups.

use super::group::{Group, Kind};
use super::{GroupDirectory, IdentityError, Person, Profiles, Standing};
use crate::cache::TtlCache;
use crate::chat::slack::client::{Connector, slack_call};
use crate::core::inbound::{ChatUser, Platform};
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use serde::Deserialize;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Reads people and user groups from the Slack Web API.
#[derive(Clone)]
pub struct SlackDirectory {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    retry: RetryPolicy,
    /// Our workspace (and enterprise), from `auth.test`, read once.
    home: Arc<OnceCell<Home>>,
    /// `slack.trusted_teams`: other team (`T…`) or enterprise (`E…`) ids counted as ours.
    trusted: Arc<Vec<String>>,
}

/// The workspace the bot is installed in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Home {
    /// Workspace id (`T…`).
    pub team_id: String,
    /// Enterprise Grid organisation id (`E…`), when the workspace is part of one.
    #[serde(default)]
    pub enterprise_id: Option<String>,
}

/// Whether `user` belongs to our organisation: their team is ours or trusted, or (Enterprise
/// Grid) their enterprise is. `is_stranger` means another workspace unless it is trusted.
pub fn is_ours(user: &SlackUser, home: &Home, trusted: &[String]) -> bool {
    let team = user.team_id.as_ref().map(|t| t.0.as_str());
    let enterprise = user
        .enterprise_user
        .as_ref()
        .map(|e| e.enterprise_id.0.as_str());
    let listed = |id: Option<&str>| id.is_some_and(|id| trusted.iter().any(|t| t == id));
    if listed(team) || listed(enterprise) {
        return true;
    }
    if user.flags.is_stranger == Some(true) {
        return false;
    }
    team == Some(home.team_id.as_str())
        || (home.enterprise_id.is_some() && enterprise == home.enterprise_id.as_deref())
}

/// A Slack user's standing: deactivated (`deleted`), stranger (not of our organisation, see
/// [`is_ours`]), guest (`is_restricted` multi-channel, `is_ultra_restricted` single-channel)
/// or member.
pub fn standing(user: &SlackUser, home: &Home, trusted: &[String]) -> Standing {
    if user.deleted == Some(true) {
        Standing::Deactivated
    } else if !is_ours(user, home, trusted) {
        Standing::Stranger
    } else if user.flags.is_restricted == Some(true) || user.flags.is_ultra_restricted == Some(true)
    {
        Standing::Guest
    } else {
        Standing::Member
    }
}

fn to_person(user: &SlackUser, team: Option<String>, standing: Standing) -> Person {
    let profile = user.profile.as_ref();
    let own_team = user.team_id.as_ref().map(ToString::to_string);
    // A stranger's session is tagged with their own team, never ours.
    let team = if standing == Standing::Stranger {
        own_team
    } else {
        team.or(own_team)
    };
    Person {
        user: ChatUser {
            platform: Platform::Slack,
            id: user.id.to_string(),
            team,
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
        standing,
    }
}

/// `auth.test` as far as we read it (slack-morphism's type has no `enterprise_id`).
#[derive(Deserialize)]
struct AuthTest {
    #[serde(flatten)]
    home: Home,
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
            home: Arc::default(),
            trusted: Arc::default(),
        }
    }

    /// Also counts these team (`T…`) or Enterprise Grid (`E…`) ids as ours
    /// (`slack.trusted_teams`).
    pub fn with_trusted_teams(mut self, trusted: Vec<String>) -> Self {
        self.trusted = Arc::new(trusted);
        self
    }

    /// Our workspace, from `auth.test` (read once; a failure is retried next time).
    pub async fn home(&self) -> Result<Home, IdentityError> {
        let home = self
            .home
            .get_or_try_init(|| async {
                let params: Vec<(&str, Option<String>)> = Vec::new();
                let res: AuthTest = slack_call(self.retry, "auth.test", || async {
                    self.client
                        .open_session(&self.token)
                        .http_session_api
                        .http_get("auth.test", &params, None)
                        .await
                })
                .await
                .map_err(|e| IdentityError::Profile {
                    detail: format!("auth.test (which workspace is ours) failed: {e}"),
                })?;
                Ok::<_, IdentityError>(res.home)
            })
            .await?;
        Ok(home.clone())
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
            Ok(res) => Ok(Some(to_person(&res.user, None, Standing::Member).user)),
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
        let home = self.home().await?;
        let standing = standing(&res.user, &home, &self.trusted);
        if standing == Standing::Stranger {
            tracing::info!(
                user = %user.id,
                team = res.user.team_id.as_ref().map(|t| t.0.as_str()),
                enterprise = res.user.enterprise_user.as_ref().map(|e| e.enterprise_id.0.as_str()),
                "Slack user from another organisation: a stranger (only grants with strangers = true apply)"
            );
        }
        Ok(to_person(&res.user, user.team.clone(), standing))
    }
}

/// Every user group: (group, member ids).
type Memberships = Arc<Vec<(Group, Vec<String>)>>;

/// The `slack_usergroups` provider: the user groups (keyed by id) a person belongs to.
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
            provider: Kind::Slack.provider(),
            detail: e.to_string(),
        })?;
        let groups: Vec<(Group, Vec<String>)> = res
            .usergroups
            .into_iter()
            // Disabled groups are excluded by usergroups.list unless include_disabled is set.
            .map(|g| {
                (
                    Group::new(Kind::Slack, &g.id.0, g.handle),
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
        Kind::Slack.provider()
    }

    async fn groups(&self, person: &Person) -> Result<Vec<Group>, IdentityError> {
        if person.user.platform != Platform::Slack {
            return Ok(Vec::new());
        }
        let all = self.list().await?;
        Ok(all
            .iter()
            .filter(|(_, users)| users.contains(&person.user.id))
            .map(|(group, _)| group.clone())
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

    fn home() -> Home {
        Home {
            team_id: "T1".into(),
            enterprise_id: None,
        }
    }

    #[test]
    fn deactivated_strangers_and_guests_are_told_apart_from_members() {
        use serde_json::json;
        let grid = Home {
            team_id: "T1".into(),
            enterprise_id: Some("E1".into()),
        };
        let ent = |e: &str| json!({"id": "W1", "enterprise_id": e, "enterprise_name": "X", "teams": ["T9"]});
        let trusted = vec!["T7".to_string()];
        let cases = [
            (json!({}), home(), Standing::Member),
            (
                json!({"deleted": false, "is_restricted": false}),
                home(),
                Standing::Member,
            ),
            (json!({"deleted": true}), home(), Standing::Deactivated),
            (
                json!({"deleted": true, "is_restricted": true}),
                home(),
                Standing::Deactivated,
            ),
            (json!({"is_restricted": true}), home(), Standing::Guest),
            (
                json!({"is_restricted": true, "is_ultra_restricted": true}),
                home(),
                Standing::Guest,
            ),
            // Slack Connect: another workspace's user, even carrying one of our emails.
            (
                json!({"team_id": "T9", "is_stranger": true}),
                home(),
                Standing::Stranger,
            ),
            (json!({"team_id": "T9"}), home(), Standing::Stranger),
            (json!({"is_stranger": true}), home(), Standing::Stranger),
            (json!({"team_id": null}), home(), Standing::Stranger),
            (
                json!({"team_id": "T9", "is_restricted": true}),
                home(),
                Standing::Stranger,
            ),
            // Enterprise Grid: another workspace of our organisation is ours; another org's not.
            (
                json!({"team_id": "T9", "enterprise_user": ent("E1")}),
                grid.clone(),
                Standing::Member,
            ),
            (
                json!({"team_id": "T9", "enterprise_user": ent("E2")}),
                grid.clone(),
                Standing::Stranger,
            ),
            (
                json!({"team_id": "T9", "enterprise_user": ent("E1")}),
                home(),
                Standing::Stranger,
            ),
            // slack.trusted_teams.
            (
                json!({"team_id": "T7", "is_stranger": true}),
                home(),
                Standing::Member,
            ),
        ];
        for (extra, home, want) in cases {
            assert_eq!(
                standing(&user(extra.clone()), &home, &trusted),
                want,
                "{extra}"
            );
        }
        let p = to_person(&user(json!({})), None, Standing::Member);
        assert_eq!(p.email.as_deref(), Some("ana@example.com"));
        assert_eq!(p.display_name.as_deref(), Some("Ana L"));
        assert_eq!(p.user.team.as_deref(), Some("T1"));
        let s = to_person(
            &user(json!({"team_id": "T9"})),
            Some("T1".into()),
            Standing::Stranger,
        );
        assert_eq!(
            s.user.team.as_deref(),
            Some("T9"),
            "tagged with their own team"
        );
    }

    #[test]
    fn auth_test_gives_our_team_and_enterprise() {
        let grid: AuthTest = serde_json::from_value(serde_json::json!({"ok": true,
            "team_id": "T1", "enterprise_id": "E1", "user_id": "U0BOT", "is_enterprise_install": false}))
        .unwrap();
        assert_eq!(grid.home.enterprise_id.as_deref(), Some("E1"));
        let plain: AuthTest =
            serde_json::from_value(serde_json::json!({"ok": true, "team_id": "T1"})).unwrap();
        assert_eq!(plain.home, home());
    }
}
