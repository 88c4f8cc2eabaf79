//! One JSON line per question: who, groups, place, the accounts asked for, allowed and refused,
//! every AWS call (service, operation, parameters, account, region, outcome, duration), every
//! refusal's reason, and token usage. Written to the `audit` log target and, with
//! `agent.audit_file`, appended to that file by a background writer (bounded queue; a full queue
//! is counted and logged, never blocks). The file is created `0600`; an existing one readable by
//! others is tightened to `0600` with a warning.
//!
//! Never credentials, never redacted values: parameters go through the results' redactor
//! ([`params`], size-capped) and every string of the line through the text redactor.

use crate::aws::read::redact;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Lines waiting for the file, at most.
const QUEUE: usize = 1024;
/// Most bytes of one call's parameters kept in the audit line.
pub const MAX_PARAMS: usize = 2048;
/// The audit file's mode.
const MODE: u32 = 0o600;

/// The audit sink.
#[derive(Clone)]
pub struct Audit {
    tx: Option<mpsc::Sender<String>>,
}

/// A call's parameters as the audit keeps them: redacted, and cut to [`MAX_PARAMS`] bytes of
/// JSON text when longer.
pub fn params(p: &Map<String, Value>) -> Value {
    let mut v = Value::Object(p.clone());
    redact::redact(&mut v);
    let text = v.to_string();
    if text.len() <= MAX_PARAMS {
        return v;
    }
    let mut cut = MAX_PARAMS;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!("{}… ({} bytes)", &text[..cut], text.len()))
}

/// Every string in `v` through the text redactor.
fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => {
            let clean = redact::redact_text(s);
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::Object(m) => m.values_mut().for_each(scrub),
        _ => {}
    }
}

/// Opens `path` for appending, creating it `0600`.
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(MODE)
        .open(path)
}

/// Tightens an existing audit file that others may read or write to `0600`; `true` if it was
/// wider.
fn tighten(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE))?;
    Ok(true)
}

impl Audit {
    /// An audit writing to `file` too, when given. Must be called inside a tokio runtime.
    pub fn new(file: Option<PathBuf>) -> Self {
        let Some(path) = file else {
            return Self { tx: None };
        };
        match tighten(&path) {
            Ok(true) => tracing::warn!(
                path = %path.display(),
                "agent.audit_file was readable by others; its permissions are now 0600 (owner only)"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(
                path = %path.display(),
                error = %e,
                "cannot restrict agent.audit_file to 0600; check who owns it"
            ),
        }
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || {
                    open(&path).and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
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

    /// Records one question's line (every string in it through the text redactor first).
    pub fn record(&self, line: &Value) {
        let mut line = line.clone();
        scrub(&mut line);
        let text = line.to_string();
        tracing::info!(target: "audit", record = %text, "answer audited");
        if let Some(tx) = &self.tx
            && tx.try_send(text).is_err()
        {
            tracing::error!("audit file queue full; line only in the log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("opsbot-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    async fn lines(path: &Path, n: usize) -> Vec<Value> {
        for _ in 0..500 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= n {
                return text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        panic!("{n} lines never written to {}", path.display());
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_audit_file_is_owner_only() {
        let path = temp("new");
        let audit = Audit::new(Some(path.clone()));
        audit.record(&json!({"kind": "ask"}));
        assert_eq!(lines(&path, 1).await[0]["kind"], "ask");
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn an_existing_audit_file_readable_by_others_is_tightened() {
        let path = temp("wide");
        std::fs::write(&path, "{\"kind\":\"old\"}\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let audit = Audit::new(Some(path.clone()));
        assert_eq!(mode(&path), 0o600, "tightened at start");
        audit.record(&json!({"kind": "run"}));
        let got = lines(&path, 2).await;
        assert_eq!(got[0]["kind"], "old", "kept, appended to");
        assert_eq!(got[1]["kind"], "run");
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn lines_carry_redacted_capped_params_and_no_secret_text() {
        let path = temp("scrub");
        let audit = Audit::new(Some(path.clone()));
        let p = json!({"Filters": [{"Name": "tag:x", "Values": ["a"]}],
            "Parameters": [{"ParameterKey": "DbPassword", "ParameterValue": "hunter2"}],
            "SessionToken": "FwoGZX"});
        let kept = params(p.as_object().unwrap());
        assert_eq!(kept["Filters"], p["Filters"]);
        audit.record(&json!({
            "refused": ["x: https://b/k?X-Amz-Signature=deadbeef AKIAIOSFODNN7EXAMPLE password=pw"],
            "calls": [{"params": kept}],
            "tokens": {"input": 5},
        }));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let text = if text.is_empty() {
            lines(&path, 1).await[0].to_string()
        } else {
            text
        };
        for secret in [
            "hunter2",
            "FwoGZX",
            "deadbeef",
            "AKIAIOSFODNN7EXAMPLE",
            "=pw",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("\"input\":5"), "{text}");
        let big: Map<String, Value> = [("Filters".to_string(), json!("x".repeat(10_000)))]
            .into_iter()
            .collect();
        let cut = params(&big);
        assert!(cut.as_str().unwrap().len() < MAX_PARAMS + 40, "{cut}");
        assert!(cut.as_str().unwrap().ends_with("(10014 bytes)"), "{cut}");
        std::fs::remove_file(&path).unwrap();
    }
}
