//! Rendering a validated [`ReadCall`] for what the server offers. The model never writes code or
//! command lines: our code writes them from the validated call, with every name checked and every
//! parameter embedded as escaped data.
//!
//! - `aws___run_script`: a short Python script whose only call is `call_boto3`, following
//!   pagination tokens up to a bound, ending with a JSON-serialisable `result`.
//! - `call_aws` (older servers, and the awslabs server): `aws <service> <operation> --param
//!   '<json>' ... --region R`. Each parameter is its own flag with a JSON value (the awslabs
//!   server ignores `--cli-input-json`); the command line is split with POSIX shell rules.

use super::guard::ReadCall;
use serde_json::Value;

/// Pagination tokens: (field in the response, parameter to send it back in).
const TOKENS: &[(&str, &str)] = &[
    ("NextToken", "NextToken"),
    ("nextToken", "nextToken"),
    ("NextMarker", "Marker"),
    ("Marker", "Marker"),
    ("NextContinuationToken", "ContinuationToken"),
    ("NextPageToken", "PageToken"),
];

/// A Python string literal for `s`: double-quoted, with everything but printable ASCII escaped.
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A Python literal for a JSON value.
pub fn py_literal(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The `aws___run_script` code for `call` in `region`, following at most `max_pages` pages.
/// The script's `result` is `{"pages": [...], "truncated": bool}`.
pub fn run_script(call: &ReadCall, region: &str, max_pages: u32) -> String {
    let tokens = TOKENS
        .iter()
        .map(|(o, i)| format!("({}, {})", py_str(o), py_str(i)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "# opsbot read-only call, generated from a validated request: {service} {operation}\n\
         params = {params}\n\
         pages = []\n\
         truncated = False\n\
         n = 0\n\
         while True:\n\
         \x20   resp = await call_boto3(service_name={service_lit}, operation_name={operation_lit}, region_name={region_lit}, params=params)\n\
         \x20   pages.append(resp)\n\
         \x20   n += 1\n\
         \x20   follow = None\n\
         \x20   for out_key, in_key in [{tokens}]:\n\
         \x20       token = resp.get(out_key)\n\
         \x20       if token and (out_key != \"Marker\" or resp.get(\"IsTruncated\")):\n\
         \x20           follow = (in_key, token)\n\
         \x20           break\n\
         \x20   if follow is None:\n\
         \x20       break\n\
         \x20   if n >= {max_pages}:\n\
         \x20       truncated = True\n\
         \x20       break\n\
         \x20   params = {{**params, follow[0]: follow[1]}}\n\
         result = {{\"pages\": pages, \"truncated\": truncated}}\n",
        service = call.service,
        operation = call.operation,
        params = py_literal(&Value::Object(call.params.clone())),
        service_lit = py_str(&call.service),
        operation_lit = py_str(&call.operation),
        region_lit = py_str(region),
    )
}

/// `DescribeDBInstances` → `describe-db-instances`, as the AWS CLI names operations.
pub fn kebab(operation: &str) -> String {
    let chars: Vec<char> = operation.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A single-quoted shell word (a `'` inside is closed, escaped and reopened as `'\''`).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `call_aws` command line for `call` in `region`: every parameter as its own flag
/// (`Filters` → `--filters`) with a JSON value; booleans as `--flag` / `--no-flag`.
pub fn cli_command(call: &ReadCall, region: &str) -> String {
    let service = match call.service.as_str() {
        "s3" => "s3api",
        s => s,
    };
    let mut cmd = format!("aws {service} {}", kebab(&call.operation));
    for (name, value) in &call.params {
        let flag = kebab(name);
        match value {
            Value::Bool(true) => cmd.push_str(&format!(" --{flag}")),
            Value::Bool(false) => cmd.push_str(&format!(" --no-{flag}")),
            Value::Null => {}
            Value::String(s) => cmd.push_str(&format!(" --{flag} {}", quote(s))),
            other => cmd.push_str(&format!(" --{flag} {}", quote(&other.to_string()))),
        }
    }
    cmd.push_str(&format!(" --region {region}"));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(params: Value) -> ReadCall {
        ReadCall {
            service: "ec2".into(),
            operation: "DescribeInstances".into(),
            params: params.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn python_literals_are_data_only() {
        assert_eq!(
            py_literal(&json!({"a": [1, true, null, "x\"y\\z"], "b": 1.5})),
            r#"{"a": [1, True, None, "x\"y\\z"], "b": 1.5}"#
        );
        assert_eq!(py_str("é\n\u{1F600}"), r#""\u00e9\u000a\U0001f600""#);
        // An attempt to break out of the literal stays inside it.
        let evil = "\"); import os; os.system(\"x";
        let lit = py_str(evil);
        assert_eq!(lit, r#""\"); import os; os.system(\"x""#);
    }

    #[test]
    fn the_script_calls_boto3_once_per_page_and_ends_with_result() {
        let s = run_script(
            &call(json!({"Filters": [{"Name": "instance-state-name", "Values": ["stopped"]}]})),
            "eu-west-1",
            10,
        );
        assert!(
            s.contains(
                r#"params = {"Filters": [{"Name": "instance-state-name", "Values": ["stopped"]}]}"#
            ),
            "{s}"
        );
        assert!(s.contains(r#"call_boto3(service_name="ec2", operation_name="DescribeInstances", region_name="eu-west-1", params=params)"#), "{s}");
        assert!(s.contains("if n >= 10:"));
        assert!(s.ends_with("result = {\"pages\": pages, \"truncated\": truncated}\n"));
        assert_eq!(s.matches("call_boto3").count(), 1);
    }

    #[test]
    fn cli_commands_for_older_servers() {
        assert_eq!(kebab("DescribeDBInstances"), "describe-db-instances");
        assert_eq!(kebab("ListBuckets"), "list-buckets");
        assert_eq!(kebab("GetBucketACL"), "get-bucket-acl");
        assert_eq!(kebab("DescribeInstances"), "describe-instances");
        assert_eq!(
            cli_command(
                &call(
                    json!({"Filters": [{"Name": "tag:Owner", "Values": ["o'neil"]}], "DryRun": false, "MaxResults": 5})
                ),
                "us-east-1"
            ),
            r#"aws ec2 describe-instances --no-dry-run --filters '[{"Name":"tag:Owner","Values":["o'\''neil"]}]' --max-results '5' --region us-east-1"#
        );
        let rds = ReadCall {
            service: "rds".into(),
            operation: "DescribeDBInstances".into(),
            params: json!({"DBInstanceIdentifier": "orders-db"})
                .as_object()
                .unwrap()
                .clone(),
        };
        assert_eq!(
            cli_command(&rds, "eu-west-1"),
            "aws rds describe-db-instances --db-instance-identifier 'orders-db' --region eu-west-1"
        );
        let s3 = ReadCall {
            service: "s3".into(),
            operation: "ListBuckets".into(),
            params: Default::default(),
        };
        assert_eq!(
            cli_command(&s3, "us-east-1"),
            "aws s3api list-buckets --region us-east-1"
        );
    }
}
