//! The reviewed allow-list of read operations: the only AWS operations opsbot runs (the agent's
//! `aws_read`, `/aws run` and inventory kinds alike). Each entry names the boto3 service, the
//! operation as the service model spells it, and the IAM action the member role must allow for
//! it; the table mirrors the `DenyEverythingButReadsViaAwsMcp` NotAction list of
//! `iam/member-role.yaml` and holds nothing of its `DenyDataAndSecretReads` list (a unit test
//! reads the template and proves both, so the two cannot drift).
//!
//! A `*` entry (`Describe*`) is a family: every operation of that service whose name starts with
//! the prefix. Families are used only where the role grants the same wildcard and the family,
//! reviewed, returns no secret that redaction does not remove; `Get*` is never a family.
//!
//! Names are compared in one canonical form ([`canon`]: ASCII lower case, `-` and `_` removed),
//! so `describe-instances`, `DESCRIBE_INSTANCES` and `DescribeInstances` are the same name here
//! as they are to the AWS CLI and botocore; what is sent to the server is the table's spelling.
//!
//! To add a read: check in the service's API reference that it returns no secret, credential or
//! data content, add it here with its IAM action, add that action to the member role's NotAction
//! list (and to its allow policy if `ViewOnlyAccess` lacks it), and run the tests.

/// One allowed read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// Service as boto3 names it (`ec2`, `elbv2`, `resourcegroupstaggingapi`).
    pub service: &'static str,
    /// Operation in the service model's PascalCase, or a family prefix ending in `*`.
    pub operation: &'static str,
    /// The IAM action it needs (`s3:ListAllMyBuckets` for `s3 ListBuckets`).
    pub action: &'static str,
}

const fn a(service: &'static str, operation: &'static str, action: &'static str) -> Allowed {
    Allowed {
        service,
        operation,
        action,
    }
}

/// The allowed reads.
pub const ALLOWED: &[Allowed] = &[
    a("ec2", "Describe*", "ec2:Describe*"),
    a("s3", "ListBuckets", "s3:ListAllMyBuckets"),
    a("s3", "ListObjectsV2", "s3:ListBucket"),
    a("s3", "ListObjects", "s3:ListBucket"),
    a("s3", "HeadBucket", "s3:ListBucket"),
    a("s3", "GetBucketLocation", "s3:GetBucketLocation"),
    a("s3", "GetBucketTagging", "s3:GetBucketTagging"),
    a("s3", "GetBucketVersioning", "s3:GetBucketVersioning"),
    a("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    a("lambda", "List*", "lambda:List*"),
    a(
        "lambda",
        "GetFunctionConfiguration",
        "lambda:GetFunctionConfiguration",
    ),
    a("rds", "Describe*", "rds:Describe*"),
    a("eks", "Describe*", "eks:Describe*"),
    a("eks", "List*", "eks:List*"),
    a("ecs", "Describe*", "ecs:Describe*"),
    a("ecs", "List*", "ecs:List*"),
    a("dynamodb", "DescribeTable", "dynamodb:DescribeTable"),
    a("dynamodb", "ListTables", "dynamodb:ListTables"),
    a("elbv2", "Describe*", "elasticloadbalancing:Describe*"),
    a("elb", "Describe*", "elasticloadbalancing:Describe*"),
    a("autoscaling", "Describe*", "autoscaling:Describe*"),
    a("cloudwatch", "Describe*", "cloudwatch:Describe*"),
    a("cloudwatch", "GetMetricData", "cloudwatch:GetMetricData"),
    a("cloudwatch", "ListMetrics", "cloudwatch:ListMetrics"),
    a("cloudformation", "Describe*", "cloudformation:Describe*"),
    a("cloudformation", "List*", "cloudformation:List*"),
    a("iam", "List*", "iam:List*"),
    a("iam", "GetRole", "iam:GetRole"),
    a("iam", "GetUser", "iam:GetUser"),
    a("route53", "List*", "route53:List*"),
    a("sns", "ListTopics", "sns:ListTopics"),
    a("sqs", "ListQueues", "sqs:ListQueues"),
    a("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
    a(
        "resourcegroupstaggingapi",
        "GetResources",
        "tag:GetResources",
    ),
];

/// Other spellings of a service: the AWS CLI's name for boto3's.
const ALIASES: &[(&str, &str)] = &[("s3api", "s3")];

/// The canonical form every name is compared in: ASCII lower case, `-` and `_` removed.
pub fn canon(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The canonical form of `service` with aliases resolved (`S3API` → `s3`).
pub fn service_canon(service: &str) -> String {
    let want = canon(service);
    ALIASES
        .iter()
        .find(|(alias, _)| canon(alias) == want)
        .map_or(want, |(_, real)| canon(real))
}

/// The table's spelling of `service` (any spelling whose canonical form matches, or an alias).
pub fn service(service: &str) -> Option<&'static str> {
    let want = service_canon(service);
    ALLOWED
        .iter()
        .find(|e| canon(e.service) == want)
        .map(|e| e.service)
}

/// What the table says about an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Allowed: the name to send, in the service model's spelling.
    Allowed(String),
    /// In an allowed family, but not spelled so that it can be sent (`DESCRIBEINSTANCES`): the
    /// family's prefix.
    Misspelled(&'static str),
    /// Not on the list.
    Missing,
}

/// Looks `operation` (any spelling) up for `service` (the table's spelling).
pub fn lookup(service: &str, operation: &str) -> Lookup {
    let want = canon(operation);
    let entries = || ALLOWED.iter().filter(|e| e.service == service);
    if let Some(e) = entries().find(|e| canon(e.operation) == want) {
        return Lookup::Allowed(e.operation.to_string());
    }
    for e in entries() {
        let Some(prefix) = e.operation.strip_suffix('*') else {
            continue;
        };
        let family = canon(prefix);
        if want.len() > family.len() && want.starts_with(&family) {
            return match pascal(operation) {
                Some(p) if in_family(&p, prefix) => Lookup::Allowed(p),
                _ => Lookup::Misspelled(prefix),
            };
        }
    }
    Lookup::Missing
}

/// `p` is `prefix` followed by a capitalised word (`DescribeInstances` for `Describe`).
fn in_family(p: &str, prefix: &str) -> bool {
    p.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// The PascalCase spelling of `DescribeInstances`, `describeInstances`, `describe-instances` or
/// `describe_instances` (each word's first letter raised, the rest kept); `None` when the name
/// is not made of ASCII letters and digits in such words.
pub fn pascal(s: &str) -> Option<String> {
    let s = s.trim();
    let mut out = String::with_capacity(s.len());
    for word in s.split(['-', '_']) {
        let mut chars = word.chars();
        let first = chars.next()?;
        if !first.is_ascii_alphabetic() || !word.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        out.push(first.to_ascii_uppercase());
        out.push_str(chars.as_str());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER_ROLE: &str = include_str!("../../../iam/member-role.yaml");

    /// The list under `key:` in the statement whose `Sid` is `sid` (a plain line scan: the
    /// template is YAML with CloudFormation tags, read here without a YAML parser).
    fn statement_list(sid: &str, key: &str) -> Vec<String> {
        let mut lines = MEMBER_ROLE
            .lines()
            .skip_while(|l| l.trim() != format!("- Sid: {sid}"))
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with("- Sid:"))
            .skip_while(|l| l.trim() != format!("{key}:"))
            .skip(1);
        let mut out = Vec::new();
        for l in lines.by_ref() {
            match l.trim().strip_prefix("- ") {
                Some(item) => out.push(item.trim().to_string()),
                None => break,
            }
        }
        assert!(!out.is_empty(), "no {key} list in statement {sid}");
        out
    }

    /// IAM's action matching: case-insensitive, `*` any run, `?` one character.
    fn glob(pattern: &str, text: &str) -> bool {
        fn go(p: &[u8], t: &[u8]) -> bool {
            match (p.first(), t.first()) {
                (None, None) => true,
                (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
                (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
                _ => false,
            }
        }
        go(pattern.as_bytes(), text.as_bytes())
    }

    #[test]
    fn every_entry_is_allowed_by_the_member_role_and_none_is_denied() {
        let allowed = statement_list("DenyEverythingButReadsViaAwsMcp", "NotAction");
        let denied = statement_list("DenyDataAndSecretReads", "Action");
        assert!(
            allowed.contains(&"ec2:Describe*".to_string()),
            "{allowed:?}"
        );
        assert!(denied.contains(&"secretsmanager:GetSecretValue".to_string()));
        for e in ALLOWED {
            assert!(
                allowed.iter().any(|p| glob(p, e.action)),
                "{} {} needs {}, which iam/member-role.yaml does not allow through the MCP server",
                e.service,
                e.operation,
                e.action
            );
            for d in &denied {
                assert!(
                    !glob(d, e.action),
                    "{} {} is denied by {d}",
                    e.service,
                    e.operation
                );
                if e.action.ends_with('*') && glob(e.action, d) {
                    // A denied action inside an allowed family must be refused by the guard's
                    // own deny list too, before the table is consulted.
                    let (_, op) = d.split_once(':').unwrap_or_default();
                    assert!(
                        super::super::guard::is_denied(e.service, op),
                        "{d} is inside {} but not on the guard's deny list",
                        e.action
                    );
                }
            }
            assert!(
                !e.operation.starts_with("Get") || !e.operation.ends_with('*'),
                "Get* is never a family"
            );
            if let Some(prefix) = e.operation.strip_suffix('*') {
                assert!(
                    e.action.ends_with(&format!(":{prefix}*")),
                    "a family needs the same wildcard in IAM: {e:?}"
                );
            }
        }
    }

    #[test]
    fn the_guard_denies_everything_the_member_role_denies() {
        for d in statement_list("DenyDataAndSecretReads", "Action") {
            let (service, op) = d.split_once(':').unwrap();
            assert!(
                super::super::guard::is_denied(service, op),
                "{d} is denied by the member role but not by the guard"
            );
        }
    }

    #[test]
    fn names_are_found_in_any_spelling_and_sent_in_the_models() {
        for (svc, op, want) in [
            ("s3", "ListBuckets", Lookup::Allowed("ListBuckets".into())),
            ("s3", "list-buckets", Lookup::Allowed("ListBuckets".into())),
            ("s3", "LIST_BUCKETS", Lookup::Allowed("ListBuckets".into())),
            ("s3", "listbuckets", Lookup::Allowed("ListBuckets".into())),
            (
                "s3",
                "list-objects-v2",
                Lookup::Allowed("ListObjectsV2".into()),
            ),
            (
                "ec2",
                "DescribeInstances",
                Lookup::Allowed("DescribeInstances".into()),
            ),
            (
                "ec2",
                "describeInstances",
                Lookup::Allowed("DescribeInstances".into()),
            ),
            (
                "ec2",
                "describe-instances",
                Lookup::Allowed("DescribeInstances".into()),
            ),
            (
                "rds",
                "describe_DB_instances",
                Lookup::Allowed("DescribeDBInstances".into()),
            ),
            ("ec2", "DESCRIBEINSTANCES", Lookup::Misspelled("Describe")),
            ("ec2", "describeinstances", Lookup::Misspelled("Describe")),
            ("ec2", "Describe", Lookup::Missing),
            ("ec2", "GetPasswordData", Lookup::Missing),
            ("ec2", "RunInstances", Lookup::Missing),
            ("s3", "GetObject", Lookup::Missing),
            ("lambda", "GetFunction", Lookup::Missing),
        ] {
            assert_eq!(lookup(svc, op), want, "{svc} {op}");
        }
        assert_eq!(service("EC2"), Some("ec2"));
        assert_eq!(service("s3api"), Some("s3"));
        assert_eq!(service("S3API"), Some("s3"));
        assert_eq!(
            service("Resource-Groups-Tagging-API"),
            Some("resourcegroupstaggingapi")
        );
        assert_eq!(service("secretsmanager"), None);
        assert_eq!(
            pascal("describe-db-instances").as_deref(),
            Some("DescribeDbInstances")
        );
        assert_eq!(pascal("a b"), None);
        assert_eq!(pascal("describe--x"), None);
        assert_eq!(pascal("1abc"), None);
    }
}
