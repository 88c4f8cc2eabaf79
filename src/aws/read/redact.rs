//! Redaction: secret-bearing fields in AWS results are replaced before anyone (the model, the
//! person, the audit log) sees them — Lambda and container environment values, EC2 user data,
//! passwords, private keys, tokens, presigned code URLs — and the count is reported.

use serde_json::Value;

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

/// Replaces secret values in `v`; returns how many were redacted.
pub fn redact(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            for (k, child) in map.iter_mut() {
                let key = k.to_lowercase();
                if SECRET_FIELDS.contains(&key.as_str()) {
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lambda_environment_values_go_and_names_stay() {
        let mut v = json!({"Functions": [{"FunctionName": "api", "Environment": {"Variables": {"DB_PASSWORD": "hunter2", "STAGE": "prod"}}}]});
        assert_eq!(redact(&mut v), 2);
        assert_eq!(
            v["Functions"][0]["Environment"]["Variables"]["DB_PASSWORD"],
            REDACTED
        );
        assert_eq!(v["Functions"][0]["FunctionName"], "api");
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn container_environments_user_data_and_passwords() {
        let mut v = json!({
            "taskDefinition": {"containerDefinitions": [{"name": "web",
                "environment": [{"name": "API_KEY", "value": "abc123"}],
                "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:...:db"}]}]},
            "UserData": {"Value": "IyEvYmluL2Jhc2g="},
            "MasterUserPassword": "pw",
            "MasterUserSecret": {"SecretArn": "arn:x", "SecretStatus": "active"},
            "PasswordLastUsed": "2026-01-01",
            "NextToken": "tok",
        });
        let n = redact(&mut v);
        let s = v.to_string();
        for gone in ["abc123", "IyEvYmluL2Jhc2g=", "\"pw\""] {
            assert!(!s.contains(gone), "{gone} still in {s}");
        }
        assert!(n >= 3, "{n}");
        assert_eq!(
            v["taskDefinition"]["containerDefinitions"][0]["name"],
            "web"
        );
        assert_eq!(
            v["MasterUserSecret"]["SecretArn"], "arn:x",
            "references stay"
        );
        assert_eq!(v["NextToken"], "tok");
        assert_eq!(
            v["taskDefinition"]["containerDefinitions"][0]["environment"][0]["name"],
            "API_KEY"
        );
    }

    #[test]
    fn ordinary_results_are_untouched() {
        let mut v = json!({"Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"},
            "Tags": [{"Key": "Name", "Value": "web"}], "KeyName": "ops-key"}]}]});
        let before = v.clone();
        assert_eq!(redact(&mut v), 0);
        assert_eq!(v, before, "tags and key pair names are not secrets");
    }
}
