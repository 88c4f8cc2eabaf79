//! The real peers the end-to-end tests need (Python venv with slack_sdk, moto server), as
//! `scripts/test` provides them. Without them the test binary stops at once with one clear
//! message — written straight to stderr so the test harness cannot swallow it — instead of a
//! panic per test.

use std::io::Write;
use std::path::{Path, PathBuf};

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
