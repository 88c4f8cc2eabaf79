//! The MCP quota benchmark (prints figures; asserts nothing): a scheduled-inventory-sized read
//! of 25 accounts × 3 Regions × the 5 built-in kinds, and `/aws run all ec2 DescribeInstances`,
//! through opsbot's real reader, pool, pacer and signed client, against an in-process server
//! that enforces the AWS MCP Server's documented quota the strict way: at most 3 requests in
//! any one-second window per account per endpoint Region, every request counted (initialize,
//! the initialized notification, tools/list, tools/call, DELETE), 27 connections at once,
//! HTTP 429 (no Retry-After) beyond. It serves one endpoint per Region (`/<region>/mcp`) and
//! takes 200 ms per tool call (`BENCH_MCP_DELAY_MS`). It does not run scripts: a batch is
//! answered with one page per read, each with 3 items of every kind.
//!
//! Printed per scenario: wall time, the quota floor (the least time any client could take at
//! 3 requests per second per account and endpoint Region: (requests of the busiest key − 1) /
//! 3 s, plus one call's time), MCP requests (total and per account), 429s seen, accounts
//! complete; and the process's peak RSS. Scenarios: batched scripts (the default) and one
//! read per request (`mcp.max_reads_per_script = 1`), each cold (new credentials: sessions
//! set up) and warm (sessions reused, as a running bot has them).
//!
//! Run: `cargo bench --bench quota`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opsbot::access::Authorization;
use opsbot::accounts::discover::AccountBook;
use opsbot::accounts::{Registry, Settings};
use opsbot::aws::mcp::client::{McpServer, RunsAs, http_client};
use opsbot::aws::mcp::endpoints::{Endpoint, Endpoints, HOSTED_REGIONS};
use opsbot::aws::mcp::pace::PaceSettings;
use opsbot::aws::mcp::pool::McpPool;
use opsbot::aws::pool::{CredentialPool, PoolSettings};
use opsbot::aws::read::caps::Budget;
use opsbot::aws::read::fanout;
use opsbot::aws::read::guard;
use opsbot::aws::read::reader::{ReadSettings, Reader};
use opsbot::aws::scoped::ScopedAws;
use opsbot::aws::sts::{AssumeRequest, AwsCredentials, Sts, StsError};
use opsbot::core::inbound::{ChatUser, Place, PlaceKind, Platform};
use opsbot::identity::{Identity, Person};
use opsbot::inventory::collect::collect;
use opsbot::inventory::kinds::builtins;
use opsbot::metrics::Metrics;
use opsbot::policy::{Allowed, Decision};
use opsbot::retry::RetryPolicy;
use opsbot::secret::Secret;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

const ACCOUNTS: usize = 25;
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const RATE: usize = 3;
const CONNECTIONS: usize = 27;

/// Credentials whose access key names the account (the stub reads it back), fresh each time.
struct BenchSts(AtomicU64);

#[async_trait::async_trait]
impl Sts for BenchSts {
    async fn assume_role(&self, r: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        let account = r.role_arn.split(':').nth(4).unwrap_or("000000000000");
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Ok(AwsCredentials {
            access_key_id: format!("ASIA{account}X{n}"),
            secret_access_key: Secret::new("bench"),
            session_token: Secret::new("bench-token"),
            expiration: SystemTime::now() + Duration::from_secs(3600),
        })
    }
}

/// What the quota stub saw.
#[derive(Default)]
struct Seen {
    /// (account, endpoint) → arrival times in the last second.
    windows: HashMap<(String, String), VecDeque<Instant>>,
    in_flight: HashMap<(String, String), usize>,
    requests: BTreeMap<String, u64>,
    per_key: HashMap<(String, String), u64>,
    throttled: u64,
}

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
}

impl Stub {
    fn reset(&self) {
        *self.seen.lock().unwrap() = Seen::default();
    }
}

fn account_of(headers: &HeaderMap) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.split("Credential=ASIA")
        .nth(1)
        .map(|rest| rest.chars().take(12).collect())
        .unwrap_or_default()
}

async fn mcp(
    State(stub): State<Stub>,
    Path(region): Path<String>,
    headers: HeaderMap,
    method: axum::http::Method,
    body: axum::body::Bytes,
) -> Response {
    let key = (account_of(&headers), region);
    {
        let mut seen = stub.seen.lock().unwrap();
        let now = Instant::now();
        let window = seen.windows.entry(key.clone()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        let busy = window.len() >= RATE;
        if !busy {
            window.push_back(now);
        }
        let connections = *seen.in_flight.get(&key).unwrap_or(&0);
        if busy || connections >= CONNECTIONS {
            seen.throttled += 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                "{\"message\":\"Rate exceeded\"}",
            )
                .into_response();
        }
        *seen.in_flight.entry(key.clone()).or_default() += 1;
        *seen.requests.entry(key.0.clone()).or_default() += 1;
        *seen.per_key.entry(key.clone()).or_default() += 1;
    }
    let response = answer(&stub, &method, &body).await;
    *stub.seen.lock().unwrap().in_flight.entry(key).or_default() -= 1;
    response
}

async fn answer(stub: &Stub, method: &axum::http::Method, body: &[u8]) -> Response {
    if method == axum::http::Method::DELETE {
        return StatusCode::NO_CONTENT.into_response();
    }
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let id = req["id"].clone();
    let result = match req["method"].as_str() {
        Some("initialize") => {
            json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "quota-stub", "version": "0"}})
        }
        Some("tools/list") => {
            json!({"tools": [{"name": "aws___run_script", "description": "", "inputSchema": {"type": "object"}}]})
        }
        Some("tools/call") => {
            tokio::time::sleep(stub.delay).await;
            let code = req["params"]["arguments"]["code"].as_str().unwrap_or("");
            let reads = code.matches("{\"service\": ").count();
            let batch: Vec<Value> = (0..reads)
                .map(
                    |_| json!({"pages": [page()], "truncated": false, "next": null, "error": null}),
                )
                .collect();
            let text = json!({"status": "success", "return_value": {"batch": batch}}).to_string();
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        _ => return StatusCode::ACCEPTED.into_response(),
    };
    (
        [
            ("content-type", "application/json"),
            ("mcp-session-id", "stub-session"),
        ],
        json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
    )
        .into_response()
}

/// One page answering every built-in inventory kind with three items each.
fn page() -> Value {
    let n = |p: &str| (0..3).map(|i| format!("{p}-{i}")).collect::<Vec<_>>();
    json!({
        "Reservations": [{"Instances": n("i-0abc").iter().map(|id| json!({
            "InstanceId": id, "InstanceType": "m5.large", "State": {"Name": "running"},
            "Tags": [{"Key": "Name", "Value": "web"}]})).collect::<Vec<_>>()}],
        "Buckets": n("bucket").iter().map(|b| json!({"Name": b})).collect::<Vec<_>>(),
        "Functions": n("fn").iter().map(|f| json!({"FunctionName": f})).collect::<Vec<_>>(),
        "DBInstances": n("db").iter().map(|d| json!({"DBInstanceIdentifier": d, "DBInstanceStatus": "available"})).collect::<Vec<_>>(),
        "clusters": n("eks"),
    })
}

async fn start_stub(delay: Duration) -> (String, Stub) {
    let stub = Stub {
        seen: Arc::default(),
        delay,
    };
    let app = axum::Router::new()
        .route("/{region}/mcp", axum::routing::any(mcp))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/{{region}}/mcp"), stub)
}

fn registry() -> Registry {
    let mut toml = String::new();
    for i in 0..ACCOUNTS {
        toml.push_str(&format!(
            "[[accounts]]\nid = \"{:012}\"\nname = \"acct{i:02}\"\nregions = {:?}\n",
            600_000_000_000u64 + i as u64,
            REGIONS
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

/// The endpoints: one per Region (`regional`), or every Region through us-east-1's.
fn endpoints(url: &str, regional: bool) -> Endpoints {
    if regional {
        Endpoints::Regional {
            template: url.to_string(),
            regions: HOSTED_REGIONS.iter().map(|r| r.to_string()).collect(),
            default_region: "us-east-1".into(),
        }
    } else {
        Endpoints::Fixed(Endpoint {
            url: url.replace("{region}", "us-east-1"),
            region: "us-east-1".into(),
        })
    }
}

/// A fresh reader (no sessions yet) and scoped handle (no credentials yet).
fn setup(endpoints: Endpoints, max_reads_per_script: usize) -> (Reader, ScopedAws) {
    let registry = registry();
    let auth = authorization(&registry);
    let pool = CredentialPool::new(
        Arc::new(BenchSts(AtomicU64::new(0))),
        PoolSettings::default(),
        Metrics::new(),
    );
    let aws = ScopedAws::new(pool, &AccountBook::new(registry), &auth);
    let server = McpServer {
        endpoints,
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
        runs_as: RunsAs::Signer,
    };
    let pool = McpPool::new(http_client().unwrap(), server, PaceSettings::default());
    let settings = ReadSettings {
        max_reads_per_script,
        ..ReadSettings::default()
    };
    (Reader::new(Arc::new(pool), settings), aws)
}

struct Figures {
    wall: Duration,
    requests: u64,
    busiest: u64,
    throttled: u64,
    complete: usize,
    per_account: f64,
}

fn figures(stub: &Stub, wall: Duration, complete: usize) -> Figures {
    let seen = stub.seen.lock().unwrap();
    let requests = seen.requests.values().sum();
    Figures {
        wall,
        requests,
        busiest: seen.per_key.values().copied().max().unwrap_or(0),
        throttled: seen.throttled,
        complete,
        per_account: requests as f64 / ACCOUNTS as f64,
    }
}

fn print(label: &str, f: &Figures, delay: Duration) {
    let floor = Duration::from_secs_f64(f.busiest.saturating_sub(1) as f64 / RATE as f64) + delay;
    println!(
        "  {label:<34} {:>7.0} ms  floor {:>6.0} ms ({:.2}×)  requests {:>4} ({:.1}/account)  429s {:>3}  complete {}/{ACCOUNTS}",
        f.wall.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        f.wall.as_secs_f64() / floor.as_secs_f64(),
        f.requests,
        f.per_account,
        f.throttled,
        f.complete
    );
}

async fn inventory(
    endpoints: Endpoints,
    stub: &Stub,
    max_reads: usize,
    label: &str,
    delay: Duration,
) -> u64 {
    let (reader, aws) = setup(endpoints, max_reads);
    let kinds = builtins();
    let mut warm_requests = 0;
    for phase in ["cold", "warm"] {
        stub.reset();
        // A new second for every key before each phase.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let c = collect(&reader, &aws, &kinds, &["all".into()], &[], 0).await;
        let failed: std::collections::BTreeSet<&str> = c
            .snapshot
            .failed
            .iter()
            .map(|f| f.account.as_str())
            .collect();
        let f = figures(stub, c.elapsed, ACCOUNTS - failed.len());
        print(&format!("{label}, {phase}"), &f, delay);
        for fail in c.snapshot.failed.iter().take(3) {
            println!(
                "    failed: {} {} {}: {}",
                fail.kind, fail.account, fail.region, fail.error
            );
        }
        warm_requests = f.requests;
    }
    warm_requests
}

async fn run_all(url: &str, stub: &Stub, delay: Duration) {
    let (reader, aws) = setup(endpoints(url, true), 25);
    let call = guard::validate("ec2", "DescribeInstances", &Value::Null).unwrap();
    for phase in ["cold", "warm"] {
        stub.reset();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let plan = fanout::plan(&aws, &call, &["all".into()], &[]);
        let t = Instant::now();
        let results = reader
            .run(&aws, &call, &plan.targets, &Budget::unlimited(), &|_, _| {})
            .await;
        let failed: std::collections::BTreeSet<&str> = results
            .iter()
            .filter(|r| r.outcome.is_err())
            .map(|r| r.target.account.as_str())
            .collect();
        let f = figures(stub, t.elapsed(), ACCOUNTS - failed.len());
        print(
            &format!("run all ec2 DescribeInstances, {phase}"),
            &f,
            delay,
        );
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    opsbot::install_crypto();
    let delay = Duration::from_millis(
        std::env::var("BENCH_MCP_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200),
    );
    let (url, stub) = start_stub(delay).await;
    println!(
        "MCP quota ({ACCOUNTS} accounts × {} Regions with an endpoint each × 5 kinds; {} ms per tool call; the stub allows {RATE} requests per second and {CONNECTIONS} connections per account per endpoint Region)",
        REGIONS.len(),
        delay.as_millis()
    );
    for (regional, how) in [
        (true, "each Region's own endpoint"),
        (false, "every Region through one endpoint"),
    ] {
        println!(" {how}:");
        let e = || endpoints(&url, regional);
        let batched = inventory(e(), &stub, 25, "inventory, batched scripts", delay).await;
        let single = inventory(e(), &stub, 1, "inventory, one read per request", delay).await;
        println!(
            "  warm inventory requests: batched {batched}, one read per request {single} ({:.1}× fewer)",
            single as f64 / batched.max(1) as f64
        );
    }
    println!(" each Region's own endpoint:");
    run_all(&url, &stub, delay).await;
    println!("  peak RSS: {:.1} MiB", peak_rss_mib());
}
