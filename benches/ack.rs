//! Ack-latency benchmark: drives the real `opsbot` binary (release build) with unique signed
//! `app_mention` events and prints ack latency, throughput, start-to-ready time, idle and peak
//! RSS. Slack's Web API is the in-process fake from the tests, on 127.0.0.1. Two phases, each
//! against a fresh process:
//!
//! - **rate**: a fixed rate (open loop), every event answered (a roomy work pool);
//! - **flood**: closed loop, as many requests as `BENCH_CONNECTIONS` connections can send for
//!   `BENCH_SECS`, with the default work limits and Slack's Web API answering
//!   `chat.postMessage` in `BENCH_SLACK_DELAY_MS` (default 100 ms, about what slack.com
//!   takes), so the work pool saturates and most events are shed; memory and ack latency must
//!   stay bounded.
//!
//! Prints figures; asserts nothing.
//! - **teams**: the rate phase for Teams: signed Bot Framework activities to `/api/messages`
//!   (JWT validated before the body is read) against the fake Bot Framework.
//!
//! Run: `cargo bench --bench ack` (env `BENCH_RATE=500 BENCH_SECS=10 BENCH_CONNECTIONS=16`,
//! `BENCH_PHASES=rate,flood,teams`).

#[path = "../tests/it/fake_slack.rs"]
mod fake_slack;
#[path = "../tests/it/fake_teams.rs"]
#[allow(unused_imports)]
mod fake_teams;
#[path = "../tests/it/teams_wire.rs"]
mod teams_wire;

use fake_slack::{BOT_TOKEN, FakeSlack};
use opsbot::chat::slack::verify::{Verifier, unix_now};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A running bot process.
struct Bot {
    child: tokio::process::Child,
    pid: u32,
    port: u16,
    ready_after: Duration,
    idle_rss_kb: u64,
}

impl Bot {
    async fn start(slack: &FakeSlack, work: &str, http: &reqwest::Client) -> Self {
        let body = format!(
            "[slack]\napi_url = \"{}\"\nprogress = \"none\"\n{work}",
            slack.api_url()
        );
        Self::launch(
            &body,
            &[
                ("SLACK_BOT_TOKEN", BOT_TOKEN),
                ("SLACK_SIGNING_SECRET", SECRET),
            ],
            http,
        )
        .await
    }

    /// Starts the binary with `body` after `[server]`, and `envs`.
    async fn launch(body: &str, envs: &[(&str, &str)], http: &reqwest::Client) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("opsbot-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("opsbot.toml");
        std::fs::write(
            &cfg,
            format!("[server]\nlisten = \"127.0.0.1:{port}\"\n{body}"),
        )
        .unwrap();
        let started = Instant::now();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "error")
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn opsbot");
        let pid = child.id().unwrap();
        let ready_url = format!("http://127.0.0.1:{port}/readyz");
        let ready_after = loop {
            if let Ok(r) = http.get(&ready_url).send().await
                && r.status() == 200
            {
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("opsbot not ready after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let idle_rss_kb = status_kb(pid, "VmRSS:");
        Self {
            child,
            pid,
            port,
            ready_after,
            idle_rss_kb,
        }
    }

    fn peak_rss_mib(&self) -> f64 {
        status_kb(self.pid, "VmHWM:") as f64 / 1024.0
    }

    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

/// A signed request for a unique `app_mention` event number `i`.
fn mention(
    http: &reqwest::Client,
    url: &str,
    verifier: &Verifier,
    i: u64,
) -> reqwest::RequestBuilder {
    let body = serde_json::json!({
        "type": "event_callback", "team_id": "T0TEST", "api_app_id": "A0TEST",
        "event_id": format!("EvBench{i:09}"), "event_time": unix_now(),
        "event": {"type": "app_mention", "user": format!("U{:04}", i % 200),
                  "text": "<@UBOT> list EC2 instances in production",
                  "ts": format!("1700000000.{i:06}"), "channel": "C0BENCH"}
    })
    .to_string();
    let ts = unix_now().to_string();
    let sig = verifier.sign(&ts, body.as_bytes());
    http.post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body)
}

async fn rate_phase(http: &reqwest::Client) {
    let rate = env_num("BENCH_RATE", 500);
    let secs = env_num("BENCH_SECS", 10);
    let slack = FakeSlack::start().await;
    let bot = Bot::start(
        &slack,
        "[work]\nmax_concurrent = 256\nmax_per_user = 8\n",
        http,
    )
    .await;
    let verifier = Verifier::new(SECRET);
    let url = format!("http://127.0.0.1:{}/slack/events", bot.port);
    let total = rate * secs;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    let load_start = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let req = mention(http, &url, &verifier, i);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = matches!(req.send().await, Ok(r) if r.status() == 200);
            (t.elapsed(), ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for t in tasks {
        let (d, ok) = t.await.unwrap();
        if ok {
            lat.push(d);
        } else {
            failed += 1;
        }
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    lat.sort();
    // Let the replies finish before reading peak memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = bot.peak_rss_mib();
    let replies = slack.ok_calls("chat.postMessage").len();
    println!("rate phase ({rate}/s for {secs} s, {total} signed app_mention events, 200 users)");
    println!("  start to ready:   {:.1} ms", ms(bot.ready_after));
    println!(
        "  idle RSS:         {:.1} MiB",
        bot.idle_rss_kb as f64 / 1024.0
    );
    println!("  ack latency p50:  {:.3} ms", ms(pct(&lat, 0.50)));
    println!("  ack latency p99:  {:.3} ms", ms(pct(&lat, 0.99)));
    println!(
        "  ack latency max:  {:.3} ms",
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "  throughput:       {:.0} acks/s ({failed} failed)",
        lat.len() as f64 / load_secs
    );
    println!("  replies posted:   {replies}");
    println!("  peak RSS:         {peak:.1} MiB");
    bot.stop().await;
}

async fn flood_phase(http: &reqwest::Client) {
    let secs = env_num("BENCH_SECS", 10);
    let connections = env_num("BENCH_CONNECTIONS", 16);
    let delay = env_num("BENCH_SLACK_DELAY_MS", 100);
    let slack = FakeSlack::start().await;
    slack.delay("chat.postMessage", Duration::from_millis(delay));
    // Default work limits (32 at once, 2 per person): the flood overwhelms them on purpose.
    let bot = Bot::start(&slack, "", http).await;
    let url = Arc::new(format!("http://127.0.0.1:{}/slack/events", bot.port));
    let seq = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let load_start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        // One client per worker: one keep-alive connection each, closed loop.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let url = url.clone();
        let seq = seq.clone();
        workers.push(tokio::spawn(async move {
            let verifier = Verifier::new(SECRET);
            let mut lat = Vec::new();
            let mut failed = 0u64;
            while Instant::now() < until {
                let i = seq.fetch_add(1, Ordering::Relaxed);
                let req = mention(&http, &url, &verifier, i);
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status() == 200 => lat.push(t.elapsed()),
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    let mut lat = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (l, f) = w.await.unwrap();
        lat.extend(l);
        failed += f;
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    lat.sort();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let peak = bot.peak_rss_mib();
    let metrics = http
        .get(format!("http://127.0.0.1:{}/metrics", bot.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shed: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("opsbot_shed_total"))
        .collect();
    let after_rss = status_kb(bot.pid, "VmRSS:") as f64 / 1024.0;
    let replies = slack.ok_calls("chat.postMessage").len();
    println!(
        "flood phase (closed loop, {connections} connections for {secs} s, unique signed app_mention events, 200 users, default work limits, chat.postMessage takes {delay} ms)"
    );
    println!(
        "  requests:         {} ({failed} not 200)",
        lat.len() as u64 + failed
    );
    println!(
        "  throughput:       {:.0} req/s",
        lat.len() as f64 / load_secs
    );
    println!("  ack latency p50:  {:.3} ms", ms(pct(&lat, 0.50)));
    println!("  ack latency p99:  {:.3} ms", ms(pct(&lat, 0.99)));
    println!(
        "  ack latency max:  {:.3} ms",
        ms(lat.last().copied().unwrap_or_default())
    );
    println!("  replies posted:   {replies} (answers and busy notices)");
    for s in shed {
        println!("  {s}");
    }
    println!("  peak RSS:         {peak:.1} MiB (RSS 1 s after: {after_rss:.1} MiB)");
    bot.stop().await;
}

/// Teams: a fixed rate of message activities (personal chats of 200 people) to `/api/messages`,
/// each with a Bot Framework token the bot validates (RS256 against the fake's published key)
/// before reading the body. One token is reused, as the Bot Framework does for a while.
async fn teams_phase(http: &reqwest::Client) {
    use teams_wire::{APP_ID, CLIENT_SECRET, TENANT_ID};
    let rate = env_num("BENCH_RATE", 500);
    let secs = env_num("BENCH_SECS", 10);
    let fake = fake_teams::FakeTeams::start().await;
    let body = format!(
        "[teams]\napp_id = \"{APP_ID}\"\ntenant_id = \"{TENANT_ID}\"\nopenid_metadata_url = \"{}\"\n\
         login_url = \"{}\"\nallowed_service_hosts = [\"127.0.0.1\"]\nprogress = \"none\"\n\
         [work]\nmax_concurrent = 256\nmax_per_user = 8\n",
        fake.openid_url(),
        fake.url()
    );
    let bot = Bot::launch(&body, &[("TEAMS_CLIENT_SECRET", CLIENT_SECRET)], http).await;
    let url = format!("http://127.0.0.1:{}/api/messages", bot.port);
    let token = format!(
        "Bearer {}",
        teams_wire::sign(&teams_wire::claims(APP_ID, &fake.service_url()), "key1")
    );
    let total = rate * secs;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    let load_start = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let mut a = teams_wire::message(
            &teams_wire::Place::Personal,
            &teams_wire::ALICE,
            "help",
            &fake.service_url(),
        );
        // 200 people, each in their own personal chat.
        a["from"]["aadObjectId"] = format!("a11ce000-0000-4000-8000-{:012}", i % 200).into();
        a["conversation"]["id"] = format!("a:bench{}", i % 200).into();
        let req = http.post(&url).header("authorization", &token).json(&a);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = matches!(req.send().await, Ok(r) if r.status() == 200);
            (t.elapsed(), ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for t in tasks {
        let (d, ok) = t.await.unwrap();
        if ok {
            lat.push(d);
        } else {
            failed += 1;
        }
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    lat.sort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "teams phase ({rate}/s for {secs} s, {total} JWT-signed message activities, 200 people)"
    );
    println!("  start to ready:   {:.1} ms", ms(bot.ready_after));
    println!("  ack latency p50:  {:.3} ms", ms(pct(&lat, 0.50)));
    println!("  ack latency p99:  {:.3} ms", ms(pct(&lat, 0.99)));
    println!(
        "  ack latency max:  {:.3} ms",
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "  throughput:       {:.0} acks/s ({failed} failed)",
        lat.len() as f64 / load_secs
    );
    println!(
        "  replies posted:   {} ({} tokens fetched, {} key fetches)",
        fake.ok_calls("send").len(),
        fake.tokens_issued(),
        fake.jwks_fetches()
    );
    println!("  peak RSS:         {:.1} MiB", bot.peak_rss_mib());
    bot.stop().await;
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list.
    }
    opsbot::install_crypto();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "rate,flood,teams".into());
    println!("opsbot ack benchmark");
    for phase in phases.split(',') {
        match phase.trim() {
            "rate" => rate_phase(&http).await,
            "flood" => flood_phase(&http).await,
            "teams" => teams_phase(&http).await,
            other => eprintln!("unknown phase {other:?}; use rate, flood, teams"),
        }
    }
}
