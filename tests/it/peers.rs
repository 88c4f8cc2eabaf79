//! The real peers the end-to-end tests need (Python venv with slack_sdk, moto server), as
//! `scripts/test` provides them. Without them the test binary stops at once with one clear
//! message — written straight to stderr so the test harness cannot swallow it — instead of a
//! panic per test.
#![allow(
    dead_code,
    reason = "shared by tests and benches; each uses a different subset"
)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn missing(what: &str) -> ! {
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nerror: {what} is missing.\n\
         These end-to-end tests talk to real peers (moto server, slack_sdk) that scripts/test\n\
         installs into .venv and starts. Run the whole suite with:\n\n    scripts/test\n\n\
         (unit tests alone: cargo test --lib)\n"
    );
    std::process::exit(2)
}

/// The moto server URL from scripts/test.
pub fn moto() -> String {
    std::env::var("OPSBOT_TEST_MOTO_URL")
        .unwrap_or_else(|_| missing("OPSBOT_TEST_MOTO_URL (moto server)"))
}

/// The repo's Python venv interpreter (created by scripts/test).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("OPSBOT_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if !p.exists() {
        missing(&format!("{} (the test venv with slack_sdk)", p.display()));
    }
    p
}

/// The venv interpreter with the awslabs MCP server (created by scripts/test).
pub fn mcp_python() -> PathBuf {
    if let Ok(p) = std::env::var("OPSBOT_TEST_MCP_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-mcp/bin/python");
    if !p.exists() {
        missing(&format!(
            "{} (the venv with awslabs-aws-api-mcp-server)",
            p.display()
        ));
    }
    p
}

/// A Python peer that prints one JSON line when ready and runs while its stdin is open.
pub struct PyPeer {
    child: Child,
    /// What it printed when ready.
    pub ready: Value,
}

impl PyPeer {
    /// Starts `script` (under tests/py) with `python` and `args`; stderr goes to
    /// target/<name>.<pid>.log.
    pub fn start(python: &Path, script: &str, args: &[&str]) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let log_dir = dir.join("target/peer-logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let log = std::fs::File::create(log_dir.join(format!(
            "{}.{}.{}.log",
            script.trim_end_matches(".py"),
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )))
        .unwrap();
        let mut child = Command::new(python)
            .arg(dir.join("tests/py").join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("{script} did not start (see target/peer-logs/): {line:?}"));
        Self { child, ready }
    }

    /// A string field of the ready line.
    pub fn get(&self, key: &str) -> String {
        self.ready[key].as_str().unwrap_or_default().to_string()
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for PyPeer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wire-exact fake of the hosted AWS MCP Server (tests/py/fake_aws_mcp.py), with its own
/// moto inside.
pub struct FakeMcp {
    peer: PyPeer,
    http: reqwest::Client,
}

impl FakeMcp {
    /// Starts a fresh fake.
    pub fn start() -> Self {
        Self {
            peer: PyPeer::start(&python(), "fake_aws_mcp.py", &[]),
            http: reqwest::Client::new(),
        }
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        self.peer.get("mcp")
    }

    /// The endpoint per Region, `…/{region}/mcp` (for `mcp.url` with `{region}`).
    pub fn mcp_regional(&self) -> String {
        self.peer.get("mcp_regional")
    }

    /// Its moto (STS for the credential pool, and the AWS APIs the scripts call).
    pub fn moto_url(&self) -> String {
        self.peer.get("moto")
    }

    /// POSTs to a control endpoint (`seed`, `fail`, `delay`, `expire_sessions`, ...).
    pub async fn control(&self, what: &str, body: Value) -> Value {
        let url = format!("{}/{what}", self.peer.get("control"));
        let r = self.http.post(url).json(&body).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "fake control {what}: {}",
            r.status()
        );
        r.json().await.unwrap_or(Value::Null)
    }

    /// GETs a control endpoint (`calls`, `requests`, `stats`).
    pub async fn get(&self, what: &str) -> Value {
        let url = format!("{}/{what}", self.peer.get("control"));
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Seeds moto; returns the seeded truth.
    pub async fn seed(&self) -> Value {
        self.control("seed", serde_json::json!({})).await
    }

    /// The control URL (for scripts that must reach it without async).
    pub fn control_url(&self) -> String {
        self.peer.get("control")
    }
}

/// The real awslabs AWS API MCP server (`call_aws`) against the moto at `moto`.
pub fn awslabs_mcp(moto: &str) -> PyPeer {
    PyPeer::start(&mcp_python(), "awslabs_mcp.py", &["--moto", moto])
}

/// POSTs an empty body to `url` with a plain socket (from inside synchronous test scripts).
pub fn post_blocking(url: &str) {
    use std::io::Read;
    let u = url::Url::parse(url).unwrap();
    let mut s = std::net::TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        u.path(),
        u.host_str().unwrap()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(
        out.starts_with("HTTP/1.1 2") || out.starts_with("HTTP/1.0 2"),
        "{out}"
    );
}
