//! [`TeamsProfiles`]: who a Teams user is. The user is their Entra object id
//! (`from.aadObjectId`); their email, UPN and role come from the connector's member lookup
//! (`GET {serviceUrl}/v3/conversations/{id}/members/{29:…}`) in the conversation they were
//! last seen in. The [`crate::identity::Directory`] caches the answer like Slack profiles and
//! bounds the lookup by `identity.timeout_seconds`. The lookup must name the same person: its
//! Entra object id (`aadObjectId` or `objectId`, every one present) must equal the activity's
//! `from.aadObjectId`, else the person is unverified and refused. A `guest` role is a guest,
//! an `anonymous` one a stranger; an account that is not a member is refused (fail closed).

use super::connector::Connector;
use super::refs::References;
use crate::core::inbound::ChatUser;
use crate::identity::{IdentityError, Person, Profiles, Standing};
use async_trait::async_trait;
use std::sync::Arc;

/// Teams member lookups.
pub struct TeamsProfiles {
    connector: Arc<Connector>,
    refs: Arc<References>,
}

impl TeamsProfiles {
    /// Looks people up through `connector`, finding them in `refs`.
    pub fn new(connector: Arc<Connector>, refs: Arc<References>) -> Self {
        Self { connector, refs }
    }
}

#[async_trait]
impl Profiles for TeamsProfiles {
    async fn person(&self, user: &ChatUser) -> Result<Person, IdentityError> {
        let Some(seen) = self.refs.user(&user.id) else {
            return Err(IdentityError::Profile {
                detail: format!(
                    "Teams user {} has not been seen in any conversation recently",
                    user.id
                ),
            });
        };
        let m = self
            .connector
            .member(&seen.service_url, &seen.conversation, &seen.teams_id)
            .await
            .map_err(|e| IdentityError::Profile {
                detail: format!("Teams member lookup failed: {e}"),
            })?;
        let ids: Vec<&str> = [m.aad_object_id.as_deref(), m.object_id.as_deref()]
            .into_iter()
            .flatten()
            .filter(|o| !o.is_empty())
            .collect();
        if ids.is_empty() || ids.iter().any(|o| !o.eq_ignore_ascii_case(&user.id)) {
            return Err(IdentityError::Unverified {
                detail: format!(
                    "the member lookup for {} returned object id(s) {ids:?}, not the activity's {}",
                    seen.teams_id, user.id
                ),
            });
        }
        let email = m
            .email
            .as_deref()
            .or(m.user_principal_name.as_deref())
            .filter(|e| e.contains('@'))
            .map(str::to_lowercase);
        let standing = match m.user_role.as_deref() {
            Some("guest") => Standing::Guest,
            Some("anonymous") => Standing::Stranger,
            _ => Standing::Member,
        };
        Ok(Person {
            user: user.clone(),
            handle: email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_string),
            email,
            display_name: m.name.or(seen.name),
            standing,
        })
    }
}
