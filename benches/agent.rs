//! Agent benchmarks (prints figures; asserts nothing). Against the wire-exact hosted MCP fake
//! (tests/py/fake_aws_mcp.py, with its own moto for STS and AWS) and the Converse fake:
//!
//! 1. **Fan-out**: one read in 1 account × 1 region vs 10 accounts × 2 regions, the server
//!    taking 200 ms per call (`BENCH_MCP_DELAY_MS`), against the Python fake (whose own CPU work
//!    per call runs one at a time under Python's GIL) and against a Rust MCP stub that only
//!    sleeps. Goal: the fan-out's AWS phase ≤ 1.3× one call.
//! 2. **Compaction**: what the model reads for the five product questions over a realistic
//!    estate (the seeded accounts plus 40 EC2 instances and 25 Lambda functions in production),
//!    compacted (view columns, capped) vs the pruned raw results; tokens estimated as
//!    characters / 4. Goal: ≤ 50%.
//! 3. **End to end**: a question answered with a model at 1.5 s per turn and AWS at 300 ms per
//!    call; the bot's own overhead (everything but model and AWS time). Goal: ≤ 10% of the
//!    total.
//!
//! The MCP quota (inventory and `run all` at 25 accounts × 3 Regions) is `benches/quota.rs`.
//!
//! Run: `scripts/test` once (it makes the venvs), then `cargo bench --bench agent`.

#[path = "../tests/it/fake_bedrock.rs"]
mod fake_bedrock;
#[path = "../tests/it/peers.rs"]
mod peers;

use opsbot::access::Authorization;
use opsbot::accounts::discover::AccountBook;
use opsbot::accounts::{Registry, Settings};
use opsbot::agent::Agent;
use opsbot::agent::bedrock::Bedrock;
use opsbot::agent::present::{self, ReadRecord};
use opsbot::aws::mcp::client::McpServer;
use opsbot::aws::mcp::pool::McpPool;
use opsbot::aws::pool::{CredentialPool, PoolSettings};
use opsbot::aws::read::fanout;
use opsbot::aws::read::guard;
use opsbot::aws::read::reader::{ReadSettings, Reader};
use opsbot::aws::scoped::ScopedAws;
use opsbot::aws::sts::SdkSts;
use opsbot::core::inbound::{ChatUser, Place, PlaceKind, Platform};
use opsbot::core::respond::{AnswerRequest, Progress, Responder};
use opsbot::identity::{Identity, Person};
use opsbot::metrics::Metrics;
use opsbot::policy::{Allowed, Decision};
use opsbot::retry::RetryPolicy;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn creds() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("testing", "testing", None, None, "bench")
}

/// A registry of `n` accounts, each in us-east-1 and eu-west-1 (the fake's first three are seeded).
fn registry(n: usize) -> Registry {
    let mut toml = String::new();
    for i in 0..n {
        let id = match i {
            0 => "111111111111".to_string(),
            1 => "222222222222".to_string(),
            2 => "333333333333".to_string(),
            i => format!("4000000000{i:02}"),
        };
        toml.push_str(&format!(
            "[[accounts]]\nid = \"{id}\"\nname = \"acct{i}\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n"
        ));
    }
    Registry::parse(&toml, "bench.toml", &Settings::default()).unwrap()
}

fn authorization(registry: &Registry) -> Authorization {
    Authorization {
        identity: Identity {
            person: Person::member(
                ChatUser::new(Platform::Terminal, "bench@example.com"),
                Some("bench@example.com".into()),
            ),
            groups: vec!["bench".into()],
        },
        place: Place::new(Platform::Terminal, "terminal", PlaceKind::Dm),
        decision: Decision {
            allowed: registry
                .all()
                .iter()
                .map(|a| Allowed {
                    id: a.id.clone(),
                    label: a.label(),
                    regions: a.regions.clone(),
                    granted_by: vec!["bench".into()],
                })
                .collect(),
            ..Decision::default()
        },
    }
}

struct Setup {
    reader: Arc<Reader>,
    aws: ScopedAws,
    auth: Authorization,
}

fn setup(mcp: &peers::FakeMcp, n: usize) -> Setup {
    setup_at(mcp, &mcp.mcp_url(), n)
}

fn setup_at(mcp: &peers::FakeMcp, mcp_url: &str, n: usize) -> Setup {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(mcp.moto_url())
            .credentials_provider(creds())
            .build(),
    );
    let pool = CredentialPool::new(
        Arc::new(SdkSts::new(sts)),
        PoolSettings::default(),
        Metrics::new(),
    );
    let registry = registry(n);
    let auth = authorization(&registry);
    let aws = ScopedAws::new(pool, &AccountBook::new(registry), &auth);
    let server = McpServer {
        endpoints: opsbot::aws::mcp::endpoints::Endpoints::Fixed(
            opsbot::aws::mcp::endpoints::Endpoint {
                url: mcp_url.to_string(),
                region: "us-east-1".into(),
            },
        ),
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
        runs_as: opsbot::aws::mcp::client::RunsAs::Signer,
    };
    let reader = Arc::new(Reader::new(
        Arc::new(McpPool::new(
            opsbot::aws::mcp::client::http_client().expect("client"),
            server,
            opsbot::aws::mcp::pace::PaceSettings::default(),
        )),
        ReadSettings::default(),
    ));
    Setup { reader, aws, auth }
}

async fn read(
    s: &Setup,
    service: &str,
    op: &str,
    accounts: &[&str],
    regions: &[&str],
) -> (ReadRecord, Duration) {
    let call = guard::validate(service, op, &Value::Null).unwrap();
    let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    let plan = fanout::plan(&s.aws, &call, &accounts, &regions);
    let t = Instant::now();
    let results = s
        .reader
        .run(
            &s.aws,
            &call,
            &plan.targets,
            &opsbot::aws::read::caps::Budget::unlimited(),
            &|_, _| {},
        )
        .await;
    let took = t.elapsed();
    for r in &results {
        if let Err(e) = &r.outcome {
            eprintln!(
                "  target {} {} failed: {}",
                r.target.name, r.target.region, e.message
            );
        }
    }
    (
        ReadRecord {
            call,
            results,
            refused: plan.refused,
        },
        took,
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A minimal MCP server: initialize, tools/list (run_script), and tools/call answering each
/// read of a batch with one page after `delay`. No signature check, no Python: only our side
/// of the fan-out is measured against it.
async fn stub(delay: Duration) -> String {
    use axum::Router;
    use axum::response::IntoResponse;
    use axum::routing::post;
    let app = Router::new().route(
        "/mcp",
        post(move |body: axum::body::Bytes| async move {
            let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = req["id"].clone();
            let result = match req["method"].as_str() {
                Some("initialize") => json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "stub", "version": "0"}}),
                Some("tools/list") => json!({"tools": [{"name": "aws___run_script", "description": "", "inputSchema": {"type": "object"}}]}),
                Some("tools/call") => {
                    tokio::time::sleep(delay).await;
                    let code = req["params"]["arguments"]["code"].as_str().unwrap_or("");
                    let batch: Vec<Value> = (0..code.matches("{\"service\": ").count())
                        .map(|_| json!({"pages": [page()], "truncated": false, "next": null, "error": null}))
                        .collect();
                    let text = json!({"status": "success", "return_value": {"batch": batch}}).to_string();
                    json!({"content": [{"type": "text", "text": text}], "isError": false})
                }
                _ => return (axum::http::StatusCode::ACCEPTED, "").into_response(),
            };
            (
                [("content-type", "application/json"), ("mcp-session-id", "stub-session")],
                json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

/// One page answering every built-in inventory kind with three items each.
fn page() -> Value {
    let n = |p: &str| (0..3).map(|i| format!("{p}-{i}")).collect::<Vec<_>>();
    json!({
        "Reservations": [{"Instances": n("i-0abc").iter().map(|id| json!({
            "InstanceId": id, "InstanceType": "m5.large", "State": {"Name": "running"},
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "platform"}]})).collect::<Vec<_>>()}],
        "Buckets": n("bucket").iter().map(|b| json!({"Name": b, "CreationDate": "2026-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "Functions": n("fn").iter().map(|f| json!({"FunctionName": f, "Runtime": "python3.12"})).collect::<Vec<_>>(),
        "DBInstances": n("db").iter().map(|d| json!({"DBInstanceIdentifier": d, "DBInstanceStatus": "available", "DBInstanceClass": "db.t3.micro"})).collect::<Vec<_>>(),
        "clusters": n("eks"),
    })
}

async fn fan_out_against(label: &str, s: &Setup, s_cold: &Setup) {
    // Warm: credentials and sessions for every account (a running bot keeps them pooled).
    read(s, "ec2", "DescribeInstances", &["all"], &[]).await;
    // Let the pacer's slots (3 requests/s per account and region) free up between runs.
    let pause = || tokio::time::sleep(Duration::from_millis(500));
    pause().await;
    let (_, one) = read(s, "ec2", "DescribeInstances", &["acct0"], &["us-east-1"]).await;
    pause().await;
    let (record, all) = read(s, "ec2", "DescribeInstances", &["all"], &[]).await;
    let (_, cold_all) = read(s_cold, "ec2", "DescribeInstances", &["all"], &[]).await;
    println!("  {label}");
    println!("    1 account × 1 region:     {:.0} ms", ms(one));
    println!(
        "    10 accounts × 2 regions:  {:.0} ms ({} targets, {:.2}× one call); cold (AssumeRole + MCP initialize per account) {:.0} ms",
        ms(all),
        record.results.len(),
        all.as_secs_f64() / one.as_secs_f64(),
        ms(cold_all)
    );
}

async fn fan_out(mcp: &peers::FakeMcp) {
    let delay = env_num("BENCH_MCP_DELAY_MS", 200);
    println!("fan-out ({delay} ms per call; warm credentials and sessions unless cold)");
    mcp.control("delay", json!({"ms": delay})).await;
    fan_out_against(
        "fake_aws_mcp.py (SigV4 verified, run_script executed against moto)",
        &setup(mcp, 10),
        &setup(mcp, 10),
    )
    .await;
    mcp.control("delay", json!({"ms": 0})).await;
    let url = stub(Duration::from_millis(delay)).await;
    fan_out_against(
        "Rust MCP stub (sleeps only)",
        &setup_at(mcp, &url, 10),
        &setup_at(mcp, &url, 10),
    )
    .await;
}

async fn compaction(mcp: &peers::FakeMcp) {
    mcp.control(
        "seed_bulk",
        json!({"account": "111111111111", "region": "us-east-1", "ec2": 40, "lambda": 25}),
    )
    .await;
    let s = setup(mcp, 3);
    let questions: [(&str, &str, &str, &[&str]); 5] = [
        (
            "EC2 instances in production",
            "ec2",
            "DescribeInstances",
            &["acct0"],
        ),
        (
            "S3 buckets across all accounts",
            "s3",
            "ListBuckets",
            &["all"],
        ),
        (
            "Lambda functions in production",
            "lambda",
            "ListFunctions",
            &["acct0"],
        ),
        (
            "EKS clusters in 222222222222",
            "eks",
            "ListClusters",
            &["222222222222"],
        ),
        (
            "RDS instances per account",
            "rds",
            "DescribeDBInstances",
            &["all"],
        ),
    ];
    // What every model call carries besides the results: the system prompt and the tool specs.
    let system = opsbot::agent::prompt::system(&s.auth, "2026-12-06");
    let tools = serde_json::to_string(
        &opsbot::agent::tools::specs(&[])
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "schema": t.schema}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let fixed = system.len() + tools.len();
    println!(
        "compaction (model input per answer: two turns of system prompt and tools, the question, one read's result; tokens ≈ characters / 4)"
    );
    println!(
        "  {:<34} {:>6} {:>10} {:>10} {:>7}",
        "question", "items", "compacted", "raw", "ratio"
    );
    let (mut sum_c, mut sum_r) = (0usize, 0usize);
    for (q, service, op, accounts) in questions {
        let (record, _) = read(&s, service, op, accounts, &[]).await;
        let compacted = present::for_model(&record, opsbot::agent::tools::ITEMS_FOR_MODEL)
            .to_string()
            .len();
        let raw = present::uncompacted(&record).to_string().len();
        let c = (2 * fixed + q.len() + compacted) / 4;
        let r = (2 * fixed + q.len() + raw) / 4;
        sum_c += c;
        sum_r += r;
        let items = present::table(&record).rows.len();
        println!(
            "  {q:<34} {items:>6} {c:>10} {r:>10} {:>6.0}%",
            100.0 * c as f64 / r as f64
        );
    }
    println!(
        "  {:<34} {:>6} {sum_c:>10} {sum_r:>10} {:>6.0}%",
        "all five",
        "",
        100.0 * sum_c as f64 / sum_r as f64
    );
    println!(
        "  (of which system prompt and tools: {} tokens per answer)",
        2 * fixed / 4
    );
}

async fn end_to_end(mcp: &peers::FakeMcp) {
    let turn = Duration::from_millis(1500);
    let call = Duration::from_millis(300);
    mcp.control("delay", json!({"ms": call.as_millis() as u64}))
        .await;
    let script: fake_bedrock::Script = Arc::new(|req: &Value| {
        if fake_bedrock::tool_results(req).is_some() {
            return fake_bedrock::text("There are 3 instances in production.");
        }
        fake_bedrock::tool_use(&[(
            "t1",
            "aws_read",
            json!({"service": "ec2", "operation": "DescribeInstances", "accounts": ["acct0"]}),
        )])
    });
    let bedrock = fake_bedrock::FakeBedrock::start(script).await;
    bedrock.set_delay(turn);
    let s = setup(mcp, 3);
    let model = Arc::new(Bedrock::for_endpoint(
        "bench-model",
        "us-east-1",
        true,
        &bedrock.url(),
        creds(),
    ));
    let settings = opsbot::agent::settings::AgentSettings {
        model_id: "bench-model".into(),
        region: "us-east-1".into(),
        max_turns: 6,
        max_tool_calls: 10,
        deadline: Duration::from_secs(60),
        max_output_tokens: 2048,
        daily_tokens_per_person: None,
        prompt_caching: true,
        audit_file: None,
    };
    let agent = Agent::new(Some(model), s.reader.clone(), Some(settings));
    println!(
        "end to end (model {:.1} s per turn, AWS {} ms per call; 2 turns, 1 read in 1 account × 2 regions)",
        turn.as_secs_f64(),
        call.as_millis()
    );
    for label in ["cold", "warm"] {
        let req = AnswerRequest {
            question: "list all EC2 instances in the production account".into(),
            history: vec![],
            authorization: Arc::new(s.auth.clone()),
            aws: s.aws.clone(),
            deadline: Instant::now() + Duration::from_secs(60),
            progress: Progress::none(),
        };
        let t = Instant::now();
        let answer = agent.answer(req).await.expect("an answer");
        let total = t.elapsed();
        let external = turn * 2 + call; // the two regions run at once
        let overhead = total.saturating_sub(external);
        assert!(!answer.blocks.is_empty());
        println!(
            "  {label}: total {:.0} ms, model + AWS {:.0} ms, opsbot's own {:.0} ms ({:.1}%)",
            ms(total),
            ms(external),
            ms(overhead),
            100.0 * overhead.as_secs_f64() / total.as_secs_f64()
        );
    }
    mcp.control("delay", json!({"ms": 0})).await;
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list.
    }
    opsbot::install_crypto();
    let mcp = peers::FakeMcp::start();
    mcp.seed().await;
    println!("opsbot agent benchmark");
    fan_out(&mcp).await;
    // Before the bulk seeding: the fake's own work per call stays small.
    end_to_end(&mcp).await;
    compaction(&mcp).await;
}
