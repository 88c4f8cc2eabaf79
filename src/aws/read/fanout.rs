//! One validated read across accounts × regions: the targets, resolved within the person's
//! authorization (the rest refused, with why), and what each target's answer means: results
//! parsed defensively (`run_script`'s wrapper or a bare value, `call_aws`'s list), pages
//! merged, AWS errors turned into per-target errors that say what to do. The
//! [`super::reader::Reader`] runs them.

use super::guard::ReadCall;
use super::redact;
use crate::accounts::Registry;
use crate::aws::mcp::client::{McpError, ToolResult};
use crate::aws::scoped::{ScopeError, ScopedAws};
use crate::aws::sts::StsError;
use serde_json::Value;
use std::time::Duration;

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

/// Why credentials could not be had, as a target error.
pub(crate) fn scope_error(e: ScopeError) -> TargetError {
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

/// An MCP failure as a target error.
pub(crate) fn mcp_error(e: McpError) -> TargetError {
    TargetError {
        code: match &e {
            McpError::Throttled { .. } | McpError::Late { .. } => "throttled",
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
