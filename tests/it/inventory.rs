//! Scheduled inventory end to end: the schedule acting as itself through the agent's read path
//! (signed MCP fake, moto), posted to the fake Slack as a new channel message with the CSV in
//! its thread; deltas between runs; exactly once across a restart; a failing account.

use crate::agent::{AgentApp, agent_app};
use crate::fake_bedrock;
use crate::peers::FakeMcp;
use chrono::{DateTime, TimeZone, Utc};
use opsbot::core::answer::{Answer, Block, NoteKind};
use opsbot::inventory::schedule::Clock;
use opsbot::inventory::{Fired, Scheduler};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Monday 7 December 2026, 09:00 in Berlin (08:00 UTC).
pub fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap()
}

pub fn schedule_toml(db: &std::path::Path) -> String {
    format!(
        "[inventory]\ndatabase = \"{}\"\ngrace_minutes = 30\n\
         [[schedule]]\nname = \"weekly\"\ncron = \"0 9 * * MON\"\ntimezone = \"Europe/Berlin\"\npost_to = \"slack:C0INV\"\n",
        db.display()
    )
}

pub fn db(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("opsbot-it-{}-{name}.db", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

async fn app(mcp: &FakeMcp, db: &std::path::Path) -> AgentApp {
    let script: fake_bedrock::Script = Arc::new(|_| panic!("inventory never calls the model"));
    agent_app(mcp, script, &schedule_toml(db)).await
}

pub fn scheduler(a: &AgentApp, owner: &str, at: DateTime<Utc>) -> Scheduler {
    Scheduler::new(
        a.app.inventory().clone(),
        a.app.core().clone(),
        Clock::starting_at(at),
        owner.into(),
    )
}

/// (kind, account id, region, id) of every CSV row that is not a removal.
pub fn csv_items(a: &Answer) -> BTreeSet<(String, String, String, String)> {
    let csv = &a.attachments[0].content;
    csv.lines()
        .skip(1)
        .filter(|l| !l.ends_with(",removed"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                c[2].to_string(),
                c[3].to_string(),
                c[4].to_string(),
            )
        })
        .collect()
}

pub fn seeded(seed: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for (account, regions) in seed.as_object().unwrap() {
        for (region, kinds) in regions.as_object().unwrap() {
            for (kind, label) in [
                ("ec2", "EC2"),
                ("s3", "S3"),
                ("lambda", "Lambda"),
                ("rds", "RDS"),
                ("eks", "EKS"),
            ] {
                for item in kinds[kind].as_array().unwrap() {
                    let id = item
                        .get("id")
                        .and_then(Value::as_str)
                        .or(item.as_str())
                        .unwrap();
                    out.insert((label.into(), account.clone(), region.clone(), id.into()));
                }
            }
        }
    }
    out
}

fn summary_row(a: &Answer, account: &str) -> Vec<String> {
    let Block::Table(t) = &a.blocks[1] else {
        panic!("summary table expected: {a:#?}")
    };
    t.rows.iter().find(|r| r[0] == account).cloned().unwrap()
}

#[tokio::test]
async fn a_scheduled_run_posts_exactly_the_seeded_inventory_as_the_schedule() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let db = db("inv-truth");
    let a = app(&mcp, &db).await;
    let schedule = a.app.inventory().schedules()[0].clone();
    let fired = scheduler(&a, "t1", monday())
        .fire(&schedule, monday())
        .await;
    assert!(matches!(fired, Fired::Posted(Some(_))), "{fired:?}");
    let answer = a.tap.answer(1).await;
    assert_eq!(csv_items(&answer), seeded(&seed));
    assert!(answer.notes.is_empty(), "{:#?}", answer.notes);
    assert_eq!(
        summary_row(&answer, "production")[1],
        "3",
        "EC2 in production: 2 + 1"
    );
    // A new top-level post in the channel, the CSV in its thread.
    let posts = a.app.slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posts[0].body["channel"], "C0INV");
    assert!(posts[0].body.get("thread_ts").is_none());
    let files = a
        .app
        .slack
        .wait_for("files.completeUploadExternal", 1)
        .await;
    assert_eq!(files[0].body["thread_ts"], "1700000000.000001");
    // Every AWS call of the run carries the schedule's session name.
    let calls = mcp.get("calls").await;
    let calls = calls.as_array().unwrap();
    assert!(calls.len() >= 5 * 3, "{}", calls.len());
    for c in calls {
        assert_eq!(c["role_session"], "opsbot-schedule-weekly", "{c}");
    }
}

#[tokio::test]
async fn the_second_run_shows_deltas_and_changes() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let db = db("inv-delta");
    let a = app(&mcp, &db).await;
    let schedule = a.app.inventory().schedules()[0].clone();
    let s = scheduler(&a, "t1", monday());
    assert!(matches!(
        s.fire(&schedule, monday()).await,
        Fired::Posted(_)
    ));
    a.tap.answer(1).await;

    // Between the runs: production stops "web", terminates "api" in eu-west-1; staging gets a
    // new bucket; sandbox loses its bucket.
    let prod = &seed["111111111111"];
    let web = prod["us-east-1"]["ec2"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api = prod["eu-west-1"]["ec2"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    mcp.control("aws", json!({"account": "111111111111", "service": "ec2", "operation": "StopInstances", "params": {"InstanceIds": [web]}})).await;
    mcp.control("aws", json!({"account": "111111111111", "region": "eu-west-1", "service": "ec2", "operation": "TerminateInstances", "params": {"InstanceIds": [api]}})).await;
    mcp.control("aws", json!({"account": "222222222222", "service": "s3", "operation": "CreateBucket", "params": {"Bucket": "opsbot-new-222222222222"}})).await;
    mcp.control("aws", json!({"account": "333333333333", "service": "s3", "operation": "DeleteBucket", "params": {"Bucket": "opsbot-logs-333333333333"}})).await;

    let next = monday() + chrono::Duration::days(7);
    assert!(matches!(s.fire(&schedule, next).await, Fired::Posted(_)));
    let second = a.tap.answer(2).await;
    let text = second.to_markdown();
    let prod_row = summary_row(&second, "production");
    assert_eq!(
        prod_row[1], "2 (-1)",
        "EC2 in production lost one: {prod_row:?}"
    );
    assert!(
        text.contains(&format!("removed: production EC2 in eu-west-1: `{api}`")),
        "{text}"
    );
    assert_eq!(
        summary_row(&second, "staging")[2],
        "2 (+1)",
        "S3 in staging"
    );
    assert_eq!(
        summary_row(&second, "sandbox")[2],
        "0 (-1)",
        "S3 in sandbox"
    );
    assert!(
        text.contains(&format!("changed: production EC2 in us-east-1: `{web}`")),
        "{text}"
    );
    assert!(
        text.contains("state running → stopped") || text.contains("state running → stopping"),
        "{text}"
    );
    assert!(
        text.contains("added: staging S3 in us-east-1: `opsbot-new-222222222222`"),
        "{text}"
    );
    assert!(
        text.contains("removed: sandbox S3 in us-east-1: `opsbot-logs-333333333333`"),
        "{text}"
    );
    assert!(
        second.attachments[0]
            .content
            .contains("opsbot-logs-333333333333")
            && second.attachments[0].content.contains(",removed")
    );
}

#[tokio::test]
async fn a_restart_around_the_scheduled_time_posts_once() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let db = db("inv-restart");
    // The first process posts the 09:00 run at 09:00:10 and stops.
    {
        let a = app(&mcp, &db).await;
        let schedule = a.app.inventory().schedules()[0].clone();
        let s = scheduler(&a, "first", monday() + chrono::Duration::seconds(10));
        assert!(matches!(
            s.catch_up(&schedule).await,
            Some(Fired::Posted(_))
        ));
        a.app.shutdown().await;
    }
    // The next process starts at 09:05 with the same database: nothing to catch up.
    let a = app(&mcp, &db).await;
    let schedule = a.app.inventory().schedules()[0].clone();
    let s = scheduler(&a, "second", monday() + chrono::Duration::minutes(5));
    assert_eq!(s.catch_up(&schedule).await, None);
    assert_eq!(
        s.fire(&schedule, monday()).await,
        Fired::AlreadyPosted,
        "a retry never posts twice"
    );
    // A run missed by more than the grace window is skipped.
    let late = scheduler(
        &a,
        "second",
        monday() + chrono::Duration::days(7) + chrono::Duration::minutes(45),
    );
    assert_eq!(late.catch_up(&schedule).await, None);
    // One missed within the window runs once.
    let soon = scheduler(
        &a,
        "second",
        monday() + chrono::Duration::days(7) + chrono::Duration::minutes(10),
    );
    assert!(matches!(
        soon.catch_up(&schedule).await,
        Some(Fired::Posted(_))
    ));
    assert_eq!(soon.catch_up(&schedule).await, None);
    assert_eq!(
        a.app.slack.ok_calls("chat.postMessage").len(),
        1,
        "this process posted once"
    );
}

#[tokio::test]
async fn one_failing_account_is_named_and_the_rest_is_complete() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    mcp.control(
        "fail",
        json!({"account": "222222222222", "code": "AccessDenied", "message": "role trust policy"}),
    )
    .await;
    let db = db("inv-fail");
    let a = app(&mcp, &db).await;
    let schedule = a.app.inventory().schedules()[0].clone();
    assert!(matches!(
        scheduler(&a, "t", monday()).fire(&schedule, monday()).await,
        Fired::Posted(_)
    ));
    let answer = a.tap.answer(1).await;
    let failed: Vec<_> = answer
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Failed)
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|n| n.account == "staging (222222222222)" && n.text.contains("AccessDenied"))
    );
    assert_eq!(summary_row(&answer, "staging")[1], "failed");
    let want: BTreeSet<_> = seeded(&seed)
        .into_iter()
        .filter(|(_, acct, _, _)| acct != "222222222222")
        .collect();
    assert_eq!(csv_items(&answer), want);
}

#[tokio::test]
async fn inventory_on_demand_compares_with_the_channels_last_scheduled_run() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let db = db("inv-demand");
    let a = app(&mcp, &db).await;
    let schedule = a.app.inventory().schedules()[0].clone();
    assert!(matches!(
        scheduler(&a, "t", monday()).fire(&schedule, monday()).await,
        Fired::Posted(_)
    ));
    a.tap.answer(1).await;
    let r = a
        .app
        .command_in("inventory production", "U1", "C0INV", "inv1")
        .await;
    assert_eq!(r.status(), 200);
    let answer = a.tap.answer(2).await;
    let text = answer.to_markdown();
    assert!(
        text.contains("compared with the last \"weekly\" post"),
        "{text}"
    );
    assert!(
        text.contains("**Changes:** none."),
        "only production was read, so nothing else counts as removed: {text}"
    );
    let Block::Table(t) = &answer.blocks[1] else {
        panic!()
    };
    assert_eq!(t.rows.len(), 1, "production only");
}

#[tokio::test]
async fn the_terminal_prints_a_schedules_inventory() {
    let mcp = FakeMcp::start();
    let seed = mcp.seed().await;
    let dir = std::env::temp_dir().join(format!("opsbot-it-{}-inv-cli", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("opsbot.toml");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent");
    std::fs::write(
        &cfg,
        format!(
            "[accounts]\nfile = \"{fixtures}/accounts.toml\"\naccess_file = \"{fixtures}/access.toml\"\n\
             [mcp]\nurl = \"{}\"\nsigning_region = \"us-east-1\"\nserver = \"hosted\"\n{}",
            mcp.mcp_url(),
            schedule_toml(&dir.join("runs.db"))
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["inventory", "--config"])
        .arg(&cfg)
        .args(["--schedule", "weekly", "--once", "--json"])
        .env_remove("SLACK_BOT_TOKEN")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_STS", mcp.moto_url())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Answer = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(csv_items(&answer), seeded(&seed));
    let posted = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["inventory", "--config"])
        .arg(&cfg)
        .args(["--schedule", "weekly", "--once", "--post"])
        .env_remove("SLACK_BOT_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(posted.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&posted.stderr).contains("--post needs SLACK_BOT_TOKEN"));
}
