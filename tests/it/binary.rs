//! The real `opsbot` binary: CLI behaviour, readiness, and graceful shutdown on SIGTERM.

use crate::fake_slack::{BOT_TOKEN, FakeSlack};
use crate::helpers::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_opsbot");

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("opsbot.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("opsbot-it-{}-{name}", std::process::id()))
}

#[test]
fn version_and_help_with_examples() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("opsbot "));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("serve") && help.contains("check") && help.contains("Examples"),
        "{help}"
    );
}

#[test]
fn serve_without_secrets_names_each_missing_variable() {
    let cfg = write_config(&tmp("nosecrets"), "");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("SLACK_APP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SLACK_BOT_TOKEN") && err.contains("OAuth & Permissions"),
        "{err}"
    );
    assert!(
        err.contains("SLACK_SIGNING_SECRET") && err.contains("Signing Secret"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn check_lists_every_problem_or_summarises() {
    let cfg = write_config(
        &tmp("bad"),
        "[server]\nlisten = \"nowhere\"\ncolour = 1\n[slack]\ncommand = \"aws\"\n",
    );
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&cfg)
        .env("SLACK_BOT_TOKEN", "x")
        .env("SLACK_SIGNING_SECRET", "y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "server.listen",
        "server.colour",
        "slack.command",
        "opsbot.toml",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/opsbot.example.toml");
    let out = Command::new(BIN)
        .args(["check", "--config", example])
        .env("SLACK_BOT_TOKEN", "x")
        .env("SLACK_SIGNING_SECRET", "y")
        .env_remove("SLACK_API_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the shipped example must validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("slack mode") && text.contains("accounts") && text.contains("schedules"),
        "{text}"
    );
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> Vec<u16> {
    let mut seen = Vec::new();
    for _ in 0..1000 {
        if let Ok(r) = http.get(url).send().await {
            let s = r.status().as_u16();
            if seen.last() != Some(&s) {
                seen.push(s);
            }
            if s == 200 {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("binary never became ready: {seen:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn sigterm_during_work_still_delivers_the_reply() {
    let slack = FakeSlack::start().await;
    slack.fail("auth.test", 1, "internal_error");
    slack.delay("reactions.add", Duration::from_millis(800));
    let port = free_port();
    let cfg = write_config(
        &tmp("sigterm"),
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ndrain_seconds = 10\n[slack]\napi_url = \"{}\"\n",
            slack.api_url()
        ),
    );
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env_remove("SLACK_API_URL")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let seen = wait_ready(&http, &format!("http://127.0.0.1:{port}/readyz")).await;
    assert!(
        seen.contains(&503) || slack.all_calls("auth.test").len() >= 2,
        "not ready until auth.test succeeds: {seen:?}"
    );

    let body = envelope(
        &event_id(),
        mention("U1", "C0OPS", "1700001000.000001", "describe EKS clusters"),
    )
    .to_string();
    let ts = opsbot::chat::slack::verify::unix_now().to_string();
    let sig = opsbot::chat::slack::verify::Verifier::new(SECRET).sign(&ts, body.as_bytes());
    let r = http
        .post(format!("http://127.0.0.1:{port}/slack/events"))
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The answer is now waiting on the slow reactions.add; stop the process.
    slack.wait_for("auth.test", 1).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    let posts = slack.ok_calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "reply delivered before exit");
    assert_eq!(posts[0].body["thread_ts"], "1700001000.000001");
}

#[test]
fn check_reports_registry_policy_and_identity_problems() {
    let dir = tmp("registry");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("accounts.toml"), "[[accounts]]\nid = \"111111111111\"\nname = \"prod\"\nregions = [\"us-east-1\", \"xx-fake-1\"]\n[[accounts]]\nid = \"111111111111\"\nname = \"other\"\n").unwrap();
    std::fs::write(
        dir.join("access.toml"),
        "[[grant]]\ngroup = \"admins\"\naccounts = [\"production\"]\n",
    )
    .unwrap();
    let cfg = write_config(
        &dir,
        "[accounts]\nfile = \"accounts.toml\"\naccess_file = \"access.toml\"\n[identity]\nproviders = [\"okta\", \"static\"]\n",
    );
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&cfg)
        .env("SLACK_BOT_TOKEN", "x")
        .env("SLACK_SIGNING_SECRET", "y")
        .env_remove("OKTA_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "xx-fake-1",
        "already used",
        "identity.okta.url",
        "OKTA_API_TOKEN",
        "identity.static_file",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}
