//! The AWS MCP Server's real quota, end to end against the fake that enforces it (3 requests
//! per second per account per endpoint Region, every request counted, 27 connections; 429
//! beyond): regional endpoints, a scheduled inventory and `/aws run all` complete with every 429
//! retried, throttling to the deadline named precisely, per-API limits never batched.

use crate::agent::*;
use crate::fake_bedrock;
use crate::inventory::{csv_items, db, monday, schedule_toml, scheduler, seeded};
use crate::peers::FakeMcp;
use axum::http::StatusCode;
use opsbot::aws::mcp::client::{McpError, McpServer, McpSession, RunsAs};
use opsbot::aws::mcp::endpoints::{Endpoint, Endpoints};
use opsbot::aws::mcp::pace::{PaceSettings, Pacer};
use opsbot::core::answer::NoteKind;
use opsbot::inventory::Fired;
use opsbot::retry::RetryPolicy;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn no_model() -> fake_bedrock::Script {
    Arc::new(|_| panic!("no model here"))
}

/// `[mcp]` for the fake's regional endpoints (both test Regions have one).
fn regional(mcp: &FakeMcp) -> String {
    format!(
        "url = \"{}\"\nendpoint_regions = [\"us-east-1\", \"eu-west-1\"]\nserver = \"hosted\"\n",
        mcp.mcp_regional()
    )
}

/// Every tools/call the fake answered: (account, endpoint, target Region, status).
async fn tool_calls(mcp: &FakeMcp) -> Vec<(String, String, String, u64)> {
    mcp.get("requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rpc_method"] == "tools/call" || r["status"] == 429)
        .map(|r| {
            (
                r["account"].as_str().unwrap_or_default().to_string(),
                r["endpoint"].as_str().unwrap_or_default().to_string(),
                r["region_meta"].as_str().unwrap_or_default().to_string(),
                r["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn run_all_goes_to_each_regions_endpoint_and_completes() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let a = agent_app_at(None, &regional(&mcp), &mcp, no_model(), "", |b| b).await;
    a.app
        .command_in("run all ec2 DescribeInstances", "U1", "C0OPS", "q1")
        .await;
    let answer = a.tap.answer(1).await;
    assert!(
        answer.notes.iter().all(|n| n.kind != NoteKind::Failed),
        "complete: {:?}",
        answer.notes
    );
    let want = truth(
        &seed,
        "ec2",
        Some("id"),
        &["111111111111", "222222222222", "333333333333"],
    );
    assert_eq!(rows(&resource_table(&answer), "id"), want);
    // Each read went to the endpoint of the Region it reads, signed for it.
    let calls = tool_calls(&mcp).await;
    let ok: Vec<_> = calls.iter().filter(|c| c.3 == 200).collect();
    assert_eq!(ok.len(), 6, "one request per account and Region: {calls:?}");
    for (_, endpoint, region, _) in &ok {
        assert_eq!(endpoint, region, "{calls:?}");
    }
    // A 429, if the fake sent one, was retried: every target answered.
    let throttled = calls.iter().filter(|c| c.3 == 429).count();
    let stats = mcp.get("stats").await;
    println!("429s: {throttled}, stats: {stats}");
}

#[tokio::test]
async fn a_schedule_over_a_shared_quota_still_posts_a_complete_inventory() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    // Another client uses the same accounts: only 1 request per second per account and
    // endpoint is left for opsbot, which is configured for the full 3.
    mcp.control("rate_limit", json!({"per_second": 1})).await;
    let db = db("quota-shared");
    let a = agent_app_at(
        None,
        &regional(&mcp),
        &mcp,
        no_model(),
        &schedule_toml(&db),
        |b| b,
    )
    .await;
    let schedule = a.app.inventory().schedules()[0].clone();
    let fired = scheduler(&a, "replica-a", monday())
        .fire(&schedule, monday())
        .await;
    assert!(matches!(fired, Fired::Posted(Some(_))), "{fired:?}");
    let posted = a.tap.answer(1).await;
    assert_eq!(
        csv_items(&posted),
        seeded(&seed),
        "complete despite the 429s"
    );
    assert!(
        posted.notes.iter().all(|n| n.kind != NoteKind::Failed),
        "{:?}",
        posted.notes
    );
    let stats = mcp.get("stats").await;
    assert!(
        stats["rate_limited"].as_u64().unwrap() > 0,
        "the fake did throttle: {stats}"
    );
}

#[tokio::test]
async fn inventory_reads_are_batched_one_script_per_account_and_endpoint() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let db = db("quota-batched");
    let a = agent_app_at(
        None,
        &regional(&mcp),
        &mcp,
        no_model(),
        &schedule_toml(&db),
        |b| b,
    )
    .await;
    let schedule = a.app.inventory().schedules()[0].clone();
    scheduler(&a, "replica-a", monday())
        .fire(&schedule, monday())
        .await;
    let posted = a.tap.answer(1).await;
    assert_eq!(csv_items(&posted), seeded(&seed));
    // 3 accounts × 2 endpoints: one run_script each carries every kind for that Region.
    let calls = tool_calls(&mcp).await;
    let mut per_key: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (account, endpoint, _, status) in &calls {
        if *status == 200 {
            *per_key
                .entry((account.clone(), endpoint.clone()))
                .or_default() += 1;
        }
    }
    assert_eq!(per_key.len(), 6, "{per_key:?}");
    assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
    let boto = mcp.get("calls").await;
    assert!(
        boto.as_array().unwrap().len() >= 6 * 4,
        "each script made several AWS calls: {}",
        boto.as_array().unwrap().len()
    );
}

#[tokio::test]
async fn a_limited_api_is_never_batched() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let extra_mcp = format!(
        "{}[mcp.api_limits]\n\"lambda:ListFunctions\" = 1\n",
        regional(&mcp)
    );
    let a = agent_app_at(None, &extra_mcp, &mcp, no_model(), "", |b| b).await;
    a.app
        .command_in("run production lambda ListFunctions", "U1", "C0OPS", "q1")
        .await;
    let answer = a.tap.answer(1).await;
    assert!(
        answer.notes.iter().all(|n| n.kind != NoteKind::Failed),
        "{:?}",
        answer.notes
    );
    let calls = tool_calls(&mcp).await;
    let boto = mcp.get("calls").await;
    let listed = boto
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "ListFunctions")
        .count();
    assert_eq!(
        calls.iter().filter(|c| c.3 == 200).count(),
        listed,
        "one request per ListFunctions page: {calls:?}"
    );
}

#[tokio::test]
async fn throttled_until_the_deadline_says_which_endpoint_and_why() {
    opsbot::install_crypto();
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async {
            (
                StatusCode::TOO_MANY_REQUESTS,
                "{\"message\":\"Rate exceeded\"}",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint {
        url: format!("http://{addr}/mcp"),
        region: "eu-west-1".into(),
    };
    let server = Arc::new(McpServer {
        endpoints: Endpoints::Fixed(endpoint.clone()),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(100),
            max_wait: Duration::from_millis(500),
        },
        runs_as: RunsAs::Signer,
    });
    let creds = opsbot::aws::sts::AwsCredentials {
        access_key_id: "ASIATEST".into(),
        secret_access_key: opsbot::secret::Secret::new("s"),
        session_token: opsbot::secret::Secret::new("t"),
        expiration: std::time::SystemTime::now() + Duration::from_secs(3600),
    };
    let session = McpSession::new(
        opsbot::aws::mcp::client::http_client().unwrap(),
        server,
        endpoint,
        "111111111111",
        creds,
        Arc::new(Pacer::new(PaceSettings::default())),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let e = session
        .call_tool(
            "aws___run_script",
            json!({"code": "1"}),
            Some("eu-west-1"),
            deadline,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, McpError::Throttled { endpoint } if endpoint == "eu-west-1"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("3 requests per second per account") && text.contains("eu-west-1"),
        "{text}"
    );
    assert!(
        hits.load(Ordering::SeqCst) > 1,
        "it kept trying until the deadline"
    );
}
