//! The read guard: what may be called at all. Our own check, in code, on top of the read-only
//! IAM role, run before any credential is fetched for everything the model (or `/aws run`, or an
//! inventory kind) asks for:
//!
//! 1. Names are compared in one canonical form ([`allowed::canon`]: lower case, `-` and `_`
//!    removed), so no spelling of a refused operation (`getSecretValue`, `GET_SECRET_VALUE`,
//!    `get-secret-value`) differs from the refused name, as none does to the AWS CLI or botocore.
//! 2. Reads that hand out secrets, credentials or data bodies are refused whatever the table says
//!    ([`DENIED`], a superset of the member role's `DenyDataAndSecretReads`), and so are flags
//!    that turn a read into one ([`SENSITIVE_PARAMS`], keys compared canonically too).
//! 3. Only operations on the reviewed allow-list ([`allowed::ALLOWED`]) run, sent in the table's
//!    own spelling; anything else is refused with a message that names it and says how to ask
//!    for it to be added.
//! 4. Parameters are plain data: a JSON object of bounded size and depth whose top-level keys are
//!    API member names — a letter, then letters and digits. That is `^[A-Za-z][A-Za-z0-9]*$`
//!    rather than PascalCase only, because botocore's member names are lowerCamel in rest-json
//!    services (`eks` `maxResults`, `apigateway` `limit`); no space, dash or `--flag` can pass.
//!    Nested values are data and are never interpreted.

use super::allowed::{self, Lookup, canon};
use serde_json::{Map, Value};

/// Operation name prefixes that read (used only to tell "not a read" from "not on the list").
pub const READ_PREFIXES: &[&str] = &[
    "Describe", "List", "Get", "Search", "Lookup", "BatchGet", "Head",
];

/// Reads refused whatever the allow-list says: secret values, credentials, data bodies, consoles.
/// `(service, operation)`, compared canonically; `*` matches every operation of the service.
pub const DENIED: &[(&str, &str)] = &[
    ("sts", "*"),
    ("secretsmanager", "GetSecretValue"),
    ("secretsmanager", "BatchGetSecretValue"),
    ("ssm", "GetParameter"),
    ("ssm", "GetParameters"),
    ("ssm", "GetParametersByPath"),
    ("ssm", "GetParameterHistory"),
    ("kms", "Decrypt"),
    ("kms", "GenerateDataKey"),
    ("kms", "GetParametersForImport"),
    ("s3", "GetObject"),
    ("s3", "GetObjectVersion"),
    ("s3", "GetObjectAttributes"),
    ("s3", "GetObjectTorrent"),
    ("s3", "SelectObjectContent"),
    ("ec2", "GetPasswordData"),
    ("ec2", "GetConsoleOutput"),
    ("ec2", "GetConsoleScreenshot"),
    ("ec2", "GetLaunchTemplateData"),
    // Inside the allowed `ec2 Describe*` family: the customer gateway configuration carries the
    // tunnels' pre-shared keys.
    ("ec2", "DescribeVpnConnections"),
    ("iam", "GetCredentialReport"),
    ("ecr", "GetAuthorizationToken"),
    ("ecr", "GetDownloadUrlForLayer"),
    ("ecr", "BatchGetImage"),
    ("ecr-public", "GetAuthorizationToken"),
    ("codeartifact", "GetAuthorizationToken"),
    ("codecommit", "GetFile"),
    ("codecommit", "GetBlob"),
    ("cloudformation", "GetTemplate"),
    ("lambda", "GetFunction"),
    ("apigateway", "GetUsagePlanKey"),
    ("apigateway", "GetUsagePlanKeys"),
    ("apigateway", "GetExport"),
    ("ivs", "GetStreamKey"),
    ("ivs", "BatchGetStreamKey"),
    ("appsync", "ListApiKeys"),
    ("amplify", "GetApp"),
    ("amplify", "ListApps"),
    ("amplify", "GetBranch"),
    ("amplify", "ListBranches"),
    ("eks", "GetToken"),
    ("redshift", "GetClusterCredentials"),
    ("redshift", "GetClusterCredentialsWithIAM"),
    ("redshift-serverless", "GetCredentials"),
    ("redshift-data", "GetStatementResult"),
    ("redshift-data", "GetStatementResultV2"),
    ("cognito-identity", "GetCredentialsForIdentity"),
    ("cognito-identity", "GetOpenIdToken"),
    ("cognito-identity", "GetOpenIdTokenForDeveloperIdentity"),
    ("sso", "GetRoleCredentials"),
    ("lightsail", "GetInstanceAccessDetails"),
    ("lightsail", "GetRelationalDatabaseMasterUserPassword"),
    ("lightsail", "GetRelationalDatabaseLogEvents"),
    ("logs", "GetLogEvents"),
    ("logs", "GetLogRecord"),
    ("logs", "FilterLogEvents"),
    ("logs", "StartQuery"),
    ("logs", "GetQueryResults"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "BatchGetItem"),
    ("dynamodb", "Query"),
    ("dynamodb", "Scan"),
    ("dynamodb", "ExecuteStatement"),
    ("dynamodbstreams", "GetRecords"),
    ("kinesis", "GetRecords"),
    ("sqs", "ReceiveMessage"),
    ("glacier", "GetJobOutput"),
    ("athena", "GetQueryResults"),
    ("rds", "DownloadDBLogFilePortion"),
];

/// A flag that turns an otherwise fine read into a sensitive one.
#[derive(Debug, Clone, Copy)]
pub struct SensitiveParam {
    /// Service.
    pub service: &'static str,
    /// Operations it applies to: those whose canonical name starts with this one's.
    pub operation: &'static str,
    /// The parameter, compared canonically (`withDecryption`, `With_Decryption`).
    pub key: &'static str,
    /// `None`: refused whenever present; `Some(v)`: required to be present and exactly `v`.
    pub required: Option<bool>,
}

/// Flags refused (or required) whatever the operation's place in the table.
pub const SENSITIVE_PARAMS: &[SensitiveParam] = &[
    SensitiveParam {
        service: "ssm",
        operation: "GetParameter",
        key: "WithDecryption",
        required: None,
    },
    SensitiveParam {
        service: "apigateway",
        operation: "GetApiKey",
        key: "includeValue",
        required: None,
    },
    SensitiveParam {
        service: "apigateway",
        operation: "GetApiKeys",
        key: "includeValues",
        required: None,
    },
    SensitiveParam {
        service: "glue",
        operation: "GetConnection",
        key: "HidePassword",
        required: Some(true),
    },
];

/// Where to ask for a read to be added.
pub const HOW_TO_ADD: &str = "ask your platform team to add it to opsbot's allow-list \
    (src/aws/read/allowed.rs) and to the member role (iam/member-role.yaml)";

/// A validated read call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCall {
    /// Service name as boto3 knows it (`ec2`, `s3`, `lambda`), the allow-list's spelling.
    pub service: String,
    /// Operation in the service model's PascalCase (`DescribeInstances`).
    pub operation: String,
    /// Parameters: plain JSON data, top-level keys API member names.
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
        "{service} {operation} is not a read; opsbot only runs the reads on its allow-list and never changes anything"
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
    /// A read that is not on the allow-list.
    #[error(
        "{service} {operation} is refused: it is not on opsbot's allow-list of reads; if it is needed, {HOW_TO_ADD}"
    )]
    NotAllowed {
        /// Service.
        service: String,
        /// Operation.
        operation: String,
    },
    /// In an allowed family, but spelled so that it cannot be sent as is.
    #[error(
        "{service} {operation}: spell the operation as the AWS API reference does, in PascalCase (e.g. {prefix}Instances), or as the AWS CLI does (e.g. {kebab}-instances)"
    )]
    Spelling {
        /// Service.
        service: String,
        /// Operation as given.
        operation: String,
        /// The family's prefix (`Describe`).
        prefix: String,
        /// The same in kebab case (`describe`).
        kebab: String,
    },
    /// Parameters that are not plain data (or too big).
    #[error("bad parameters: {0}")]
    BadParams(String),
}

/// Most bytes of parameters accepted.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;
/// Most characters in a parameter name.
const MAX_KEY: usize = 128;

/// Whether `service` `operation` (any spelling) is on the deny list.
pub fn is_denied(service: &str, operation: &str) -> bool {
    let (s, o) = (allowed::service_canon(service), canon(operation));
    DENIED
        .iter()
        .any(|(ds, dop)| canon(ds) == s && (*dop == "*" || canon(dop) == o))
}

/// The name shown for what was asked: printable, short.
fn shown(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// A service or operation name as given: 2 to 80 ASCII letters, digits, `-` or `_`, starting
/// with a letter (`aws ` in front of a service is dropped).
fn plain_name(s: &str) -> Result<String, Refusal> {
    let t = s.trim();
    let t = t.strip_prefix("aws ").unwrap_or(t).trim();
    let ok = (2..=80).contains(&t.len())
        && t.starts_with(|c: char| c.is_ascii_alphabetic())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| t.to_string())
        .ok_or_else(|| Refusal::BadName(shown(s)))
}

/// Validates a call the model (or `/aws run`, or an inventory kind) asked for.
pub fn validate(service: &str, operation: &str, params: &Value) -> Result<ReadCall, Refusal> {
    let service_given = plain_name(service)?.to_ascii_lowercase();
    let operation_given = plain_name(operation)?;
    let op_shown = allowed::pascal(&operation_given).unwrap_or_else(|| operation_given.clone());
    let service_canon = allowed::service_canon(&service_given);
    if let Some((s, o)) = DENIED.iter().find(|(s, o)| {
        canon(s) == service_canon && (*o == "*" || canon(o) == canon(&operation_given))
    }) {
        return Err(Refusal::Sensitive {
            service: s.to_string(),
            operation: if *o == "*" { op_shown } else { o.to_string() },
        });
    }
    let params = plain_params(params)?;
    if let Some(p) = sensitive_param(&service_given, &operation_given, &params) {
        return Err(Refusal::Sensitive {
            service: p.service.into(),
            operation: op_shown,
        });
    }
    let Some(svc) = allowed::service(&service_given) else {
        return Err(unlisted(service_given, op_shown));
    };
    match allowed::lookup(svc, &operation_given) {
        Lookup::Allowed(operation) => Ok(ReadCall {
            service: svc.to_string(),
            operation,
            params,
        }),
        Lookup::Misspelled(prefix) => Err(Refusal::Spelling {
            service: svc.to_string(),
            operation: operation_given,
            prefix: prefix.to_string(),
            kebab: prefix.to_ascii_lowercase(),
        }),
        Lookup::Missing => Err(unlisted(svc.to_string(), op_shown)),
    }
}

/// Not on the list: "not a read" when its name does not even say it reads.
fn unlisted(service: String, operation: String) -> Refusal {
    let reads = READ_PREFIXES.iter().any(|p| {
        operation.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    });
    if reads {
        Refusal::NotAllowed { service, operation }
    } else {
        Refusal::NotARead { service, operation }
    }
}

/// The first sensitive-flag rule `params` break for `service` `operation`.
fn sensitive_param(
    service: &str,
    operation: &str,
    params: &Map<String, Value>,
) -> Option<&'static SensitiveParam> {
    let (s, o) = (allowed::service_canon(service), canon(operation));
    SENSITIVE_PARAMS.iter().find(|p| {
        if canon(p.service) != s || !o.starts_with(&canon(p.operation)) {
            return false;
        }
        let given: Vec<&Value> = params
            .iter()
            .filter(|(k, _)| canon(k) == canon(p.key))
            .map(|(_, v)| v)
            .collect();
        match p.required {
            None => !given.is_empty(),
            Some(want) => given.len() != 1 || given[0].as_bool() != Some(want),
        }
    })
}

/// Parameters as a plain object: bounded, not too deep, top-level keys API member names.
fn plain_params(params: &Value) -> Result<Map<String, Value>, Refusal> {
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
    if let Some(k) = params.keys().find(|k| !member_name(k)) {
        return Err(Refusal::BadParams(format!(
            "{:?} is not a parameter name; use the API's member names, e.g. \"Filters\" or \"MaxResults\" (letters and digits, starting with a letter)",
            shown(k)
        )));
    }
    Ok(params)
}

/// An API member name: a letter, then letters and digits.
pub fn member_name(k: &str) -> bool {
    k.len() <= MAX_KEY
        && k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric())
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
