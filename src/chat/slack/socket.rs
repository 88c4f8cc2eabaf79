//! Socket Mode: the same [`SlackDoor`] handlers over slack-morphism's WebSocket client, so a
//! team can run opsbot with no public URL. slack-morphism acknowledges each envelope by
//! `envelope_id` after our callback returns; the callbacks only enqueue work, so acks are
//! immediate.

use super::SlackDoor;
use super::client::Connector;
use super::commands::SlashCommand;
use super::events::{Envelope, Event};
use crate::secret::Secret;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// A running Socket Mode listener.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
}

/// Why Socket Mode could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "Socket Mode could not connect: {0}; check SLACK_APP_TOKEN (xapp-..., scope connections:write) and that Socket Mode is enabled in the app settings"
)]
pub struct SocketError(String);

fn to_envelope(cb: &SlackPushEventCallback) -> Option<Envelope> {
    let event: Event = serde_json::to_value(&cb.event)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())?;
    Some(Envelope::Callback {
        event_id: cb.event_id.to_string(),
        team_id: Some(cb.team_id.to_string()),
        event: Box::new(event),
    })
}

fn to_command(ev: &SlackCommandEvent) -> SlashCommand {
    SlashCommand {
        command: ev.command.to_string(),
        text: ev.text.clone().unwrap_or_default(),
        user_id: ev.user_id.to_string(),
        user_name: None,
        channel_id: ev.channel_id.to_string(),
        channel_name: None,
        team_id: Some(ev.team_id.to_string()),
        response_url: ev.response_url.0.to_string(),
    }
}

/// slack-morphism acknowledges envelopes it cannot parse (they never parse better on
/// redelivery) and reports them here: log them so they are never silent.
fn log_error(
    err: Box<dyn std::error::Error + Send + Sync + 'static>,
    _client: Arc<SlackClient<Connector>>,
    _state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    tracing::warn!(error = %err, "Socket Mode envelope could not be handled");
    axum::http::StatusCode::OK
}

impl SocketMode {
    /// Connects `connections` WebSockets with `app_token` and routes envelopes to `door`.
    pub async fn start(
        door: Arc<SlackDoor>,
        client: Arc<SlackClient<Connector>>,
        app_token: &Secret,
        connections: u32,
    ) -> Result<Self, SocketError> {
        let mut callbacks = SlackSocketModeListenerCallbacks::<Connector>::new();
        let d = door.clone();
        callbacks.push_events_callback = Box::new(
            move |cb: SlackPushEventCallback,
                  _c: Arc<SlackClient<Connector>>,
                  _s: SlackClientEventsUserState| {
                let door = d.clone();
                async move {
                    match to_envelope(&cb) {
                        Some(env) => {
                            let ack = door.on_event(env, None);
                            door.core()
                                .metrics()
                                .request("socket_events", ack.outcome());
                        }
                        None => door.core().metrics().request("socket_events", "malformed"),
                    }
                    Ok(())
                }
            },
        );
        let d = door.clone();
        callbacks.command_callback = Box::new(
            move |ev: SlackCommandEvent,
                  _c: Arc<SlackClient<Connector>>,
                  _s: SlackClientEventsUserState| {
                let door = d.clone();
                async move {
                    let text = door.on_command(&to_command(&ev));
                    door.core().metrics().request("socket_commands", "ok");
                    Ok(
                        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
                            .with_response_type(SlackMessageResponseType::Ephemeral),
                    )
                }
            },
        );
        let d = door.clone();
        callbacks.interaction_callback = Box::new(
            move |_ev: SlackInteractionEvent,
                  _c: Arc<SlackClient<Connector>>,
                  _s: SlackClientEventsUserState| {
                let door = d.clone();
                async move {
                    door.core().metrics().request("socket_interactions", "ok");
                    Ok(SlackInteractionResponse::Empty)
                }
            },
        );
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(client).with_error_handler(log_error),
        );
        let config = SlackClientSocketModeConfig::new().with_max_connections_count(connections);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        let token = SlackApiToken::new(app_token.expose().into());
        listener
            .listen_for(&token)
            .await
            .map_err(|e| SocketError(e.to_string()))?;
        listener.start().await;
        Ok(Self { listener })
    }

    /// Closes the WebSockets.
    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_push_event_round_trips_to_our_envelope() {
        let raw = serde_json::json!({"token":"t","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev1","event_time":1700000000,
            "event":{"type":"app_mention","user":"U1","text":"<@UBOT> hi","ts":"1.1","channel":"C1","event_ts":"1.1"}});
        let cb: SlackPushEventCallback = serde_json::from_value(raw).unwrap();
        eprintln!("{}", serde_json::to_value(&cb.event).unwrap());
        let env = to_envelope(&cb).expect("converts");
        let Envelope::Callback { event, .. } = env else {
            panic!()
        };
        assert_eq!(event.user.as_deref(), Some("U1"));
        assert_eq!(event.channel.as_deref(), Some("C1"));
        assert_eq!(event.ts.as_deref(), Some("1.1"));
    }
}
