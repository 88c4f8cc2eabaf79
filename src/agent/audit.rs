//! One JSON line per question: who, groups, place, the accounts asked for, allowed and refused,
//! every AWS call (service, operation, account, region, outcome, duration) and token usage.
//! Written to the `audit` log target and, with `agent.audit_file`, appended to that file by a
//! background writer (bounded queue; a full queue is counted and logged, never blocks).
//! Never credentials, never redacted values.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Lines waiting for the file, at most.
const QUEUE: usize = 1024;

/// The audit sink.
#[derive(Clone)]
pub struct Audit {
    tx: Option<mpsc::Sender<String>>,
}

impl Audit {
    /// An audit writing to `file` too, when given. Must be called inside a tokio runtime.
    pub fn new(file: Option<PathBuf>) -> Self {
        let Some(path) = file else {
            return Self { tx: None };
        };
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
                })
                .await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::error!(
                        "audit line not written to agent.audit_file; check the path and permissions"
                    );
                }
            }
        });
        Self { tx: Some(tx) }
    }

    /// Records one question's line.
    pub fn record(&self, line: &Value) {
        let text = line.to_string();
        tracing::info!(target: "audit", record = %text, "answer audited");
        if let Some(tx) = &self.tx
            && tx.try_send(text).is_err()
        {
            tracing::error!("audit file queue full; line only in the log");
        }
    }
}
