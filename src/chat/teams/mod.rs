//! Microsoft Teams: verify what the Bot Framework sends to `/api/messages`, turn activities
//! into the core's neutral inbound items, and render the core's answers as Adaptive Cards.
//!
//! [`TeamsDoor`] is the adapter: it remembers conversation references and hands every message
//! to the [`Core`]. [`http`] validates the bearer token before anything else; [`sink`] is the
//! reply path; [`profiles`] turns a Teams user into a person.

pub mod activity;
pub mod card;
pub mod connector;
pub mod http;
pub mod jwt;
pub mod pacer;
pub mod profiles;
pub mod refs;
pub mod settings;
pub mod sink;
pub mod token;

use crate::core::dispatch::Core;
use activity::Activity;
use refs::References;
use settings::TeamsSettings;
use std::sync::Arc;

/// The Teams adapter around the core.
pub struct TeamsDoor {
    core: Arc<Core>,
    refs: Arc<References>,
    settings: Arc<TeamsSettings>,
}

impl TeamsDoor {
    /// An adapter handing messages to `core`, remembering conversations in `refs`.
    pub fn new(core: Arc<Core>, refs: Arc<References>, settings: Arc<TeamsSettings>) -> Arc<Self> {
        Arc::new(Self {
            core,
            refs,
            settings,
        })
    }

    /// The core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The bot's settings.
    pub fn settings(&self) -> &TeamsSettings {
        &self.settings
    }

    /// Handles one validated activity; returns the outcome label. Never awaits: safe before
    /// acknowledging.
    pub fn on_activity(&self, a: &Activity) -> &'static str {
        if !self.settings.allows_service_url(&a.service_url) {
            self.core.metrics().error("teams_service_url_not_allowed");
            tracing::error!(
                service_url = a.service_url,
                "activity from a connector host not in teams.allowed_service_hosts; ignored (add the host if it is Microsoft's)"
            );
            return "ignored";
        }
        if let Some(t) = a.tenant()
            && t != self.settings.tenant_id
        {
            self.core.metrics().error("teams_other_tenant");
            tracing::warn!(
                tenant = t,
                "activity from another tenant; ignored (the bot is single-tenant)"
            );
            return "ignored";
        }
        self.refs.observe(a);
        match a.kind.as_str() {
            "conversationUpdate" | "installationUpdate" => {
                tracing::info!(
                    kind = a.kind,
                    conversation = a.conversation.id,
                    action = a.action.as_deref(),
                    "Teams conversation reference updated"
                );
                "ignored"
            }
            _ => self.core.submit(activity::to_inbound(a)).outcome(),
        }
    }
}
