//! Bounds on every read path, end to end: an answer's fan-out caps, its deadline cutting reads
//! still running, an MCP server that redirects (never followed: the signed request, session and
//! token would travel), and a self-hosted MCP server that says on every answer what it loses.

use crate::agent::*;
use crate::fake_bedrock;
use crate::helpers::*;
use crate::peers::{FakeMcp, awslabs_mcp};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use opsbot::core::answer::NoteKind;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn no_model() -> fake_bedrock::Script {
    Arc::new(|_| panic!("run never calls the model"))
}

#[tokio::test]
async fn a_read_beyond_the_fan_out_cap_is_cut_and_the_answer_says_so() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let a = agent_app(
        &mcp,
        scripted(
            |_| json!({"service": "ec2", "operation": "DescribeInstances", "accounts": ["all"]}),
        ),
        "[work]\nmax_targets_per_read = 2\nmax_targets_per_answer = 4\n",
    )
    .await;
    // Three accounts × two regions = six targets wanted; two may run.
    a.app
        .event(&envelope(
            &event_id(),
            mention(
                "U1",
                "C0OPS",
                "1700009000.000001",
                "list every EC2 instance",
            ),
        ))
        .await;
    let answer = a.tap.answer(1).await;
    let calls = mcp.get("calls").await;
    assert_eq!(calls.as_array().unwrap().len(), 2, "{calls}");
    let cut: Vec<_> = answer
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Refused)
        .collect();
    assert_eq!(cut.len(), 1, "{:?}", answer.notes);
    assert!(cut[0].account.contains("4 more"), "{cut:?}");
    assert!(cut[0].text.contains("work.max_targets_per_read"), "{cut:?}");
    // The model was told too, so it can say what is missing.
    let told = a.bedrock.requests().iter().any(|r| {
        fake_bedrock::tool_results(&r.body)
            .is_some_and(|t| format!("{t:?}").contains("work.max_targets_per_read"))
    });
    assert!(told);
}

#[tokio::test]
async fn the_answer_deadline_cuts_reads_still_running_into_a_partial_answer() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    // Every MCP answer takes 40 s; the answer has 10 s.
    mcp.control("delay", json!({"ms": 40_000})).await;
    let a = agent_app(
        &mcp,
        scripted(|_| json!({"service": "ec2", "operation": "DescribeInstances", "accounts": ["production"]})),
        "[work]\nanswer_timeout_seconds = 10\n",
    )
    .await;
    a.app
        .event(&envelope(
            &event_id(),
            mention("U1", "C0OPS", "1700009100.000001", "list EC2 in production"),
        ))
        .await;
    let answer = a.tap.answer(1).await;
    let text = answer.to_markdown();
    assert!(text.contains("ran out of time"), "{text}");
    assert!(
        answer
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::Failed && n.text.contains("deadline")),
        "{:?}",
        answer.notes
    );
}

/// A server that answers every request with a 307 to `to`.
async fn redirecting(to: String) -> String {
    let app = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

/// A server that counts what reaches it.
async fn counting() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async { StatusCode::OK }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/mcp"), hits)
}

#[tokio::test]
async fn an_mcp_redirect_is_never_followed() {
    let mcp = FakeMcp::start();
    let (elsewhere, hits) = counting().await;
    let url = redirecting(elsewhere).await;
    let section = format!("url = \"{url}\"\nsigning_region = \"us-east-1\"\nserver = \"hosted\"\n");
    let a = agent_app_at(None, &section, &mcp, no_model(), "", |b| b).await;
    a.app
        .command_in(
            "run production ec2 DescribeInstances --region us-east-1",
            "U1",
            "C0OPS",
            "redir",
        )
        .await;
    let answer = a.tap.answer(1).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the redirect's target"
    );
    let failed: Vec<_> = answer
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", answer.notes);
    assert!(
        failed[0].text.contains("never follows redirects"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_self_hosted_mcp_server_is_named_on_every_answer_it_served() {
    let mcp = FakeMcp::start();
    let peer = awslabs_mcp(&mcp.moto_url());
    let section = format!(
        "url = \"{}\"\nsigning_region = \"us-east-1\"\nserver = \"self_hosted\"\n",
        peer.get("url")
    );
    let a = agent_app_at(None, &section, &mcp, no_model(), "", |b| b).await;
    a.app
        .command_in("run production s3 ListBuckets", "U1", "C0OPS", "self")
        .await;
    let text = a.tap.answer(1).await.to_markdown();
    assert!(text.contains("its own identity"), "{text}");
    assert!(
        text.contains("not with the asking person's credentials"),
        "{text}"
    );
}
