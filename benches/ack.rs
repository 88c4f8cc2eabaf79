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

#[path = "common/bot.rs"]
mod bot;

use bot::{Bot, SECRET, at_rate, env_num, mention, ms, print_latency, status_kb};
use fake_slack::FakeSlack;
use opsbot::chat::slack::verify::Verifier;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    let (lat, failed, load_secs) =
        at_rate(total, rate, |i| mention(http, &url, &verifier, i)).await;
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
    print_latency(&lat);
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
    print_latency(&lat);
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
    let (lat, failed, load_secs) = at_rate(total, rate, |i| {
        let mut a = teams_wire::message(
            &teams_wire::Place::Personal,
            &teams_wire::ALICE,
            "help",
            &fake.service_url(),
        );
        // 200 people, each in their own personal chat.
        a["from"]["aadObjectId"] = format!("a11ce000-0000-4000-8000-{:012}", i % 200).into();
        a["conversation"]["id"] = format!("a:bench{}", i % 200).into();
        http.post(&url).header("authorization", &token).json(&a)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "teams phase ({rate}/s for {secs} s, {total} JWT-signed message activities, 200 people)"
    );
    println!("  start to ready:   {:.1} ms", ms(bot.ready_after));
    print_latency(&lat);
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
