//! What the bot remembers from activities in order to talk later: per conversation its
//! service URL and tenant (a *conversation reference*, kept in the run store so scheduled posts
//! survive restarts), and per person their Teams id and where they were last seen (for member
//! lookups and private replies). Both are bounded caches.

use super::activity::Activity;
use crate::core::inbound::{Place, PlaceKind};
use crate::store::runs::RunStore;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most conversations and people remembered in memory.
pub const MAX_CACHED: u64 = 50_000;
/// Concurrent writes of new references to the run store; more are skipped (retried on the
/// conversation's next activity).
const MAX_WRITES: usize = 8;

/// How to reach a conversation without being asked first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRef {
    /// The connector for the conversation.
    pub service_url: String,
    /// The Entra tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The team, for channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// A person as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Their Teams id (`29:…`).
    pub teams_id: String,
    /// Display name.
    pub name: Option<String>,
    /// The connector where they were seen.
    pub service_url: String,
    /// The conversation they were seen in (full id).
    pub conversation: String,
    /// Their tenant.
    pub tenant: Option<String>,
}

/// Conversation and user references.
pub struct References {
    conversations: moka::sync::Cache<String, ConversationRef>,
    users: moka::sync::Cache<String, UserRef>,
    store: Arc<dyn RunStore>,
    writes: Arc<Semaphore>,
}

impl References {
    /// References persisted in `store`.
    pub fn new(store: Arc<dyn RunStore>) -> Self {
        Self {
            conversations: moka::sync::Cache::builder()
                .max_capacity(MAX_CACHED)
                .time_to_idle(Duration::from_secs(30 * 86_400))
                .build(),
            users: moka::sync::Cache::builder()
                .max_capacity(MAX_CACHED)
                .time_to_idle(Duration::from_secs(7 * 86_400))
                .build(),
            store,
            writes: Arc::new(Semaphore::new(MAX_WRITES)),
        }
    }

    /// Records what `a` says about its conversation and sender. Never awaits; a changed
    /// conversation reference is written to the store in the background.
    pub fn observe(&self, a: &Activity) {
        let place = a.place();
        let reference = ConversationRef {
            service_url: a.service_url.clone(),
            tenant: a.tenant().map(str::to_string),
            team: place.parent.clone(),
        };
        if let Some(tenant) = &reference.tenant {
            let key = tenant_key(tenant);
            let tenant_ref = ConversationRef {
                team: None,
                ..reference.clone()
            };
            if self.conversations.get(&key).as_ref() != Some(&tenant_ref) {
                self.persist(key, tenant_ref);
            }
        }
        let key = place.key();
        if self.conversations.get(&key).as_ref() != Some(&reference) {
            self.persist(key, reference);
        }
        if let Some(aad) = a.from.aad_object_id.as_deref().filter(|s| !s.is_empty())
            && a.from.id.starts_with("29:")
        {
            self.users.insert(
                aad.to_string(),
                UserRef {
                    teams_id: a.from.id.clone(),
                    name: a.from.name.clone(),
                    service_url: a.service_url.clone(),
                    conversation: a.conversation.id.clone(),
                    tenant: a.tenant().map(str::to_string),
                },
            );
        }
    }

    fn persist(&self, key: String, reference: ConversationRef) {
        let Ok(permit) = self.writes.clone().try_acquire_owned() else {
            tracing::debug!(place = key, "reference write skipped: store busy");
            return;
        };
        let Ok(body) = serde_json::to_string(&reference) else {
            return;
        };
        let (store, cache) = (self.store.clone(), self.conversations.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match store.put_reference(&key, &body).await {
                Ok(()) => cache.insert(key, reference),
                Err(e) => {
                    tracing::warn!(place = key, error = %e, "conversation reference not stored; scheduled posts there need it")
                }
            }
        });
    }

    /// How to reach `place`: its own reference, else the newest one seen in `tenant` (service
    /// URLs are per tenant and region, so a channel the bot has not heard from yet is reached
    /// through the connector its team's other conversations use).
    pub async fn conversation_in(&self, place: &Place, tenant: &str) -> Option<ConversationRef> {
        match self.lookup(place.key()).await {
            Some(r) => Some(r),
            None => self
                .lookup(tenant_key(tenant))
                .await
                .map(|r| ConversationRef {
                    tenant: Some(tenant.to_string()),
                    ..r
                }),
        }
    }

    /// How to reach `place`: from memory, else from the store.
    pub async fn conversation(&self, place: &Place) -> Option<ConversationRef> {
        self.lookup(place.key()).await
    }

    async fn lookup(&self, key: String) -> Option<ConversationRef> {
        if let Some(r) = self.conversations.get(&key) {
            return Some(r);
        }
        match self.store.reference(&key).await {
            Ok(Some(body)) => {
                let r: ConversationRef = serde_json::from_str(&body).ok()?;
                self.conversations.insert(key, r.clone());
                Some(r)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(place = key, error = %e, "cannot read the conversation reference");
                None
            }
        }
    }

    /// The person with Entra object id `aad`, if seen recently.
    pub fn user(&self, aad: &str) -> Option<UserRef> {
        self.users.get(aad)
    }
}

/// The key of a tenant's newest reference.
fn tenant_key(tenant: &str) -> String {
    format!("teams:tenant:{tenant}")
}

/// The conversation id to post to for `place` and an optional thread root: a channel thread is
/// `19:…;messageid=<root>`; chats have no threads.
pub fn thread_conversation(place: &Place, root: Option<&str>) -> String {
    match (place.kind, root) {
        (PlaceKind::Channel, Some(r)) if !r.is_empty() => {
            format!("{};messageid={r}", place.conversation)
        }
        _ => place.conversation.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::Platform;
    use crate::store::runs::MemoryRuns;

    fn activity(conversation: &str, kind: &str, service_url: &str) -> Activity {
        serde_json::from_value(serde_json::json!({
            "type": "message", "id": "1", "serviceUrl": service_url, "channelId": "msteams",
            "from": {"id": "29:alice", "aadObjectId": "aad-alice", "name": "Alice"},
            "recipient": {"id": "28:bot"},
            "conversation": {"id": conversation, "conversationType": kind, "tenantId": "t1"},
            "channelData": {"team": {"id": "19:team@thread.tacv2"}}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn references_are_kept_and_survive_in_the_store() {
        let store: Arc<dyn RunStore> = Arc::new(MemoryRuns::default());
        let refs = References::new(store.clone());
        refs.observe(&activity(
            "19:c@thread.tacv2;messageid=5",
            "channel",
            "https://smba.trafficmanager.net/amer/",
        ));
        let place = Place::new(Platform::Teams, "19:c@thread.tacv2", PlaceKind::Channel);
        for _ in 0..100 {
            if store.reference(&place.key()).await.unwrap().is_some() {
                break;
            }
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            if store.reference("teams:tenant:t1").await.unwrap().is_some() {
                break;
            }
            tokio::task::yield_now().await;
        }
        let fresh = References::new(store);
        let r = fresh.conversation(&place).await.unwrap();
        let elsewhere = Place::new(Platform::Teams, "19:new@thread.tacv2", PlaceKind::Channel);
        assert!(fresh.conversation(&elsewhere).await.is_none());
        let via_tenant = fresh.conversation_in(&elsewhere, "t1").await.unwrap();
        assert_eq!(
            via_tenant.service_url,
            "https://smba.trafficmanager.net/amer/"
        );
        assert!(fresh.conversation_in(&elsewhere, "t2").await.is_none());
        assert_eq!(r.service_url, "https://smba.trafficmanager.net/amer/");
        assert_eq!(r.tenant.as_deref(), Some("t1"));
        assert_eq!(r.team.as_deref(), Some("19:team@thread.tacv2"));
        let u = refs.user("aad-alice").unwrap();
        assert_eq!(u.teams_id, "29:alice");
        assert_eq!(u.conversation, "19:c@thread.tacv2;messageid=5");
        assert!(fresh.user("aad-alice").is_none());
        assert_eq!(
            thread_conversation(&place, Some("5")),
            "19:c@thread.tacv2;messageid=5"
        );
        let dm = Place::new(Platform::Teams, "a:1", PlaceKind::Dm);
        assert_eq!(thread_conversation(&dm, Some("a:1")), "a:1");
    }
}
