//! The signed MCP client against real peers: the awslabs AWS API MCP server (`call_aws`, from
//! PyPI, offline against moto) and the wire-exact fake of the hosted server (SigV4 verified,
//! `run_script`, SSE with notifications, paging, 404 sessions, 429 quota).

use crate::peers::{FakeMcp, awslabs_mcp, moto};
use opsbot::aws::mcp::client::{McpError, McpServer, McpSession};
use opsbot::aws::mcp::endpoints::{Endpoint, Endpoints};
use opsbot::aws::mcp::pace::{PaceSettings, Pacer};
use opsbot::aws::read::fanout::{cli_value, merge_pages, script_value};
use opsbot::aws::read::guard;
use opsbot::aws::read::script;
use opsbot::aws::sts::AwsCredentials;
use opsbot::retry::RetryPolicy;
use opsbot::secret::Secret;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// A session at `url` signing for `region` as `account`, paced at `rps` requests per second
/// (a high rate plays another client sharing the account's quota).
fn session(url: &str, region: &str, account: &str, creds: AwsCredentials, rps: f64) -> McpSession {
    let endpoint = Endpoint {
        url: url.into(),
        region: region.into(),
    };
    let pacer = Arc::new(Pacer::new(PaceSettings {
        requests_per_second: rps,
        burst: 1,
        in_flight: 27,
    }));
    McpSession::new(
        opsbot::aws::mcp::client::http_client().unwrap(),
        server(endpoint.clone()),
        endpoint,
        account,
        creds,
        pacer,
    )
}

/// A deadline far enough for any test.
fn later() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

fn server(endpoint: Endpoint) -> Arc<McpServer> {
    Arc::new(McpServer {
        endpoints: Endpoints::Fixed(endpoint),
        timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(300),
            max_wait: Duration::from_secs(2),
        },
        runs_as: opsbot::aws::mcp::client::RunsAs::Signer,
    })
}

fn static_creds() -> AwsCredentials {
    AwsCredentials {
        access_key_id: "testing".into(),
        secret_access_key: Secret::new("testing"),
        session_token: Secret::new(""),
        expiration: SystemTime::now() + Duration::from_secs(3600),
    }
}

/// Credentials for `account` from the fake's moto STS (the role need not exist in moto).
async fn assumed(mcp: &FakeMcp, account: &str) -> AwsCredentials {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(mcp.moto_url())
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build(),
    );
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/opsbot-readonly"))
        .role_session_name("opsbot-test")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: Secret::new(c.secret_access_key),
        session_token: Secret::new(c.session_token),
        expiration: SystemTime::now() + Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn against_the_awslabs_server_call_aws_reads_moto_with_parameters_as_flags() {
    opsbot::install_crypto();
    let moto = moto();
    // Two instances in moto's default account: one stopped.
    let ec2 = aws_sdk_ec2_like(&moto).await;
    let peer = awslabs_mcp(&moto);
    let session = session(
        &peer.get("url"),
        "us-east-1",
        "123456789012",
        static_creds(),
        3.0,
    );
    let tools = session.list_tools(later()).await.unwrap();
    assert!(tools.iter().any(|t| t.name == "call_aws"), "{tools:?}");
    assert!(!tools.iter().any(|t| t.name == "aws___run_script"));

    let call = guard::validate(
        "ec2",
        "DescribeInstances",
        &json!({"Filters": [{"Name": "instance-id", "Values": [ec2.stopped.clone()]}]}),
    )
    .unwrap();
    let r = session
        .call_tool(
            "call_aws",
            json!({"cli_command": script::cli_command(&call, "us-east-1", script::CliStyle::Flags).unwrap()}),
            Some("us-east-1"),
            later(),
        )
        .await
        .unwrap();
    let v = cli_value(&r).unwrap();
    let ids: Vec<&str> = v["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap())
        .map(|i| i["InstanceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ec2.stopped.as_str()], "the filter was applied");
    session.close().await;
}

struct Seeded {
    stopped: String,
}

/// Starts two instances in moto (default account, us-east-1) and stops one, through moto's
/// EC2 query API with plain HTTP (no EC2 SDK crate in this project).
async fn aws_sdk_ec2_like(moto: &str) -> Seeded {
    let http = reqwest::Client::new();
    let run = http
        .post(moto)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x",
        )
        .body("Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=2&MaxCount=2&InstanceType=t3.micro")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: Vec<String> = run
        .split("<instanceId>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{run}");
    http.post(moto)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x",
        )
        .body(format!("Action=StopInstances&Version=2016-11-15&InstanceId.1={}", ids[1]))
        .send()
        .await
        .unwrap();
    Seeded {
        stopped: ids[1].clone(),
    }
}

#[tokio::test]
async fn against_the_hosted_fake_every_request_is_signed_and_runs_as_the_signer() {
    opsbot::install_crypto();
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let creds = assumed(&mcp, "111111111111").await;
    let session = session(
        &mcp.mcp_url(),
        "us-east-1",
        "111111111111",
        creds.clone(),
        3.0,
    );
    let tools = session.list_tools(later()).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "aws___run_script",
            "aws___search_documentation",
            "aws___read_documentation",
            "aws___list_regions"
        ],
        "both pages"
    );
    let call = guard::validate("ec2", "DescribeInstances", &Value::Null).unwrap();
    let r = session
        .call_tool(
            "aws___run_script",
            json!({"code": script::run_script(&call, "eu-west-1", 10)}),
            Some("eu-west-1"),
            later(),
        )
        .await
        .unwrap();
    let v = script_value(&r).unwrap();
    let merged = merge_pages(v["pages"].as_array().unwrap().clone());
    let ids: Vec<&str> = merged["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap())
        .map(|i| i["InstanceId"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = seed["111111111111"]["eu-west-1"]["ec2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);
    let calls = mcp.get("calls").await;
    assert_eq!(calls[0]["account"], "111111111111", "runs as the signer");
    assert_eq!(calls[0]["region"], "eu-west-1");
    let requests = mcp.get("requests").await;
    for r in requests.as_array().unwrap() {
        assert_eq!(r["status"].as_u64().map(|s| s < 400), Some(true), "{r}");
        let signed = r["signed_headers"].to_string();
        for h in [
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "mcp-protocol-version",
        ] {
            if r["rpc_method"] != "initialize" || !h.starts_with("mcp") {
                assert!(signed.contains(h), "{h} not signed in {r}");
            }
        }
    }
    // Session expiry: a 404 makes a new session once, transparently.
    mcp.control("expire_sessions", json!({})).await;
    session.list_tools(later()).await.unwrap();
    // Close: DELETE.
    session.close().await;
    let requests = mcp.get("requests").await;
    let last = requests.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["method"], "DELETE");
    assert_eq!(last["status"], 204);
}

#[tokio::test]
async fn a_bad_signature_region_is_refused_and_throttling_is_retried() {
    opsbot::install_crypto();
    let mcp = FakeMcp::start();
    let creds = assumed(&mcp, "222222222222").await;
    let wrong = session(
        &mcp.mcp_url(),
        "eu-west-1",
        "222222222222",
        creds.clone(),
        3.0,
    );
    match wrong.list_tools(later()).await {
        Err(McpError::Denied { status: 403, .. }) => {}
        other => panic!("{other:?}"),
    }
    // Eight concurrent calls on one account and endpoint, sent as if another client shared
    // the quota (paced at 100/s): beyond 3/s the fake answers 429, and the client waits and
    // goes again until every call succeeds.
    let session = Arc::new(session(
        &mcp.mcp_url(),
        "us-east-1",
        "222222222222",
        creds,
        100.0,
    ));
    let calls = (0..8).map(|_| {
        let s = session.clone();
        async move {
            s.call_tool("aws___list_regions", json!({}), Some("us-east-1"), later())
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let stats = mcp.get("stats").await;
    assert!(
        stats["rate_limited"].as_u64().unwrap() > 0,
        "429s happened: {stats}"
    );
}
