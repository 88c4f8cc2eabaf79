//! Test helpers: start the real router on 127.0.0.1:0 against the fake Slack, sign requests,
//! and build Slack payloads.

use crate::fake_slack::{BOT_TOKEN, FakeSlack};
use opsbot::app::{App, AppBuilder};
use opsbot::chat::slack::verify::{Verifier, unix_now};
use opsbot::chat::{Asked, ChatError, ChatSink, ProgressUpdate};
use opsbot::config::Config;
use opsbot::core::answer::{Answer, Target};
use opsbot::core::dispatch::Core;
use opsbot::core::respond::Responder;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Signing secret used by every test.
pub const SECRET: &str = "test-signing-secret";

/// A running app plus its fake Slack.
pub struct TestApp {
    /// Where the app listens.
    pub addr: SocketAddr,
    /// The fake Slack it talks to.
    pub slack: FakeSlack,
    /// HTTP client.
    pub http: reqwest::Client,
    core: Arc<Core>,
    inventory: Arc<opsbot::inventory::Inventory>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<JoinHandle<()>>,
}

/// Environment lookup with the test secrets.
pub fn test_env(extra: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut vars: Vec<(String, String)> = vec![
        ("SLACK_BOT_TOKEN".into(), BOT_TOKEN.into()),
        ("SLACK_SIGNING_SECRET".into(), SECRET.into()),
        ("SLACK_APP_TOKEN".into(), "xapp-test-token".into()),
        (
            "TEAMS_CLIENT_SECRET".into(),
            crate::teams_wire::CLIENT_SECRET.into(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

impl TestApp {
    /// Starts a fresh fake Slack and the app with `extra_toml` appended to a minimal config.
    pub async fn start(extra_toml: &str) -> Self {
        Self::start_with(extra_toml, None).await
    }

    /// Same, with a custom responder.
    pub async fn start_with(extra_toml: &str, responder: Option<Arc<dyn Responder>>) -> Self {
        Self::boot(&fixtures_toml(), extra_toml, move |b| match responder {
            Some(r) => b.responder(r),
            None => b,
        })
        .await
    }

    /// Starts with `sections` (e.g. `[accounts]`, `[identity]`) instead of the fixtures' ones.
    pub async fn start_raw(sections: &str) -> Self {
        Self::boot(sections, "", |b| b).await
    }

    /// Starts with the fixtures and `extra_toml`, letting `wire` replace services (fakes).
    pub async fn start_wired(
        extra_toml: &str,
        wire: impl FnOnce(AppBuilder) -> AppBuilder,
    ) -> Self {
        Self::boot(&fixtures_toml(), extra_toml, wire).await
    }

    /// Starts with `sections` instead of the fixtures, and `extra_toml`, letting `wire` replace
    /// services.
    pub async fn start_custom(
        sections: &str,
        extra_toml: &str,
        wire: impl FnOnce(AppBuilder) -> AppBuilder,
    ) -> Self {
        Self::boot(sections, extra_toml, wire).await
    }

    /// Starts on an existing fake Slack (a second replica of the same app), with `sections`
    /// and `extra_toml`, letting `wire` replace services.
    pub async fn start_on(
        slack: FakeSlack,
        sections: &str,
        extra_toml: &str,
        wire: impl FnOnce(AppBuilder) -> AppBuilder,
    ) -> Self {
        Self::boot_on(slack, sections, extra_toml, wire, true).await
    }

    /// Starts with the fixtures after `prepare` set up the fake Slack, without waiting for
    /// readiness.
    pub async fn start_unready(extra_toml: &str, prepare: impl FnOnce(&FakeSlack)) -> Self {
        let slack = FakeSlack::start().await;
        prepare(&slack);
        Self::boot_on(slack, &fixtures_toml(), extra_toml, |b| b, false).await
    }

    async fn boot(
        sections: &str,
        extra_toml: &str,
        wire: impl FnOnce(AppBuilder) -> AppBuilder,
    ) -> Self {
        let slack = FakeSlack::start().await;
        Self::boot_on(slack, sections, extra_toml, wire, true).await
    }

    async fn boot_on(
        slack: FakeSlack,
        sections: &str,
        extra_toml: &str,
        wire: impl FnOnce(AppBuilder) -> AppBuilder,
        wait: bool,
    ) -> Self {
        opsbot::install_crypto();
        let toml = format!(
            "{sections}[slack]\napi_url = \"{}\"\n{extra_toml}",
            slack.api_url()
        );
        let config =
            Config::parse(&toml, Path::new("test.toml"), &test_env(&[])).expect("test config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = wire(App::builder(config)).build().await.unwrap();
        let core = app.core.clone();
        let inventory = app.inventory.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            app.run(listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let t = TestApp {
            addr,
            slack,
            http: reqwest::Client::new(),
            core,
            inventory,
            stop: Some(tx),
            done: Some(done),
        };
        if wait {
            t.wait_ready().await;
        }
        t
    }

    /// `/readyz`'s status code.
    pub async fn readiness(&self) -> u16 {
        match self.http.get(self.url("/readyz")).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// Waits (10 s liveness bound) until `/readyz` answers `status`.
    pub async fn wait_readiness(&self, status: u16) {
        for _ in 0..1000 {
            if self.readiness().await == status {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("/readyz never answered {status}");
    }

    /// Waits for `/readyz` (auth.test done).
    pub async fn wait_ready(&self) {
        for _ in 0..500 {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("app never became ready");
    }

    /// The running core (to deliver answers directly, as a scheduler would).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The inventory service (to fire schedules on a test clock).
    pub fn inventory(&self) -> &Arc<opsbot::inventory::Inventory> {
        &self.inventory
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs `body` to `path` signed with the test secret.
    pub async fn post_signed(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        extra: &[(&str, String)],
    ) -> reqwest::Response {
        let ts = unix_now().to_string();
        let sig = Verifier::new(SECRET).sign(&ts, body);
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.to_vec());
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        req.send().await.unwrap()
    }

    /// POSTs a signed Events API envelope.
    pub async fn event(&self, envelope: &Value) -> reqwest::Response {
        self.post_signed(
            "/slack/events",
            envelope.to_string().as_bytes(),
            "application/json",
            &[],
        )
        .await
    }

    /// POSTs a signed slash command with `text` in #ops; the response_url points at the fake.
    pub async fn command(&self, text: &str, user: &str, response_id: &str) -> reqwest::Response {
        self.command_in(text, user, "C0OPS", response_id).await
    }

    /// POSTs a signed slash command with `text` in `channel`.
    pub async fn command_in(
        &self,
        text: &str,
        user: &str,
        channel: &str,
        response_id: &str,
    ) -> reqwest::Response {
        self.command_at(text, user, channel, "ops", response_id)
            .await
    }

    /// The form body of a slash command with `text` in `channel` called `channel_name`
    /// (`directmessage` for any 1:1 DM, `mpdm-…` for a group DM).
    pub fn command_form(
        &self,
        text: &str,
        user: &str,
        channel: &str,
        channel_name: &str,
        response_id: &str,
    ) -> String {
        serde_urlencoded::to_string([
            ("token", "legacy"),
            ("team_id", "T0TEST"),
            ("team_domain", "opsbot-test"),
            ("channel_id", channel),
            ("channel_name", channel_name),
            ("user_id", user),
            ("user_name", "ana"),
            ("command", "/aws"),
            ("text", text),
            ("response_url", &self.slack.response_url(response_id)),
            ("trigger_id", "1.2.3"),
        ])
        .unwrap()
    }

    /// POSTs a signed slash command with `text` in `channel` called `channel_name`.
    pub async fn command_at(
        &self,
        text: &str,
        user: &str,
        channel: &str,
        channel_name: &str,
        response_id: &str,
    ) -> reqwest::Response {
        let form = self.command_form(text, user, channel, channel_name, response_id);
        self.post_signed(
            "/slack/commands",
            form.as_bytes(),
            "application/x-www-form-urlencoded",
            &[],
        )
        .await
    }

    /// Stops the app (as on SIGTERM) and waits until in-flight work is drained.
    pub async fn shutdown(mut self) -> FakeSlack {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap();
        }
        self.slack.clone()
    }
}

/// `[accounts]` and `[identity]` sections using tests/fixtures (static groups provider).
pub fn fixtures_toml() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    format!(
        "[accounts]\nfile = \"{dir}/accounts.toml\"\naccess_file = \"{dir}/access.toml\"\n\
         [identity]\nproviders = [\"static\"]\nstatic_file = \"{dir}/groups.toml\"\nhelp_contact = \"#platform\"\n"
    )
}

static EVENT_SEQ: AtomicU64 = AtomicU64::new(1);

/// A unique event id.
pub fn event_id() -> String {
    format!("Ev{:08}", EVENT_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// An `event_callback` envelope around `event`.
pub fn envelope(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy", "team_id": "T0TEST", "api_app_id": "A0TEST", "type": "event_callback",
        "event_id": event_id, "event_time": unix_now(), "event": event,
        "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT", "is_bot": true}],
        "event_context": "4-abc"
    })
}

/// An `app_mention` event from `user` in `channel` at `ts`.
pub fn mention(user: &str, channel: &str, ts: &str, text: &str) -> Value {
    json!({"type": "app_mention", "user": user, "text": format!("<@UBOT> {text}"), "ts": ts,
           "channel": channel, "event_ts": ts, "team": "T0TEST",
           "blocks": [{"type": "rich_text", "block_id": "b1", "elements": []}]})
}

pub use crate::peers::python;

/// A real sink (Slack's, or any platform's), recording every answer the core hands it.
pub struct Tap {
    real: Arc<dyn ChatSink>,
    seen: std::sync::Mutex<Vec<(Target, Answer)>>,
}

#[async_trait::async_trait]
impl ChatSink for Tap {
    async fn send(&self, target: &Target, answer: &Answer) -> Result<Option<String>, ChatError> {
        self.seen
            .lock()
            .unwrap()
            .push((target.clone(), answer.clone()));
        self.real.send(target, answer).await
    }
    async fn progress(&self, asked: &Asked, update: ProgressUpdate) -> Result<(), ChatError> {
        self.real.progress(asked, update).await
    }
    async fn find_post(
        &self,
        place: &opsbot::core::inbound::Place,
        marker: &str,
        since: i64,
    ) -> Result<Option<String>, ChatError> {
        self.real.find_post(place, marker, since).await
    }
}

impl Tap {
    /// Wraps the real sink the builder's configuration describes; returns the tap to install
    /// with `builder.sink(Platform::Slack, tap)`.
    pub fn for_builder(b: &AppBuilder) -> Arc<Tap> {
        Self::wrapping(Arc::new(
            opsbot::chat::slack::client::SlackSink::new(&b.config().slack).unwrap(),
        ))
    }

    /// Records what goes through `real` (for `AppBuilder::wrap_sinks`).
    pub fn wrapping(real: Arc<dyn ChatSink>) -> Arc<Tap> {
        Arc::new(Tap {
            real,
            seen: std::sync::Mutex::default(),
        })
    }

    /// Every (target, answer) so far.
    pub fn seen(&self) -> Vec<(Target, Answer)> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (30 s liveness bound) for the `n`th answer and returns it.
    pub async fn answer(&self, n: usize) -> Answer {
        for _ in 0..3000 {
            if let Some((_, a)) = self.seen.lock().unwrap().get(n - 1) {
                return a.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("answer {n} never reached the sink; seen: {:?}", self.seen());
    }
}
