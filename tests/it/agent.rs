//! The agent end to end: Slack → core → Bedrock (wire-exact fake, scripted) → our tools →
//! the signed MCP client → the hosted-server fake (SigV4 checked, run_script executed against
//! moto with the signer's credentials) → a threaded answer whose tables hold exactly what the
//! seeded accounts contain.

use crate::fake_bedrock::{self, FakeBedrock};
use crate::helpers::*;
use crate::peers::FakeMcp;
use opsbot::agent::bedrock::Bedrock;
use opsbot::aws::sts::SdkSts;
use opsbot::core::answer::{Answer, Block, Table};
use opsbot::core::inbound::Platform;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

pub const MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

pub fn creds() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("testing", "testing", None, None, "test")
}

pub fn sections() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent");
    format!(
        "[accounts]\nfile = \"{dir}/accounts.toml\"\naccess_file = \"{dir}/access.toml\"\n\
         [identity]\nproviders = [\"static\"]\nstatic_file = \"{dir}/groups.toml\"\nhelp_contact = \"#platform\"\n"
    )
}

/// A running app with the agent wired to `mcp` and a fake Bedrock playing `script`.
pub struct AgentApp {
    pub app: TestApp,
    pub tap: Arc<Tap>,
    pub bedrock: FakeBedrock,
}

pub async fn agent_app(mcp: &FakeMcp, script: fake_bedrock::Script, extra: &str) -> AgentApp {
    agent_app_with(mcp, script, extra, |b| b).await
}

/// [`agent_app`], letting `more` replace or wrap further services.
pub async fn agent_app_with(
    mcp: &FakeMcp,
    script: fake_bedrock::Script,
    extra: &str,
    more: impl FnOnce(opsbot::app::AppBuilder) -> opsbot::app::AppBuilder,
) -> AgentApp {
    agent_app_on(None, mcp, script, extra, more).await
}

/// [`agent_app_with`] on an existing fake Slack (`Some`: another replica of the same bot).
pub async fn agent_app_on(
    slack: Option<crate::fake_slack::FakeSlack>,
    mcp: &FakeMcp,
    script: fake_bedrock::Script,
    extra: &str,
    more: impl FnOnce(opsbot::app::AppBuilder) -> opsbot::app::AppBuilder,
) -> AgentApp {
    let url = mcp.mcp_url();
    let mcp_section =
        format!("url = \"{url}\"\nsigning_region = \"us-east-1\"\nserver = \"hosted\"\n");
    agent_app_at(slack, &mcp_section, mcp, script, extra, more).await
}

/// [`agent_app_on`] with `mcp_section` as the body of `[mcp]` (another server or URL); STS and
/// AWS still go to `mcp`'s moto.
pub async fn agent_app_at(
    slack: Option<crate::fake_slack::FakeSlack>,
    mcp_section: &str,
    mcp: &FakeMcp,
    script: fake_bedrock::Script,
    extra: &str,
    more: impl FnOnce(opsbot::app::AppBuilder) -> opsbot::app::AppBuilder,
) -> AgentApp {
    let bedrock = FakeBedrock::start(script).await;
    let tap_slot: Arc<Mutex<Option<Arc<Tap>>>> = Arc::default();
    let slot = tap_slot.clone();
    let moto = mcp.moto_url();
    let bedrock_url = bedrock.url();
    let toml_extra = format!(
        "[mcp]\n{mcp_section}[agent]\nmodel_id = \"{MODEL}\"\nmax_turns = 6\ndeadline_seconds = 60\n{extra}"
    );
    // The agent's sections go after [slack] (which TestApp writes), so they are appended.
    let wire = move |b: opsbot::app::AppBuilder| {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("us-east-1"))
                .endpoint_url(&moto)
                .credentials_provider(creds())
                .build(),
        );
        let tap = Tap::for_builder(&b);
        *slot.lock().unwrap() = Some(tap.clone());
        more(b.sink(Platform::Slack, tap))
            .sts(Arc::new(SdkSts::new(sts)))
            .model(Arc::new(Bedrock::for_endpoint(
                MODEL,
                "us-east-1",
                true,
                &bedrock_url,
                creds(),
            )))
    };
    let app = match slack {
        Some(s) => TestApp::start_on(s, &sections(), &toml_extra, wire).await,
        None => TestApp::start_custom(&sections(), &toml_extra, wire).await,
    };
    let tap = tap_slot.lock().unwrap().clone().unwrap();
    AgentApp { app, tap, bedrock }
}

/// The model: asks for `tool` input depending on the question, then answers with text.
pub fn scripted(route: fn(&str) -> Value) -> fake_bedrock::Script {
    Arc::new(move |req: &Value| {
        if fake_bedrock::tool_results(req).is_some() {
            return fake_bedrock::text("Here is what I found in your accounts.");
        }
        let q = fake_bedrock::question(req);
        fake_bedrock::tool_use(&[("t1", "aws_read", route(&q))])
    })
}

pub fn five_questions(q: &str) -> Value {
    let q = q.to_lowercase();
    if q.contains("ec2") {
        json!({"service": "ec2", "operation": "DescribeInstances", "accounts": ["production"]})
    } else if q.contains("s3") {
        json!({"service": "s3", "operation": "ListBuckets", "accounts": ["all"]})
    } else if q.contains("lambda") {
        json!({"service": "lambda", "operation": "ListFunctions", "accounts": ["staging"]})
    } else if q.contains("eks") {
        json!({"service": "eks", "operation": "ListClusters", "accounts": ["222222222222"]})
    } else {
        json!({"service": "rds", "operation": "DescribeDBInstances", "accounts": ["all"]})
    }
}

/// The resource table of an answer (the last table: counts come first).
pub fn resource_table(a: &Answer) -> Table {
    a.blocks
        .iter()
        .rev()
        .find_map(|b| match b {
            Block::Table(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no table in {a:#?}"))
}

/// (account name, region, first data column) of every row.
pub fn rows(t: &Table, col: &str) -> BTreeSet<(String, String, String)> {
    let i = t.columns.iter().position(|c| c == col).unwrap();
    t.rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[i].clone()))
        .collect()
}

/// What the seed says exists: (account name, region, name) for `kind`.
pub fn truth(
    seed: &Value,
    kind: &str,
    field: Option<&str>,
    accounts: &[&str],
) -> BTreeSet<(String, String, String)> {
    let name_of = |id: &str| match id {
        "111111111111" => "production",
        "222222222222" => "staging",
        _ => "sandbox",
    };
    let mut out = BTreeSet::new();
    for (id, regions) in seed.as_object().unwrap() {
        if !accounts.contains(&id.as_str()) {
            continue;
        }
        for (region, kinds) in regions.as_object().unwrap() {
            for item in kinds[kind].as_array().unwrap() {
                let v = match field {
                    Some(f) => item[f].as_str().unwrap().to_string(),
                    None => item.as_str().unwrap().to_string(),
                };
                out.insert((name_of(id).to_string(), region.clone(), v));
            }
        }
    }
    out
}

#[tokio::test]
async fn five_questions_get_threaded_answers_with_exactly_the_seeded_resources() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let a = agent_app(&mcp, scripted(five_questions), "").await;
    let questions = [
        "list all EC2 instances in the production account",
        "show me S3 buckets across all accounts",
        "what Lambda functions exist in staging?",
        "describe EKS clusters in account 222222222222",
        "how many RDS instances are running in each account?",
    ];
    for (i, q) in questions.iter().enumerate() {
        let ts = format!("1700005000.{:06}", i + 1);
        a.app
            .event(&envelope(&event_id(), mention("U1", "C0OPS", &ts, q)))
            .await;
        a.tap.answer(i + 1).await;
    }
    let answers: Vec<Answer> = a.tap.seen().into_iter().map(|(_, a)| a).collect();
    let all = ["111111111111", "222222222222", "333333333333"];
    // EC2 in production, both regions (by instance id).
    assert_eq!(
        rows(&resource_table(&answers[0]), "id"),
        truth(&seed, "ec2", Some("id"), &["111111111111"])
    );
    // S3 across all accounts: S3 is global, listed once per account.
    let s3: BTreeSet<(String, String)> = rows(&resource_table(&answers[1]), "name")
        .into_iter()
        .map(|(a, _, n)| (a, n))
        .collect();
    let s3_truth: BTreeSet<(String, String)> = truth(&seed, "s3", None, &all)
        .into_iter()
        .map(|(a, _, n)| (a, n))
        .collect();
    assert_eq!(s3, s3_truth);
    assert_eq!(
        rows(&resource_table(&answers[2]), "name"),
        truth(&seed, "lambda", None, &["222222222222"])
    );
    assert_eq!(
        rows(&resource_table(&answers[3]), "name"),
        truth(&seed, "eks", None, &["222222222222"])
    );
    assert_eq!(
        rows(&resource_table(&answers[4]), "id"),
        truth(&seed, "rds", None, &all)
    );
    // Counts per account and region come with a multi-target answer.
    let counts = answers[4]
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.columns == ["account", "region", "count"] => Some(t.clone()),
            _ => None,
        })
        .expect("a counts table");
    assert_eq!(counts.rows.len(), 6, "3 accounts × 2 regions");

    // Every MCP call ran in the account it was meant for, signed as that account's role.
    let calls = mcp.get("calls").await;
    assert!(!calls.as_array().unwrap().is_empty());
    for c in calls.as_array().unwrap() {
        assert!(all.contains(&c["account"].as_str().unwrap()), "{c}");
    }
    let ec2_calls: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "DescribeInstances")
        .collect();
    assert!(ec2_calls.iter().all(|c| c["account"] == "111111111111"));

    // Threaded in Slack, with the answer's text and a table.
    let posts = a.app.slack.ok_calls("chat.postMessage");
    assert!(
        posts
            .iter()
            .any(|p| p.body["thread_ts"] == "1700005000.000001")
    );
    // Bedrock was called with the tools, cache points and a signed request.
    let reqs = a.bedrock.requests();
    assert!(reqs.iter().all(|r| r.signed && r.model == MODEL));
    let tools = reqs[0].body["toolConfig"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|t| t["toolSpec"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"list_accounts") && names.contains(&"aws_read"),
        "{names:?}"
    );
    assert!(
        tools.iter().any(|t| t.get("cachePoint").is_some()),
        "cache point after the tools"
    );
    assert!(
        reqs[0].body["system"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.get("cachePoint").is_some())
    );
    let system = reqs[0].body["system"][0]["text"].as_str().unwrap();
    assert!(system.contains("production, sandbox, staging"), "{system}");
}

#[tokio::test]
async fn a_follow_up_in_the_thread_sees_the_history_and_narrows_the_call() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let script: fake_bedrock::Script = Arc::new(|req: &Value| {
        if fake_bedrock::tool_results(req).is_some() {
            return fake_bedrock::text("Done.");
        }
        let q = fake_bedrock::question(req);
        let mut input =
            json!({"service": "ec2", "operation": "DescribeInstances", "accounts": ["prod"]});
        if q.contains("stopped") {
            input["params"] =
                json!({"Filters": [{"Name": "instance-state-name", "Values": ["stopped"]}]});
        }
        fake_bedrock::tool_use(&[("t1", "aws_read", input)])
    });
    let a = agent_app(&mcp, script, "").await;
    a.app
        .event(&envelope(
            &event_id(),
            mention(
                "U1",
                "C0OPS",
                "1700006000.000001",
                "list all EC2 instances in the production account",
            ),
        ))
        .await;
    a.tap.answer(1).await;
    let follow = json!({"type": "message", "channel_type": "channel", "user": "U1",
        "text": "only the stopped ones", "ts": "1700006000.000009", "thread_ts": "1700006000.000001", "channel": "C0OPS"});
    a.app.event(&envelope(&event_id(), follow)).await;
    let second = a.tap.answer(2).await;
    let stopped: BTreeSet<String> = truth(&seed, "ec2", Some("id"), &["111111111111"])
        .into_iter()
        .filter(|(_, region, id)| {
            seed["111111111111"][region]["ec2"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == id.as_str() && i["state"] == "stopped")
        })
        .map(|(_, _, id)| id)
        .collect();
    let got: BTreeSet<String> = rows(&resource_table(&second), "id")
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(got, stopped);
    let reqs = a.bedrock.requests();
    let last_first_turn = reqs
        .iter()
        .rfind(|r| fake_bedrock::tool_results(&r.body).is_none())
        .unwrap();
    let msgs = last_first_turn.body["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0]["content"][0]["text"], "list all EC2 instances in the production account",
        "the thread's earlier question is in the conversation"
    );
    let posts = a.app.slack.ok_calls("chat.postMessage");
    assert!(
        posts
            .iter()
            .all(|p| p.body["thread_ts"] == "1700006000.000001")
    );
}

/// Tool calls the model tries, each of which must be refused before MCP.
#[tokio::test]
async fn the_terminal_asks_and_runs_through_the_same_agent() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let bedrock = FakeBedrock::start(scripted(five_questions)).await;
    let dir = std::env::temp_dir().join(format!("opsbot-it-{}-agent-terminal", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("opsbot.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}[mcp]\nurl = \"{}\"\nendpoint_regions = [\"us-east-1\", \"eu-west-1\"]\nserver = \"hosted\"\n[agent]\nmodel_id = \"{MODEL}\"\n",
            sections(),
            mcp.mcp_regional()
        ),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        let cfg = cfg.clone();
        let moto = mcp.moto_url();
        let bedrock = bedrock.url();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
                .args(&args[..1])
                .arg("--config")
                .arg(&cfg)
                .args(["--as", "u1@example.com", "--json"])
                .args(&args[1..])
                .env_remove("SLACK_BOT_TOKEN")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ENDPOINT_URL_STS", &moto)
                .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &bedrock)
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Answer>(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
        }
    };
    let asked = run(vec![
        "ask".into(),
        "list all EC2 instances in the production account".into(),
    ])
    .await;
    assert_eq!(
        rows(&resource_table(&asked), "id"),
        truth(&seed, "ec2", Some("id"), &["111111111111"])
    );
    let ran = run(vec![
        "run".into(),
        "all".into(),
        "eks".into(),
        "ListClusters".into(),
    ])
    .await;
    assert_eq!(
        rows(&resource_table(&ran), "name"),
        truth(
            &seed,
            "eks",
            None,
            &["111111111111", "222222222222", "333333333333"]
        )
    );
}

#[tokio::test]
async fn check_aws_reports_the_mcp_server_and_the_model() {
    let mcp = FakeMcp::start();
    let bedrock = FakeBedrock::start(Arc::new(|_: &Value| fake_bedrock::text("OK"))).await;
    let dir = std::env::temp_dir().join(format!("opsbot-it-{}-agent-check", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("opsbot.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}[mcp]\nurl = \"{}\"\nendpoint_regions = [\"us-east-1\", \"eu-west-1\"]\nserver = \"hosted\"\n[agent]\nmodel_id = \"{MODEL}\"\n",
            sections(),
            mcp.mcp_regional()
        ),
    )
    .unwrap();
    let check = |bedrock_url: String| {
        let cfg = cfg.clone();
        let moto = mcp.moto_url();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
                .args(["check", "--aws", "--config"])
                .arg(&cfg)
                .env("SLACK_BOT_TOKEN", "x")
                .env("SLACK_SIGNING_SECRET", "y")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ENDPOINT_URL_STS", &moto)
                .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_url)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .output()
                .await
                .unwrap()
        }
    };
    let out = check(bedrock.url()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every endpoint in use (the accounts' Regions both have one) lists its tools.
    for region in ["us-east-1", "eu-west-1"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("MCP {region}"))
                    && l.contains("ok  4 tools: aws___run_script")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("Bedrock         ok  {MODEL}")),
        "{stdout}"
    );
    // Bedrock unreachable: the check fails and says which keys to look at.
    let out = check("http://127.0.0.1:9".into()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Bedrock         ERROR") && stdout.contains("agent.model_id"),
        "{stdout}"
    );
}
