//! Redaction: secret-bearing values are replaced before anyone (the model, the person, the
//! audit log) sees them, and the count is reported. In results ([`redact`]): Lambda and
//! container environment values, EC2 user data, passwords, private keys, fields named like
//! tokens (not pagination tokens) or credentials, presigned URLs (`X-Amz-Signature=`, e.g.
//! Lambda `Code.Location`) wherever they appear, and name/value pairs whose name looks secret
//! (CloudFormation parameters and outputs, Elastic Beanstalk option settings, tags). In text
//! ([`redact_text`]: error messages and raw excerpts): presigned-URL query strings, access key
//! ids, `token=…` / `password=…` style pairs and `"secret": "…"` JSON members.

use serde_json::Value;

#[path = "redact_text.rs"]
mod text;
pub use text::redact_text;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted by opsbot]";

/// Fields whose value is a secret wherever they appear.
const SECRET_FIELDS: &[&str] = &[
    "userdata",
    "passworddata",
    "masteruserpassword",
    "password",
    "secretstring",
    "secretbinary",
    "secretaccesskey",
    "sessiontoken",
    "privatekey",
    "authtoken",
    "certificatechain",
    "privatekeypem",
    "credentials",
    "basicauthcredentials",
    "authorizationtoken",
    "presharedkey",
    "customergatewayconfiguration",
];

/// Maps of name → value that carry configuration secrets (keys are kept, values redacted).
const SECRET_MAPS: &[&str] = &["variables", "environment", "environmentvariables"];

/// Words that make a field secret unless it is only a reference to one.
const SECRET_WORDS: &[&str] = &["password", "secret", "privatekey", "apikey", "accesskey"];
const REFERENCE_SUFFIXES: &[&str] = &[
    "arn",
    "arns",
    "id",
    "ids",
    "name",
    "names",
    "version",
    "versions",
    "date",
    "type",
    "status",
    "enabled",
    "count",
    "rotation",
    "policy",
    "kmskeyid",
    "location",
    "list",
    "configured",
];

/// Fields named `…Token` that are not secrets: pagination cursors and idempotency tokens.
const NOT_SECRET_TOKENS: &[&str] = &[
    "nexttoken",
    "continuationtoken",
    "nextcontinuationtoken",
    "pagetoken",
    "nextpagetoken",
    "startingtoken",
    "paginationtoken",
    "nextpaginationtoken",
    "nextforwardtoken",
    "nextbackwardtoken",
    "starttoken",
    "clienttoken",
    "clientrequesttoken",
    "idempotencytoken",
];

/// `(name field, value field)` of name/value pair objects.
const PAIRS: &[(&str, &str)] = &[
    ("ParameterKey", "ParameterValue"),
    ("OutputKey", "OutputValue"),
    ("OptionName", "Value"),
    ("Name", "Value"),
    ("name", "value"),
    ("Key", "Value"),
    ("key", "value"),
];

/// Words in a pair's name that make its value a secret.
const SECRET_NAME_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "connectionstring",
    "dsn",
];

/// A key or name in the form the rules compare: lower case, letters and digits only.
fn norm(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether the field `key` (normalised) holds a secret whatever its value's shape.
fn secret_field(key: &str) -> bool {
    SECRET_FIELDS.contains(&key)
        || (key.ends_with("token") && !NOT_SECRET_TOKENS.contains(&key))
        || key.ends_with("credentials")
        || key.ends_with("credential")
}

/// Whether a name/value pair's name (or a JSON member name in text) says its value is secret.
pub(crate) fn secret_name(name: &str) -> bool {
    let n = norm(name);
    if n.is_empty() || NOT_SECRET_TOKENS.contains(&n.as_str()) {
        return false;
    }
    if REFERENCE_SUFFIXES.iter().any(|s| n.ends_with(s)) {
        return false;
    }
    SECRET_NAME_WORDS.iter().any(|w| n.contains(w))
        || ["key", "keys", "pass"].iter().any(|s| n.ends_with(s))
}

/// Whether a string is (or holds) a presigned URL.
fn presigned(s: &str) -> bool {
    s.to_ascii_lowercase().contains("x-amz-signature=")
}

/// Replaces secret values in `v`; returns how many were redacted.
pub fn redact(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            let mut pair_value = None;
            for (nk, vk) in PAIRS {
                if let (Some(Value::String(name)), Some(value)) = (map.get(*nk), map.get(*vk))
                    && secret_name(name)
                    && !matches!(value, Value::Null | Value::Bool(_))
                    && !is_empty(value)
                {
                    pair_value = Some(*vk);
                    break;
                }
            }
            for (k, child) in map.iter_mut() {
                let key = norm(k);
                if Some(k.as_str()) == pair_value || secret_field(&key) {
                    if !matches!(child, Value::Null | Value::Bool(_)) && !is_empty(child) {
                        *child = Value::String(REDACTED.into());
                        n += 1;
                    }
                } else if SECRET_MAPS.contains(&key.as_str()) {
                    n += redact_map_values(child);
                } else if secret_word(&key) && child.as_str().is_some_and(|s| !s.is_empty()) {
                    *child = Value::String(REDACTED.into());
                    n += 1;
                } else {
                    n += redact(child);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(redact).sum(),
        Value::String(s) if presigned(s) => {
            *v = Value::String(REDACTED.into());
            1
        }
        _ => 0,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn secret_word(key: &str) -> bool {
    SECRET_WORDS.iter().any(|w| key.contains(w))
        && !REFERENCE_SUFFIXES.iter().any(|s| key.ends_with(s))
}

/// Redacts every string value of an environment-like map (`{"DB_PASSWORD": "..."}`) or list of
/// `{name, value}` entries, keeping the names.
fn redact_map_values(v: &mut Value) -> usize {
    match v {
        Value::Object(m) => {
            let mut n = 0;
            for child in m.values_mut() {
                match child {
                    Value::String(s) if !s.is_empty() => {
                        *child = Value::String(REDACTED.into());
                        n += 1;
                    }
                    other => n += redact_map_values(other),
                }
            }
            n
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|item| {
                // `{name, value}` entries (ECS, Batch, CodeBuild environments): the value goes.
                let mut n = 0;
                if let Value::Object(m) = item {
                    for key in ["value", "Value"] {
                        if let Some(v @ Value::String(_)) = m.get_mut(key)
                            && v.as_str().is_some_and(|s| !s.is_empty())
                        {
                            *v = Value::String(REDACTED.into());
                            n += 1;
                        }
                    }
                }
                n + redact(item)
            })
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
