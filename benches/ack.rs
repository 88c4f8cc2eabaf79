//! Ack-latency benchmark: drives the real `opsbot` binary (release build) with unique signed
//! `app_mention` events at a fixed rate and prints ack latency p50/p99/max, throughput,
//! start-to-ready time, idle and peak RSS. Slack's Web API is the in-process fake from the
//! tests, on 127.0.0.1. Prints figures; asserts nothing.
//!
//! Run: `cargo bench --bench ack` (env BENCH_RATE=500 BENCH_SECS=10 to change the load).

#[path = "../tests/it/fake_slack.rs"]
mod fake_slack;

use fake_slack::{BOT_TOKEN, FakeSlack};
use opsbot::chat::slack::verify::{Verifier, unix_now};
use std::process::Stdio;
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

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list.
    }
    opsbot::install_crypto();
    let rate = env_num("BENCH_RATE", 500);
    let secs = env_num("BENCH_SECS", 10);
    let slack = FakeSlack::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("opsbot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("opsbot.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[slack]\napi_url = \"{}\"\nprogress = \"none\"\n[work]\nmax_concurrent = 256\nmax_per_user = 8\n",
            slack.api_url()
        ),
    )
    .unwrap();

    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn opsbot");
    let pid = child.id().unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let ready_url = format!("http://127.0.0.1:{port}/readyz");
    let ready_after = loop {
        if let Ok(r) = http.get(&ready_url).send().await {
            if r.status() == 200 {
                break started.elapsed();
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!("opsbot not ready after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = status_kb(pid, "VmRSS:");

    let verifier = Verifier::new(SECRET);
    let url = format!("http://127.0.0.1:{port}/slack/events");
    let total = rate * secs;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    let load_start = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let body = serde_json::json!({
            "type": "event_callback", "team_id": "T0TEST", "api_app_id": "A0TEST",
            "event_id": format!("EvBench{i:08}"), "event_time": unix_now(),
            "event": {"type": "app_mention", "user": format!("U{:04}", i % 200),
                      "text": "<@UBOT> list EC2 instances in production",
                      "ts": format!("1700000000.{i:06}"), "channel": "C0BENCH"}
        })
        .to_string();
        let ts = unix_now().to_string();
        let sig = verifier.sign(&ts, body.as_bytes());
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body);
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
    let peak_rss = status_kb(pid, "VmHWM:");
    let replies = slack.ok_calls("chat.postMessage").len();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;

    println!("opsbot ack benchmark ({rate}/s for {secs} s, {total} signed app_mention events)");
    println!(
        "  start to ready:   {:.1} ms",
        ready_after.as_secs_f64() * 1e3
    );
    println!("  idle RSS:         {:.1} MiB", idle_rss as f64 / 1024.0);
    println!(
        "  ack latency p50:  {:.3} ms",
        pct(&lat, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  ack latency p99:  {:.3} ms",
        pct(&lat, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  ack latency max:  {:.3} ms",
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  throughput:       {:.0} acks/s ({} failed)",
        lat.len() as f64 / load_secs,
        failed
    );
    println!("  replies posted:   {replies}");
    println!("  peak RSS:         {:.1} MiB", peak_rss as f64 / 1024.0);
}
