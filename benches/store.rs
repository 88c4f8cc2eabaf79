//! Store benchmark: the real `opsbot` binary with the memory store and with the DynamoDB store
//! (moto's DynamoDB over 127.0.0.1), each driven at the same fixed rate of unique signed
//! `app_mention` events from 200 users. Prints ack latency (which must not depend on the store:
//! the store is used after the ack), how long until every event was answered, and DynamoDB
//! requests per answered question (from `opsbot_store_ops_total`). Asserts nothing.
//!
//! Needs a moto server: `OPSBOT_TEST_MOTO_URL` (scripts/test starts one; or run
//! `.venv/bin/moto_server -p 5000` and set it to `http://127.0.0.1:5000`).
//! Run: `cargo bench --bench store` (env `BENCH_RATE=100 BENCH_SECS=10`).

#[path = "common/bot.rs"]
mod bot;
#[path = "../tests/it/dynamo_table.rs"]
mod dynamo_table;
#[path = "../tests/it/fake_slack.rs"]
mod fake_slack;

use bot::{Bot, SECRET, at_rate, env_num, mention, print_latency};
use fake_slack::{BOT_TOKEN, FakeSlack};
use opsbot::chat::slack::verify::Verifier;
use std::time::{Duration, Instant};

/// Sum of every sample of the metric family `name` in a Prometheus text body.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0
}

async fn phase(http: &reqwest::Client, store: &str, moto: Option<&str>) {
    let rate = env_num("BENCH_RATE", 100);
    let secs = env_num("BENCH_SECS", 10);
    let slack = FakeSlack::start().await;
    let mut envs = vec![
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
    ];
    let mut body = format!(
        "[slack]\napi_url = \"{}\"\nprogress = \"none\"\n[work]\nmax_concurrent = 256\nmax_per_user = 8\n",
        slack.api_url()
    );
    if let Some(url) = moto {
        let table = dynamo_table::table(&dynamo_table::client(url)).await;
        body.push_str(&format!(
            "[store]\nkind = \"dynamodb\"\n[store.dynamodb]\ntable = \"{table}\"\nregion = \"us-east-1\"\n"
        ));
        envs.extend([
            ("AWS_ENDPOINT_URL_DYNAMODB", url.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]);
    }
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bot = Bot::launch(&body, &envs, http).await;
    let verifier = Verifier::new(SECRET);
    let url = format!("http://127.0.0.1:{}/slack/events", bot.port);
    let total = rate * secs;
    let started = Instant::now();
    let (lat, failed, _) = at_rate(total, rate, |i| mention(http, &url, &verifier, i)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (slack.ok_calls("chat.postMessage").len() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = slack.ok_calls("chat.postMessage").len();
    let all_answered = started.elapsed();
    let metrics = http
        .get(format!("http://127.0.0.1:{}/metrics", bot.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ops = metric_sum(&metrics, "opsbot_store_ops_total");
    let fallbacks = metric_sum(&metrics, "opsbot_store_fallbacks_total");
    println!("{store} store ({rate}/s for {secs} s, {total} signed app_mention events, 200 users)");
    print_latency(&lat);
    println!(
        "  answered:         {answered} of {total} ({failed} acks not 200), all within {:.1} s of the first event",
        all_answered.as_secs_f64()
    );
    if moto.is_some() {
        println!(
            "  DynamoDB requests: {ops:.0} ({:.2} per answered question), {fallbacks:.0} fallbacks",
            ops / answered.max(1) as f64
        );
    }
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
    println!("opsbot store benchmark");
    phase(&http, "memory", None).await;
    match std::env::var("OPSBOT_TEST_MOTO_URL") {
        Ok(url) => phase(&http, "DynamoDB (moto)", Some(&url)).await,
        Err(_) => println!(
            "DynamoDB phase skipped: set OPSBOT_TEST_MOTO_URL to a moto server (see the header)"
        ),
    }
}
