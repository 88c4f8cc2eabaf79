//! Running one validated read across accounts × regions: targets resolved within the person's
//! authorization (the rest refused, with why), every target called concurrently within the
//! [`Limiter`], each with that person's credentials for that account through its own MCP
//! session, results parsed defensively, pages merged, secrets redacted. A target that fails is
//! a per-target error; the others still answer.

use super::caps::Budget;
use super::guard::ReadCall;
use super::limiter::Limiter;
use super::redact;
use super::script;
use crate::accounts::Registry;
use crate::aws::mcp::client::{McpError, ToolResult};
use crate::aws::mcp::pool::McpPool;
use crate::aws::scoped::{ScopeError, ScopedAws};
use crate::aws::sts::StsError;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The hosted server's script tool.
pub const RUN_SCRIPT: &str = "aws___run_script";

/// One account in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Account id.
    pub account: String,
    /// `name (id)`.
    pub label: String,
    /// Account name.
    pub name: String,
    /// Region.
    pub region: String,
}

/// What was asked for but not run, and why (becomes a refused note and a tool result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The account (or name) asked for, with the region when it was the region.
    pub what: String,
    /// Why, naming what may be used instead.
    pub why: String,
}

/// The targets of a call and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPlan {
    /// Where to run.
    pub targets: Vec<Target>,
    /// What was refused.
    pub refused: Vec<Refused>,
}

/// Operations that are the same in every region: called once per account.
pub fn is_global(service: &str, operation: &str) -> bool {
    matches!(
        service,
        "iam" | "organizations" | "route53" | "cloudfront" | "globalaccelerator"
    ) || (service, operation) == ("s3", "ListBuckets")
}

/// Resolves `accounts` (names, ids, aliases, environments, `all`; empty = all) and `regions`
/// (empty = each account's allowed regions) within what `aws` may reach.
pub fn plan(
    aws: &ScopedAws,
    call: &ReadCall,
    accounts: &[String],
    regions: &[String],
) -> TargetPlan {
    let allowed = Registry::new(aws.accounts().iter().map(|a| a.account.clone()).collect());
    let ids: Vec<String> = aws
        .accounts()
        .iter()
        .map(|a| a.account.id.clone())
        .collect();
    let mut plan = TargetPlan::default();
    let queries: Vec<String> = if accounts.is_empty() {
        vec!["all".into()]
    } else {
        accounts.to_vec()
    };
    let mut chosen: Vec<String> = Vec::new();
    for q in &queries {
        match allowed.resolve(q, &ids) {
            Ok(found) => {
                for a in found {
                    if !chosen.contains(&a.id) {
                        chosen.push(a.id.clone());
                    }
                }
            }
            Err(e) => plan.refused.push(Refused {
                what: q.clone(),
                why: e.to_string(),
            }),
        }
    }
    for id in chosen {
        let Ok(sa) = aws.account(&id) else { continue };
        let wanted: Vec<String> = if regions.is_empty() {
            sa.regions.clone()
        } else {
            regions.iter().map(|r| r.trim().to_lowercase()).collect()
        };
        let mut regions_here = Vec::new();
        for r in wanted {
            match aws.check_region(&id, &r) {
                Ok(()) => regions_here.push(r),
                Err(e) => plan.refused.push(Refused {
                    what: format!("{} in {r}", sa.account.label()),
                    why: e.to_string(),
                }),
            }
        }
        if is_global(&call.service, &call.operation) {
            regions_here.truncate(1);
        }
        for region in regions_here {
            plan.targets.push(Target {
                account: id.clone(),
                label: sa.account.label(),
                name: sa.account.name.clone(),
                region,
            });
        }
    }
    plan
}

/// Why one target failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// A short code (`AccessDenied`, `throttled`, `credentials`).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// One target's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    /// Where it ran.
    pub target: Target,
    /// The merged result, or why there is none.
    pub outcome: Result<Value, TargetError>,
    /// More pages existed than were followed.
    pub truncated: bool,
    /// Secret values replaced.
    pub redacted: usize,
    /// How long the call took.
    pub elapsed: Duration,
}

/// Runs reads through the MCP server.
pub struct Reader {
    mcp: Arc<McpPool>,
    limiter: Limiter,
    max_pages: u32,
}

impl Reader {
    /// A reader over `mcp`, paced by `limiter`, following at most `max_pages` pages.
    pub fn new(mcp: Arc<McpPool>, limiter: Limiter, max_pages: u32) -> Self {
        Self {
            mcp,
            limiter,
            max_pages,
        }
    }

    /// The MCP pool.
    pub fn mcp(&self) -> &Arc<McpPool> {
        &self.mcp
    }

    /// Runs `call` on every target concurrently within `budget` (a target still running at its
    /// deadline, or whose result would exceed its bytes, becomes a per-target error);
    /// `progress(done, total)` after each.
    pub async fn run(
        &self,
        aws: &ScopedAws,
        call: &ReadCall,
        targets: &[Target],
        budget: &Budget,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Vec<TargetResult> {
        let done = AtomicUsize::new(0);
        let total = targets.len();
        let runs = targets.iter().map(|t| {
            let done = &done;
            async move {
                let started = Instant::now();
                let r = match tokio::time::timeout_at(budget.deadline(), self.one(aws, call, t))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => TargetResult {
                        target: t.clone(),
                        outcome: Err(Budget::late()),
                        truncated: false,
                        redacted: 0,
                        elapsed: started.elapsed(),
                    },
                };
                let r = hold(r, budget);
                progress(done.fetch_add(1, Ordering::SeqCst) + 1, total);
                r
            }
        });
        futures_util::future::join_all(runs).await
    }

    async fn one(&self, aws: &ScopedAws, call: &ReadCall, target: &Target) -> TargetResult {
        let started = Instant::now();
        let _turn = self.limiter.acquire(&target.account, &target.region).await;
        let outcome = self.call(aws, call, target).await;
        let (outcome, truncated, redacted) = match outcome {
            Ok((mut v, truncated)) => {
                let n = redact::redact(&mut v);
                (Ok(v), truncated, n)
            }
            Err(e) => (Err(e), false, 0),
        };
        TargetResult {
            target: target.clone(),
            outcome,
            truncated,
            redacted,
            elapsed: started.elapsed(),
        }
    }

    async fn call(
        &self,
        aws: &ScopedAws,
        call: &ReadCall,
        target: &Target,
    ) -> Result<(Value, bool), TargetError> {
        let creds = aws
            .credentials(&target.account)
            .await
            .map_err(scope_error)?;
        let tools = self.mcp.tools(&creds).await.map_err(mcp_error)?;
        let session = self.mcp.session(&creds).await;
        let has = |n: &str| tools.iter().any(|t| t.name == n);
        let cli_tool = ["aws___call_aws", "call_aws"].into_iter().find(|n| has(n));
        if has(RUN_SCRIPT) {
            let code = script::run_script(call, &target.region, self.max_pages);
            let r = session
                .call_tool(RUN_SCRIPT, json!({ "code": code }), Some(&target.region))
                .await
                .map_err(mcp_error)?;
            let value = script_value(&r)?;
            let truncated = value["truncated"].as_bool().unwrap_or(false);
            let pages = match value.get("pages") {
                Some(Value::Array(p)) => p.clone(),
                _ => vec![value],
            };
            Ok((merge_pages(pages), truncated))
        } else if let Some(tool) = cli_tool {
            let cmd = script::cli_command(call, &target.region, script::CliStyle::for_tool(tool))
                .map_err(|e| TargetError {
                code: "refused".into(),
                message: e.to_string(),
            })?;
            let r = session
                .call_tool(tool, json!({ "cli_command": cmd }), Some(&target.region))
                .await
                .map_err(mcp_error)?;
            Ok((cli_value(&r)?, false))
        } else {
            Err(TargetError {
                code: "no_tool".into(),
                message:
                    "the MCP server offers neither aws___run_script nor call_aws; check [mcp] url"
                        .into(),
            })
        }
    }
}

/// Charges a result's size to `budget`; one that does not fit is dropped for an error.
fn hold(mut r: TargetResult, budget: &Budget) -> TargetResult {
    if let Ok(v) = &r.outcome {
        let mut size = Count(0);
        if serde_json::to_writer(&mut size, v).is_err() {
            size.0 = usize::MAX;
        }
        let size = size.0;
        if let Err(e) = budget.hold(size) {
            r.outcome = Err(e);
        }
    }
    r
}

/// Counts bytes written (a result's JSON size, without building it).
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Merges pages: lists are concatenated, everything else is taken from the first page.
pub fn merge_pages(pages: Vec<Value>) -> Value {
    let mut it = pages.into_iter();
    let Some(Value::Object(mut first)) = it.next() else {
        return Value::Null;
    };
    for page in it {
        let Value::Object(p) = page else { continue };
        for (k, v) in p {
            if let (Some(Value::Array(acc)), Value::Array(more)) = (first.get_mut(&k), v) {
                acc.extend(more);
            }
        }
    }
    for k in [
        "NextToken",
        "nextToken",
        "NextMarker",
        "Marker",
        "NextContinuationToken",
        "IsTruncated",
    ] {
        first.remove(k);
    }
    first.remove("ResponseMetadata");
    Value::Object(first)
}

/// The value a `run_script` result carries: the `{status, return_value}` wrapper, or a bare
/// value; an error status or `isError` is a per-target error.
pub fn script_value(r: &ToolResult) -> Result<Value, TargetError> {
    let parsed: Option<Value> = serde_json::from_str(r.text.trim()).ok();
    match parsed {
        Some(Value::Object(m)) if m.contains_key("status") => {
            let status = m["status"].as_str().unwrap_or("");
            if matches!(status, "success" | "ok" | "completed") && !r.is_error {
                Ok(m.get("return_value")
                    .or(m.get("result"))
                    .cloned()
                    .unwrap_or(Value::Null))
            } else {
                let err = m
                    .get("error")
                    .map(|e| match e {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| format!("script status {status}"));
                Err(aws_error(&err))
            }
        }
        _ if r.is_error => Err(aws_error(&r.text)),
        Some(v) => Ok(v),
        None => Err(TargetError {
            code: "unreadable".into(),
            message: format!(
                "the MCP server's answer was not JSON: {}",
                redact::redact_text(&r.text)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        }),
    }
}

/// The value a `call_aws` result carries (`[{response: {as_json, error, error_code}}]`).
pub fn cli_value(r: &ToolResult) -> Result<Value, TargetError> {
    let list = r
        .structured
        .as_ref()
        .and_then(|s| s.get("result"))
        .cloned()
        .or_else(|| serde_json::from_str::<Value>(&r.text).ok());
    let first = match list {
        Some(Value::Array(items)) => items.into_iter().next(),
        Some(other @ Value::Object(_)) => Some(other),
        _ => None,
    };
    let Some(item) = first else {
        return Err(if r.is_error {
            aws_error(&r.text)
        } else {
            TargetError {
                code: "unreadable".into(),
                message: "call_aws answered no result".into(),
            }
        });
    };
    let resp = &item["response"];
    if let Some(e) = resp.get("error").filter(|e| !e.is_null()) {
        let code = resp["error_code"].as_str().unwrap_or("");
        return Err(aws_error(&format!("{code}: {}", cell_text(e))));
    }
    let json = resp["as_json"].as_str().unwrap_or("null");
    let mut v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("ResponseMetadata");
    }
    Ok(v)
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An AWS error text (`AccessDenied: ...`) as a target error with what to do, secrets in it
/// redacted.
pub fn aws_error(text: &str) -> TargetError {
    let text = redact::redact_text(text.trim());
    let text = text.as_str();
    let code = text
        .split([':', ' ', '('])
        .find(|w| !w.is_empty() && w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .unwrap_or("Error")
        .to_string();
    let hint = match code.as_str() {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError" => {
            " — the read-only role may not call this; check its policy (iam/member-role.yaml)"
        }
        "OptInRequired" | "InvalidClientTokenId" | "UnrecognizedClientException" => {
            " — the region may not be enabled in this account"
        }
        "ThrottlingException"
        | "Throttling"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => " — AWS is throttling; try again in a minute",
        _ => "",
    };
    let short: String = text.chars().take(300).collect();
    TargetError {
        code,
        message: format!("{short}{hint}"),
    }
}

fn scope_error(e: ScopeError) -> TargetError {
    match e {
        ScopeError::Sts(s) => TargetError {
            code: match &s {
                StsError::Throttled => "throttled".into(),
                _ => "credentials".into(),
            },
            message: s.to_string(),
        },
        other => TargetError {
            code: "refused".into(),
            message: other.to_string(),
        },
    }
}

fn mcp_error(e: McpError) -> TargetError {
    TargetError {
        code: match &e {
            McpError::Throttled => "throttled",
            McpError::Denied { .. } => "denied",
            _ => "mcp",
        }
        .into(),
        message: redact::redact_text(&e.to_string()),
    }
}

#[cfg(test)]
#[path = "fanout_tests.rs"]
mod tests;
