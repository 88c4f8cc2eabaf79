//! What the front-door benchmarks share: the real `opsbot` binary started on a free port with
//! a given configuration and environment, timed to `/readyz`, with its memory read from /proc;
//! signed Slack events; percentiles.
#![allow(dead_code, reason = "each benchmark uses a different subset")]

use super::fake_slack::{BOT_TOKEN, FakeSlack};
use opsbot::chat::slack::verify::{Verifier, unix_now};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const SECRET: &str = "bench-secret";

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A running bot process.
pub struct Bot {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub port: u16,
    pub ready_after: Duration,
    pub idle_rss_kb: u64,
}

impl Bot {
    pub async fn start(slack: &FakeSlack, work: &str, http: &reqwest::Client) -> Self {
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
    pub async fn launch(body: &str, envs: &[(&str, &str)], http: &reqwest::Client) -> Self {
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

    pub fn peak_rss_mib(&self) -> f64 {
        status_kb(self.pid, "VmHWM:") as f64 / 1024.0
    }

    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

/// A signed request for a unique `app_mention` event number `i`.
pub fn mention(
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

/// Sends `total` requests made by `request(i)` at `rate` per second (open loop: a slow answer
/// never delays the next request). Returns the latencies of the 200s, sorted, how many got
/// something else, and how long sending took in seconds.
pub async fn at_rate(
    total: u64,
    rate: u64,
    mut request: impl FnMut(u64) -> reqwest::RequestBuilder,
) -> (Vec<Duration>, u64, f64) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    let load_start = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let req = request(i);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = matches!(req.send().await, Ok(r) if r.status() == 200);
            (t.elapsed(), ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok((d, true)) => lat.push(d),
            _ => failed += 1,
        }
    }
    let secs = load_start.elapsed().as_secs_f64();
    lat.sort();
    (lat, failed, secs)
}

/// Prints p50, p99 and max of sorted acknowledgement latencies.
pub fn print_latency(sorted: &[Duration]) {
    println!("  ack latency p50:  {:.3} ms", ms(pct(sorted, 0.50)));
    println!("  ack latency p99:  {:.3} ms", ms(pct(sorted, 0.99)));
    println!(
        "  ack latency max:  {:.3} ms",
        ms(sorted.last().copied().unwrap_or_default())
    );
}
