//! The read guard: what may be called at all. Our own check, in code, on top of the read-only
//! IAM role: only operations whose name says they read (an allowlist of prefixes), minus reads
//! that hand out secrets or data bodies (a deny list), with parameters that are plain data.
//! Everything the model asks for passes through [`validate`] before any credential is fetched.

use serde_json::{Map, Value};

/// Operation name prefixes that read.
pub const READ_PREFIXES: &[&str] = &[
    "Describe", "List", "Get", "Search", "Lookup", "BatchGet", "Head",
];

/// Reads refused whatever the role allows: secret values, credentials, data bodies, consoles.
/// `(service, operation)`; `*` matches every operation of the service.
pub const SENSITIVE: &[(&str, &str)] = &[
    ("sts", "*"),
    ("secretsmanager", "GetSecretValue"),
    ("secretsmanager", "BatchGetSecretValue"),
    ("kms", "GetParametersForImport"),
    ("s3", "GetObject"),
    ("s3", "GetObjectTorrent"),
    ("ec2", "GetPasswordData"),
    ("ec2", "GetConsoleOutput"),
    ("ec2", "GetConsoleScreenshot"),
    ("iam", "GetCredentialReport"),
    ("ecr", "GetAuthorizationToken"),
    ("ecr-public", "GetAuthorizationToken"),
    ("codeartifact", "GetAuthorizationToken"),
    ("redshift", "GetClusterCredentials"),
    ("redshift", "GetClusterCredentialsWithIAM"),
    ("redshift-serverless", "GetCredentials"),
    ("cognito-identity", "GetCredentialsForIdentity"),
    ("cognito-identity", "GetOpenIdToken"),
    ("cognito-identity", "GetOpenIdTokenForDeveloperIdentity"),
    ("sso", "GetRoleCredentials"),
    ("lightsail", "GetInstanceAccessDetails"),
    ("lightsail", "GetRelationalDatabaseMasterUserPassword"),
    ("lightsail", "GetRelationalDatabaseLogEvents"),
    ("logs", "GetLogEvents"),
    ("logs", "GetQueryResults"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "BatchGetItem"),
    ("kinesis", "GetRecords"),
    ("sqs", "ReceiveMessage"),
    ("glacier", "GetJobOutput"),
    ("athena", "GetQueryResults"),
];

/// Parameters that turn an otherwise fine read into a sensitive one:
/// `(service, operation prefix, parameter, value that is refused)`.
const SENSITIVE_PARAMS: &[(&str, &str, &str, bool)] = &[
    ("ssm", "GetParameter", "WithDecryption", true),
    ("apigateway", "GetApiKey", "includeValue", true),
    ("glue", "GetConnection", "HidePassword", false),
];

/// A validated read call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCall {
    /// Service name as boto3 knows it (`ec2`, `s3`, `lambda`).
    pub service: String,
    /// Operation in PascalCase (`DescribeInstances`).
    pub operation: String,
    /// Parameters: plain JSON data.
    pub params: Map<String, Value>,
}

/// Why a call is refused; the text goes back to the model (and into the audit log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The name is not a service or operation name.
    #[error(
        "{0:?} is not a valid name; use boto3 names like service \"ec2\" and operation \"DescribeInstances\""
    )]
    BadName(String),
    /// Not a read.
    #[error(
        "{service} {operation} is not a read; opsbot only runs operations starting with Describe, List, Get, Search, Lookup, BatchGet or Head, and never changes anything"
    )]
    NotARead {
        /// Service.
        service: String,
        /// Operation.
        operation: String,
    },
    /// A read that returns secrets, credentials or data contents.
    #[error(
        "{service} {operation} is refused: it returns secrets, credentials or data contents, which opsbot never reads"
    )]
    Sensitive {
        /// Service.
        service: String,
        /// Operation.
        operation: String,
    },
    /// Parameters that are not plain data (or too big).
    #[error("bad parameters: {0}")]
    BadParams(String),
}

/// Most bytes of parameters accepted.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// Lower-case service name as boto3 spells it (`EC2` → `ec2`, `s3api` → `s3`).
pub fn service_name(s: &str) -> Result<String, Refusal> {
    let s = s.trim().trim_start_matches("aws ").to_lowercase();
    let s = match s.as_str() {
        "s3api" => "s3".to_string(),
        _ => s,
    };
    let ok = (2..=40).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_lowercase());
    ok.then_some(s.clone()).ok_or(Refusal::BadName(s))
}

/// PascalCase operation name from `DescribeInstances`, `describe-instances` or
/// `describe_instances`.
pub fn operation_name(s: &str) -> Result<String, Refusal> {
    let s = s.trim();
    let out: String = if s.contains(['-', '_']) {
        s.split(['-', '_'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect()
    } else {
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
            None => String::new(),
        }
    };
    let ok = (3..=80).contains(&out.len()) && out.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(out)
        .ok_or_else(|| Refusal::BadName(s.to_string()))
}

/// Whether `operation` reads, by its name.
pub fn is_read(operation: &str) -> bool {
    READ_PREFIXES.iter().any(|p| {
        operation.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

/// Validates a call the model (or `/aws run`) asked for.
pub fn validate(service: &str, operation: &str, params: &Value) -> Result<ReadCall, Refusal> {
    let service = service_name(service)?;
    let operation = operation_name(operation)?;
    if !is_read(&operation) {
        return Err(Refusal::NotARead { service, operation });
    }
    let sensitive = || Refusal::Sensitive {
        service: service.clone(),
        operation: operation.clone(),
    };
    if SENSITIVE
        .iter()
        .any(|(s, o)| *s == service && (*o == "*" || *o == operation))
    {
        return Err(sensitive());
    }
    let params = match params {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        _ => {
            return Err(Refusal::BadParams(
                "parameters must be a JSON object".into(),
            ));
        }
    };
    let size = serde_json::to_vec(&params).map_or(usize::MAX, |b| b.len());
    if size > MAX_PARAMS_BYTES {
        return Err(Refusal::BadParams(format!(
            "{size} bytes of parameters; at most {MAX_PARAMS_BYTES}"
        )));
    }
    if depth(&Value::Object(params.clone())) > 10 {
        return Err(Refusal::BadParams("parameters nest too deeply".into()));
    }
    for (s, prefix, key, refused) in SENSITIVE_PARAMS {
        if *s == service && operation.starts_with(prefix) {
            let given = params.get(*key).and_then(Value::as_bool);
            // A missing flag counts as its default: refused for HidePassword (false).
            if given.unwrap_or(false) == *refused {
                return Err(sensitive());
            }
        }
    }
    Ok(ReadCall {
        service,
        operation,
        params,
    })
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_pass_with_normalised_names() {
        let c = validate("EC2", "describe-instances", &json!({"Filters": []})).unwrap();
        assert_eq!(
            (c.service.as_str(), c.operation.as_str()),
            ("ec2", "DescribeInstances")
        );
        for (s, o) in [
            ("s3api", "list_buckets"),
            ("lambda", "ListFunctions"),
            ("rds", "DescribeDBInstances"),
            ("eks", "DescribeCluster"),
            ("dynamodb", "BatchGetTable"),
            ("s3", "HeadBucket"),
            ("ssm", "GetParameter"),
            ("cloudtrail", "LookupEvents"),
        ] {
            assert!(validate(s, o, &json!({})).is_ok(), "{s} {o}");
        }
    }

    #[test]
    fn writes_and_lookalikes_are_refused() {
        for (s, o) in [
            ("ec2", "TerminateInstances"),
            ("ec2", "RunInstances"),
            ("s3", "PutObject"),
            ("s3", "DeleteBucket"),
            ("iam", "CreateAccessKey"),
            ("ec2", "Getaway"),
            ("ec2", "Listen"),
            ("lambda", "Invoke"),
            ("kms", "Decrypt"),
            ("dynamodb", "Scan"),
        ] {
            assert!(
                matches!(validate(s, o, &json!({})), Err(Refusal::NotARead { .. })),
                "{s} {o}"
            );
        }
    }

    #[test]
    fn sensitive_reads_are_refused() {
        for (s, o, p) in [
            ("secretsmanager", "GetSecretValue", json!({})),
            ("sts", "GetCallerIdentity", json!({})),
            ("sts", "GetSessionToken", json!({})),
            ("s3", "GetObject", json!({"Bucket": "b", "Key": "k"})),
            ("ec2", "GetPasswordData", json!({})),
            ("ec2", "GetConsoleOutput", json!({})),
            ("iam", "GetCredentialReport", json!({})),
            ("ecr", "GetAuthorizationToken", json!({})),
            (
                "ssm",
                "GetParameter",
                json!({"Name": "x", "WithDecryption": true}),
            ),
            (
                "ssm",
                "GetParametersByPath",
                json!({"Path": "/", "WithDecryption": true}),
            ),
            ("glue", "GetConnection", json!({"Name": "x"})),
            ("dynamodb", "GetItem", json!({})),
        ] {
            assert!(
                matches!(validate(s, o, &p), Err(Refusal::Sensitive { .. })),
                "{s} {o} {p}"
            );
        }
        assert!(
            validate(
                "glue",
                "GetConnection",
                &json!({"Name": "x", "HidePassword": true})
            )
            .is_ok()
        );
        assert!(validate("ssm", "GetParameter", &json!({"Name": "x"})).is_ok());
    }

    #[test]
    fn names_and_params_must_be_plain() {
        for bad in ["", "ec2; rm -rf /", "EC2 ", "a", "ec2\"", "__import__"] {
            assert!(service_name(bad).is_err() || bad == "EC2 ", "{bad:?}");
        }
        assert!(validate("ec2", "Describe Instances", &json!({})).is_err());
        assert!(validate("ec2", "DescribeInstances\"); import os", &json!({})).is_err());
        assert!(matches!(
            validate("ec2", "DescribeInstances", &json!([1])),
            Err(Refusal::BadParams(_))
        ));
        let huge = json!({"x": "a".repeat(MAX_PARAMS_BYTES)});
        assert!(matches!(
            validate("ec2", "DescribeInstances", &huge),
            Err(Refusal::BadParams(_))
        ));
        let mut deep = json!(1);
        for _ in 0..12 {
            deep = json!({ "a": deep });
        }
        assert!(validate("ec2", "DescribeInstances", &deep).is_err());
    }
}
