//! Many validated reads in one `aws___run_script` request. The hosted server's quota counts
//! requests, not AWS calls, and one script may make many `call_boto3` calls: so every read for
//! one account through one endpoint goes in one script (bounded by `mcp.max_reads_per_script`),
//! each read paginated inside the script up to `mcp.max_pages`, each read's pages or error
//! returned on its own so one failing read or Region never fails the rest.
//!
//! The code is written only by us, from validated calls: every name is checked by the guard and
//! every parameter is embedded as a Python literal (data, never code).

use super::fanout::{self, TargetError};
use super::guard::ReadCall;
use super::script::{py_literal, py_str};
use serde_json::Value;

/// Pagination tokens: (field in the response, parameter to send it back in).
pub const TOKENS: &[(&str, &str)] = &[
    ("NextToken", "NextToken"),
    ("nextToken", "nextToken"),
    ("NextMarker", "Marker"),
    ("Marker", "Marker"),
    ("NextContinuationToken", "ContinuationToken"),
    ("NextPageToken", "PageToken"),
];

/// One read in a batch: the call, the Region it targets, and how many pages to follow.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRead<'a> {
    /// The validated call (its params are the first page's).
    pub call: &'a ReadCall,
    /// The Region the call runs in.
    pub region: &'a str,
    /// Pages to follow inside the script (1: the caller follows `next` itself).
    pub max_pages: u32,
}

/// One read's outcome inside a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutcome {
    /// The merged pages, or the read's own error.
    pub outcome: Result<Value, TargetError>,
    /// More pages existed than were followed.
    pub truncated: bool,
    /// The parameters for the next page when truncated (`{..params, token_param: token}`).
    pub next: Option<Value>,
}

/// The script for `reads`. Its `result` is `{"batch": [{"pages", "truncated", "next",
/// "error"}, ...]}`, one entry per read, in order.
pub fn render(reads: &[BatchRead<'_>]) -> String {
    let list = reads
        .iter()
        .map(|r| {
            format!(
                "    {{\"service\": {}, \"operation\": {}, \"region\": {}, \"max_pages\": {}, \"params\": {}}},\n",
                py_str(&r.call.service),
                py_str(&r.call.operation),
                py_str(r.region),
                r.max_pages.max(1),
                py_literal(&Value::Object(r.call.params.clone())),
            )
        })
        .collect::<String>();
    let what = reads
        .iter()
        .map(|r| format!("{} {} in {}", r.call.service, r.call.operation, r.region))
        .collect::<Vec<_>>()
        .join("; ");
    let tokens = TOKENS
        .iter()
        .map(|(o, i)| format!("({}, {})", py_str(o), py_str(i)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "# opsbot read-only batch, generated from validated requests: {what}\n\
         reads = [\n{list}]\n\
         tokens = [{tokens}]\n\
         out = []\n\
         for r in reads:\n\
         \x20   params = r[\"params\"]\n\
         \x20   pages = []\n\
         \x20   truncated = False\n\
         \x20   follow = None\n\
         \x20   error = None\n\
         \x20   while True:\n\
         \x20       try:\n\
         \x20           resp = await call_boto3(service_name=r[\"service\"], operation_name=r[\"operation\"], region_name=r[\"region\"], params=params)\n\
         \x20       except Exception as e:\n\
         \x20           error = str(e)\n\
         \x20           break\n\
         \x20       pages.append(resp)\n\
         \x20       follow = None\n\
         \x20       for out_key, in_key in tokens:\n\
         \x20           token = resp.get(out_key)\n\
         \x20           if token and (out_key != \"Marker\" or resp.get(\"IsTruncated\")):\n\
         \x20               follow = (in_key, token)\n\
         \x20               break\n\
         \x20       if follow is None:\n\
         \x20           break\n\
         \x20       params = {{**params, follow[0]: follow[1]}}\n\
         \x20       if len(pages) >= r[\"max_pages\"]:\n\
         \x20           truncated = True\n\
         \x20           break\n\
         \x20   out.append({{\"pages\": pages, \"truncated\": truncated, \"next\": params if truncated else None, \"error\": error}})\n\
         result = {{\"batch\": out}}\n"
    )
}

/// Reads a batch's value (already unwrapped from the server's result) for `n` reads; `None`
/// when it is not a batch of `n` (the whole request then counts as failed).
pub fn parse(value: &Value, n: usize) -> Option<Vec<ReadOutcome>> {
    let items = value.get("batch")?.as_array()?;
    if items.len() != n {
        return None;
    }
    Some(items.iter().map(read_outcome).collect())
}

fn read_outcome(item: &Value) -> ReadOutcome {
    let pages = match item.get("pages") {
        Some(Value::Array(p)) => p.clone(),
        _ => Vec::new(),
    };
    let error = item.get("error").and_then(Value::as_str);
    let truncated = item["truncated"].as_bool().unwrap_or(false);
    let outcome = match error {
        Some(e) if pages.is_empty() => Err(fanout::aws_error(&client_error_text(e))),
        Some(e) => {
            // Some pages came back before a page failed: keep them, say it is partial.
            tracing::info!(error = %client_error_text(e), "a later page failed; partial result");
            Ok(fanout::merge_pages(pages))
        }
        None => Ok(fanout::merge_pages(pages)),
    };
    let partial = error.is_some() && outcome.is_ok();
    ReadOutcome {
        outcome,
        truncated: truncated || partial,
        next: item.get("next").filter(|n| n.is_object()).cloned(),
    }
}

/// botocore's `An error occurred (Code) when calling the Op operation: message` as
/// `Code: message`, so the code is what [`fanout::aws_error`] reads first.
fn client_error_text(text: &str) -> String {
    let Some(rest) = text.strip_prefix("An error occurred (") else {
        return text.to_string();
    };
    let Some((code, tail)) = rest.split_once(')') else {
        return text.to_string();
    };
    let message = tail.split_once(": ").map_or(tail, |(_, m)| m).trim();
    format!("{code}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(service: &str, operation: &str, params: Value) -> ReadCall {
        ReadCall {
            service: service.into(),
            operation: operation.into(),
            params: params.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn one_script_carries_every_read_as_data() {
        let ec2 = call(
            "ec2",
            "DescribeInstances",
            json!({"Filters": [{"Name": "tag:x", "Values": ["\"); import os; os.system(\"x"]}]}),
        );
        let s3 = call("s3", "ListBuckets", json!({}));
        let code = render(&[
            BatchRead {
                call: &ec2,
                region: "eu-west-1",
                max_pages: 10,
            },
            BatchRead {
                call: &s3,
                region: "us-east-1",
                max_pages: 1,
            },
        ]);
        assert_eq!(
            code.matches("call_boto3(").count(),
            1,
            "one call site, in a loop"
        );
        assert!(code.contains(r#"{"service": "ec2", "operation": "DescribeInstances", "region": "eu-west-1", "max_pages": 10, "params": {"Filters": [{"Name": "tag:x", "Values": ["\"); import os; os.system(\"x"]}]}},"#), "{code}");
        assert!(code.contains(r#"{"service": "s3", "operation": "ListBuckets", "region": "us-east-1", "max_pages": 1, "params": {}},"#), "{code}");
        assert!(code.ends_with("result = {\"batch\": out}\n"));
        assert_eq!(
            code.matches("import").count(),
            1,
            "only inside the escaped literal: {code}"
        );
    }

    #[test]
    fn each_read_answers_on_its_own() {
        let v = json!({"batch": [
            {"pages": [{"Buckets": [{"Name": "a"}]}, {"Buckets": [{"Name": "b"}]}], "truncated": false, "next": null, "error": null},
            {"pages": [], "truncated": false, "next": null, "error": "An error occurred (AccessDenied) when calling the DescribeInstances operation: not allowed"},
            {"pages": [{"Reservations": []}], "truncated": true, "next": {"NextToken": "t2"}, "error": null},
        ]});
        let out = parse(&v, 3).unwrap();
        assert_eq!(
            out[0].outcome.as_ref().unwrap()["Buckets"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let e = out[1].outcome.as_ref().unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert!(e.message.starts_with("AccessDenied: not allowed"), "{e:?}");
        assert!(out[2].truncated);
        assert_eq!(out[2].next, Some(json!({"NextToken": "t2"})));
        assert!(
            parse(&v, 2).is_none(),
            "a batch of the wrong size is not trusted"
        );
        assert!(parse(&json!({"pages": []}), 1).is_none());
    }
}
