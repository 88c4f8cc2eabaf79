//! [`TeamsProfiles`]: who a Teams user is. The user is their Entra object id
//! (`from.aadObjectId`); their email, UPN and role come from the connector's member lookup
//! (`GET {serviceUrl}/v3/conversations/{id}/members/{29:…}`) in the conversation they were
//! last seen in. The [`crate::identity::Directory`] caches the answer like Slack profiles.
//! A `guest` role is a guest; an account that is not a member is refused (fail closed).

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
        let object_id = m.aad_object_id.as_deref().or(m.object_id.as_deref());
        if object_id.is_some_and(|o| o != user.id) {
            return Err(IdentityError::Profile {
                detail: "the connector returned a different person for this Teams id".into(),
            });
        }
        let email = m
            .email
            .as_deref()
            .or(m.user_principal_name.as_deref())
            .filter(|e| e.contains('@'))
            .map(str::to_lowercase);
        let standing = match m.user_role.as_deref() {
            Some("guest") | Some("anonymous") => Standing::Guest,
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
