//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Requests by route and outcome, Slack ack latency, replies sent, errors by kind, work shed
//! under load, deliveries handled (new, duplicate). Labels are small fixed sets (no user ids).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Labels for a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOutcome {
    /// `events`, `commands`, `interactions`, `socket_events`, ...
    pub route: &'static str,
    /// `ok`, `unauthorized`, `malformed`, `too_large`, `duplicate`, `busy`, ...
    pub outcome: &'static str,
}

/// A single `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// What happened.
    pub kind: &'static str,
}

/// A route label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// Which endpoint.
    pub route: &'static str,
}

/// All metrics of the process.
pub struct Metrics {
    registry: Registry,
    /// Slack requests by route and outcome.
    pub requests: Family<RouteOutcome, Counter>,
    /// Time from request arrival to acknowledgement, by route.
    pub ack_seconds: Family<Route, Histogram>,
    /// Replies delivered, by target (`thread`, `private`, `channel`, `busy`).
    pub replies: Family<KindLabel, Counter>,
    /// Errors by kind (`chat_api`, `chat_rate_limited`, `identity_provider`, ...).
    pub errors: Family<KindLabel, Counter>,
    /// Credential pool events (`hit`, `miss`, `sts_call`, `refresh_ahead`, `failure_cached`).
    pub credentials: Family<KindLabel, Counter>,
    /// AssumeRole failures by kind (`access_denied`, `throttled`, ...).
    pub sts_failures: Family<KindLabel, Counter>,
    /// Work dropped under load, by what (`triage_full`, `busy_notice_rate_limited`, ...).
    pub shed: Family<KindLabel, Counter>,
    /// Deliveries after de-duplication, by outcome (`new`, `duplicate`, `store_error`).
    pub deliveries: Family<KindLabel, Counter>,
    /// Socket Mode connections open and greeted (`hello`).
    pub socket_connections: Gauge,
    /// Socket Mode reconnects, by reason (`disconnect`, `lost`, `connect_failed`).
    pub socket_reconnects: Family<KindLabel, Counter>,
    /// Shared store (DynamoDB) requests, by operation (`claim_delivery`, `put_turn`, ...).
    pub store_ops: Family<KindLabel, Counter>,
    /// Times the shared store failed and this replica's local state answered instead.
    pub store_fallbacks: Family<KindLabel, Counter>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("opsbot");
        let requests = Family::<RouteOutcome, Counter>::default();
        let ack_seconds = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 3.0])
        });
        let replies = Family::<KindLabel, Counter>::default();
        let errors = Family::<KindLabel, Counter>::default();
        registry.register(
            "slack_requests",
            "Slack requests by route and outcome",
            requests.clone(),
        );
        registry.register(
            "slack_ack_seconds",
            "Time to acknowledge a Slack request",
            ack_seconds.clone(),
        );
        registry.register("replies", "Replies delivered by kind", replies.clone());
        registry.register("errors", "Errors by kind", errors.clone());
        let credentials = Family::<KindLabel, Counter>::default();
        let sts_failures = Family::<KindLabel, Counter>::default();
        registry.register("credentials", "Credential pool events", credentials.clone());
        registry.register(
            "sts_failures",
            "AssumeRole failures by kind",
            sts_failures.clone(),
        );
        let shed = Family::<KindLabel, Counter>::default();
        let deliveries = Family::<KindLabel, Counter>::default();
        registry.register("shed", "Work dropped under load, by what", shed.clone());
        registry.register(
            "deliveries",
            "Deliveries after de-duplication, by outcome",
            deliveries.clone(),
        );
        let socket_connections = Gauge::default();
        let socket_reconnects = Family::<KindLabel, Counter>::default();
        registry.register(
            "socket_connections",
            "Socket Mode connections open and greeted",
            socket_connections.clone(),
        );
        registry.register(
            "socket_reconnects",
            "Socket Mode reconnects by reason",
            socket_reconnects.clone(),
        );
        let store_ops = Family::<KindLabel, Counter>::default();
        let store_fallbacks = Family::<KindLabel, Counter>::default();
        registry.register(
            "store_ops",
            "Shared store requests by operation",
            store_ops.clone(),
        );
        registry.register(
            "store_fallbacks",
            "Shared store failures answered from this replica's local state, by operation",
            store_fallbacks.clone(),
        );
        Arc::new(Self {
            registry,
            store_ops,
            store_fallbacks,
            socket_connections,
            socket_reconnects,
            shed,
            deliveries,
            requests,
            ack_seconds,
            replies,
            errors,
            credentials,
            sts_failures,
        })
    }

    /// Counts one request.
    pub fn request(&self, route: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&RouteOutcome { route, outcome })
            .inc();
    }

    /// Counts one shared-store request.
    pub fn store_op(&self, kind: &'static str) {
        self.store_ops.get_or_create(&KindLabel { kind }).inc();
    }

    /// Counts one fallback to local state after a shared-store failure.
    pub fn store_fallback(&self, kind: &'static str) {
        self.store_fallbacks
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// Counts one error.
    pub fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&KindLabel { kind }).inc();
    }

    /// Counts one credential pool event.
    pub fn credentials(&self, kind: &'static str) {
        self.credentials.get_or_create(&KindLabel { kind }).inc();
    }

    /// Counts one AssumeRole failure.
    pub fn sts_failure(&self, kind: &'static str) {
        self.sts_failures.get_or_create(&KindLabel { kind }).inc();
    }

    /// Counts one piece of work dropped under load.
    pub fn shed(&self, what: &'static str) {
        self.shed.get_or_create(&KindLabel { kind: what }).inc();
    }

    /// Counts one delivery after de-duplication.
    pub fn delivery(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&KindLabel { kind: outcome })
            .inc();
    }

    /// Counts one Socket Mode reconnect.
    pub fn socket_reconnect(&self, reason: &'static str) {
        self.socket_reconnects
            .get_or_create(&KindLabel { kind: reason })
            .inc();
    }

    /// Counts one reply.
    pub fn reply(&self, kind: &'static str) {
        self.replies.get_or_create(&KindLabel { kind }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::new();
        m.request("events", "ok");
        m.ack_seconds
            .get_or_create(&Route { route: "events" })
            .observe(0.001);
        let text = m.render();
        assert!(
            text.contains(r#"opsbot_slack_requests_total{route="events",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains("opsbot_slack_ack_seconds_bucket"), "{text}");
    }
}
