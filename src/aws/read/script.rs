//! Rendering a validated [`ReadCall`] for what the server offers. The model never writes code or
//! command lines: our code writes them from the validated call, with every name checked and every
//! parameter embedded as escaped data.
//!
//! - `aws___run_script`: a short Python script whose only call is `call_boto3`, following
//!   pagination tokens up to a bound, ending with a JSON-serialisable `result`.
//! - `aws___call_aws` (the hosted server's older tool): `aws <service> <operation>
//!   --cli-input-json '<json>' --region R`: the parameters are one JSON document, never flags.
//! - `call_aws` (the self-hosted awslabs server, which drops `--cli-input-json`): each
//!   parameter is one `--kebab-name='<value>'` word. The `=` form means no value, whatever it
//!   starts with, can become an option; the name comes from a validated member name and may not
//!   be (an abbreviation of) one of the CLI's own options (`--endpoint-url`, `--profile`, ...).
//!
//! On both `call_aws` paths a string value anywhere in the parameters that starts with
//! `file://`, `fileb://`, `http://` or `https://` is refused: the AWS CLI would read that file
//! or URL and send its contents. (`call_boto3` takes values as they are, so `run_script` does
//! not refuse them.) Command lines are split by the server with POSIX shell rules; every value
//! is single-quoted.

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

/// `DescribeDBInstances` → `describe-db-instances`, `TargetGroupARNs` → `target-group-arns`:
/// the AWS CLI's names for operations and parameters (botocore's `xform_name` with `-`).
pub fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // A trailing plural acronym (`ARNs`, `ACLs`) is one word.
    let mut base = chars.as_slice();
    let mut plural = String::new();
    if chars.len() >= 3 && chars[chars.len() - 1] == 's' {
        let caps = chars[..chars.len() - 1]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_uppercase())
            .count();
        if caps >= 2 {
            let start = chars.len() - 1 - caps;
            base = &chars[..start];
            plural = chars[start..]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
        }
    }
    // A capitalised word (`Instances`) after anything starts a new word.
    let mut first = Vec::with_capacity(base.len() + 8);
    let mut i = 0;
    while i < base.len() {
        let word = i + 2 < base.len()
            && base[i + 1].is_ascii_uppercase()
            && base[i + 2].is_ascii_lowercase();
        first.push(base[i]);
        if word {
            first.push('-');
            first.push(base[i + 1]);
            let mut j = i + 2;
            while j < base.len() && base[j].is_ascii_lowercase() {
                first.push(base[j]);
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    // A capital after a lower-case letter or a digit starts one too.
    let mut out = String::with_capacity(first.len() + 8);
    for (k, &c) in first.iter().enumerate() {
        if k > 0
            && c.is_ascii_uppercase()
            && (first[k - 1].is_ascii_lowercase() || first[k - 1].is_ascii_digit())
        {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    if !plural.is_empty() {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&plural);
    }
    out.replace("ipv-6", "ipv6")
        .replace("s-3-resources", "s3-resources")
}

/// A single-quoted shell word (a `'` inside is closed, escaped and reopened as `'\''`).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// How a `call_aws` tool takes parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliStyle {
    /// One `--cli-input-json` document (the hosted server's `aws___call_aws`).
    InputJson,
    /// One `--name='value'` word per parameter (the awslabs server's `call_aws`).
    Flags,
}

impl CliStyle {
    /// The style for the server tool named `tool`.
    pub fn for_tool(tool: &str) -> Self {
        if tool == "call_aws" {
            Self::Flags
        } else {
            Self::InputJson
        }
    }
}

/// Why a call cannot be sent through `call_aws`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A value the AWS CLI would replace with a file's or URL's contents.
    #[error(
        "parameter {key} holds a {scheme} value; opsbot never lets the AWS CLI read files or URLs: give the value itself"
    )]
    FileOrUrl {
        /// The top-level parameter that holds it.
        key: String,
        /// `file://`, `fileb://`, `http://` or `https://`.
        scheme: String,
    },
    /// A parameter name that is not a member name (the guard refuses these first).
    #[error("{0:?} is not a parameter name")]
    BadKey(String),
    /// A parameter whose option the AWS CLI would take as one of its own.
    #[error(
        "parameter {key} would be read as the AWS CLI's own option --{option}; opsbot does not send it"
    )]
    CliOption {
        /// The parameter.
        key: String,
        /// The CLI option it would match.
        option: String,
    },
    /// Two parameters that become the same option.
    #[error("parameters {0} and {1} are the same option for the AWS CLI; give it once")]
    Duplicate(String, String),
    /// Not a region code.
    #[error("{0:?} is not a region code")]
    BadRegion(String),
}

/// The AWS CLI's own options (global and per command): a parameter may not name one of these
/// or a prefix of one (argparse takes an unambiguous prefix as the option).
const CLI_OPTIONS: &[&str] = &[
    "debug",
    "endpoint-url",
    "no-verify-ssl",
    "no-paginate",
    "output",
    "query",
    "profile",
    "region",
    "version",
    "color",
    "no-sign-request",
    "ca-bundle",
    "cli-read-timeout",
    "cli-connect-timeout",
    "cli-binary-format",
    "no-cli-pager",
    "cli-auto-prompt",
    "no-cli-auto-prompt",
    "v2-debug",
    "cli-input-json",
    "cli-input-yaml",
    "generate-cli-skeleton",
];

/// Schemes the AWS CLI loads parameter values from.
const LOADED: &[&str] = &["file://", "fileb://", "http://", "https://"];

/// The first string in `v` that the AWS CLI would load from a file or URL.
fn loaded(v: &Value) -> Option<&'static str> {
    match v {
        Value::String(s) => {
            let t = s.trim_start().to_ascii_lowercase();
            LOADED.iter().find(|p| t.starts_with(*p)).copied()
        }
        Value::Array(a) => a.iter().find_map(loaded),
        Value::Object(m) => m.values().find_map(loaded),
        _ => None,
    }
}

/// The `call_aws` command line for `call` in `region`, in `style`.
pub fn cli_command(call: &ReadCall, region: &str, style: CliStyle) -> Result<String, RenderError> {
    let region_ok = (1..=32).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(RenderError::BadRegion(region.chars().take(40).collect()));
    }
    for (key, value) in &call.params {
        if !super::guard::member_name(key) {
            return Err(RenderError::BadKey(key.chars().take(80).collect()));
        }
        if let Some(scheme) = loaded(value) {
            return Err(RenderError::FileOrUrl {
                key: key.clone(),
                scheme: scheme.into(),
            });
        }
    }
    let service = match call.service.as_str() {
        "s3" => "s3api",
        s => s,
    };
    let mut cmd = format!("aws {service} {}", kebab(&call.operation));
    match style {
        CliStyle::InputJson => {
            if !call.params.is_empty() {
                let json = Value::Object(call.params.clone()).to_string();
                cmd.push_str(&format!(" --cli-input-json {}", quote(&json)));
            }
        }
        CliStyle::Flags => {
            let mut seen: Vec<(String, &str)> = Vec::new();
            for (key, value) in &call.params {
                let flag = kebab(key);
                let word = match value {
                    Value::Null => continue,
                    Value::Bool(true) => flag.clone(),
                    Value::Bool(false) => format!("no-{flag}"),
                    _ => flag.clone(),
                };
                if let Some(option) = CLI_OPTIONS.iter().find(|o| o.starts_with(word.as_str())) {
                    return Err(RenderError::CliOption {
                        key: key.clone(),
                        option: (*option).into(),
                    });
                }
                if let Some((_, other)) = seen.iter().find(|(f, _)| *f == flag) {
                    return Err(RenderError::Duplicate((*other).into(), key.clone()));
                }
                seen.push((flag, key));
                match value {
                    Value::Bool(_) => cmd.push_str(&format!(" --{word}")),
                    Value::String(s) => cmd.push_str(&format!(" --{word}={}", quote(s))),
                    other => cmd.push_str(&format!(" --{word}={}", quote(&other.to_string()))),
                }
            }
        }
    }
    cmd.push_str(&format!(" --region {region}"));
    Ok(cmd)
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
