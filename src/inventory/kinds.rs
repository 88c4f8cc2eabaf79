//! Resource kinds an inventory counts: the built-in five (EC2 instances, S3 buckets, Lambda
//! functions, RDS DB instances, EKS clusters) and any added in config as a read operation plus
//! the paths of the fields that identify and describe an item.

use crate::aws::read::guard::{self, ReadCall};
use crate::problem::Problem;
use serde::Deserialize;

/// One kind of resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// Short name used in config and posts (`ec2`).
    pub name: String,
    /// Shown in posts (`EC2`).
    pub label: String,
    /// The validated read that lists them.
    pub call: ReadCall,
    /// Path to the items in the result (`Reservations[].Instances[]`).
    pub items: String,
    /// Path (within an item) of its identifier; empty when the item is the identifier.
    pub id: String,
    /// Path of its name, if it has one apart from the id.
    pub name_path: String,
    /// Path of its state or status.
    pub state: String,
    /// Path of its type or class.
    pub size: String,
    /// Path of its tag list (`[{Key, Value}]`).
    pub tags: String,
    /// The same in every region: read once per account.
    pub global: bool,
}

fn builtin(
    name: &str,
    label: &str,
    (service, operation, params): (&str, &str, serde_json::Value),
    paths: [&str; 6],
    global: bool,
) -> Kind {
    let [items, id, name_path, state, size, tags] = paths;
    Kind {
        name: name.into(),
        label: label.into(),
        call: guard::validate(service, operation, &params).expect("built-in kinds are reads"),
        items: items.into(),
        id: id.into(),
        name_path: name_path.into(),
        state: state.into(),
        size: size.into(),
        tags: tags.into(),
        global,
    }
}

/// The built-in kinds, in the order posts show them.
pub fn builtins() -> Vec<Kind> {
    vec![
        builtin(
            "ec2",
            "EC2",
            (
                "ec2",
                "DescribeInstances",
                // Terminated instances linger in the API for a while; they are not inventory.
                serde_json::json!({"Filters": [{"Name": "instance-state-name",
                    "Values": ["pending", "running", "shutting-down", "stopping", "stopped"]}]}),
            ),
            [
                "Reservations[].Instances[]",
                "InstanceId",
                "Tags[Key=Name].Value",
                "State.Name",
                "InstanceType",
                "Tags",
            ],
            false,
        ),
        builtin(
            "s3",
            "S3",
            ("s3", "ListBuckets", serde_json::Value::Null),
            ["Buckets[]", "Name", "", "", "", ""],
            true,
        ),
        builtin(
            "lambda",
            "Lambda",
            ("lambda", "ListFunctions", serde_json::Value::Null),
            ["Functions[]", "FunctionName", "", "", "Runtime", ""],
            false,
        ),
        builtin(
            "rds",
            "RDS",
            ("rds", "DescribeDBInstances", serde_json::Value::Null),
            [
                "DBInstances[]",
                "DBInstanceIdentifier",
                "",
                "DBInstanceStatus",
                "DBInstanceClass",
                "TagList",
            ],
            false,
        ),
        builtin(
            "eks",
            "EKS",
            ("eks", "ListClusters", serde_json::Value::Null),
            ["clusters[]", "", "", "", "", ""],
            false,
        ),
    ]
}

/// `[[inventory.kind]]`: a kind added in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKind {
    name: String,
    label: Option<String>,
    service: String,
    operation: String,
    /// Path to the items, e.g. `QueueUrls[]`.
    items: String,
    /// Path of the identifier within an item (empty: the item itself).
    #[serde(default)]
    id: String,
    #[serde(default)]
    name_field: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    global: bool,
}

/// The built-ins plus the configured kinds, validated (each must be a read on the read guard's
/// allow-list, as every other read is; one that is not is a problem naming the fix).
pub fn all(raw: &[RawKind], problems: &mut Vec<Problem>) -> Vec<Kind> {
    let mut kinds = builtins();
    for (i, k) in raw.iter().enumerate() {
        let at = format!("inventory.kind[{i}]");
        if k.name.is_empty() || kinds.iter().any(|x| x.name == k.name) {
            problems.push(Problem::new(
                format!("{at}.name"),
                format!(
                    "{:?} is empty or already a kind (built in: ec2, s3, lambda, rds, eks)",
                    k.name
                ),
            ));
            continue;
        }
        match guard::validate(&k.service, &k.operation, &serde_json::Value::Null) {
            Ok(call) => kinds.push(Kind {
                name: k.name.clone(),
                label: k.label.clone().unwrap_or_else(|| k.name.clone()),
                call,
                items: k.items.clone(),
                id: k.id.clone(),
                name_path: k.name_field.clone(),
                state: k.state.clone(),
                size: k.size.clone(),
                tags: k.tags.clone(),
                global: k.global,
            }),
            Err(e) => problems.push(Problem::new(format!("{at}.operation"), e.to_string())),
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_kinds_must_be_reads_with_new_names() {
        let raw: Vec<RawKind> = toml::from_str::<toml::Table>(
            r#"
[[kind]]
name = "sqs"
service = "sqs"
operation = "ListQueues"
items = "QueueUrls[]"
[[kind]]
name = "bad"
service = "ec2"
operation = "TerminateInstances"
items = "x"
[[kind]]
name = "ec2"
service = "ec2"
operation = "DescribeInstances"
items = "x"
"#,
        )
        .unwrap()["kind"]
            .clone()
            .try_into()
            .unwrap();
        let mut problems = Vec::new();
        let kinds = all(&raw, &mut problems);
        assert_eq!(kinds.len(), 6);
        assert_eq!(kinds[5].call.operation, "ListQueues");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("not a read"));
        assert!(problems[1].message.contains("already a kind"));
    }

    #[test]
    fn kinds_go_through_the_same_allow_list() {
        // Every built-in kind is on the allow-list (building them would panic otherwise).
        assert_eq!(builtins().len(), 5);
        let raw: Vec<RawKind> = toml::from_str::<toml::Table>(
            r#"
[[kind]]
name = "params"
service = "ssm"
operation = "DescribeParameters"
items = "Parameters[]"
[[kind]]
name = "secrets"
service = "secretsmanager"
operation = "list-secrets"
items = "SecretList[]"
[[kind]]
name = "values"
service = "SecretsManager"
operation = "GET_SECRET_VALUE"
items = "x"
[[kind]]
name = "topics"
service = "sns"
operation = "list-topics"
items = "Topics[]"
"#,
        )
        .unwrap()["kind"]
            .clone()
            .try_into()
            .unwrap();
        let mut problems = Vec::new();
        let kinds = all(&raw, &mut problems);
        assert_eq!(kinds.len(), 6, "only topics is added");
        assert_eq!(
            kinds[5].call.operation, "ListTopics",
            "in the API's spelling"
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(problems[0].key, "inventory.kind[0].operation");
        for p in &problems[..2] {
            assert!(
                p.message.contains("not on opsbot's allow-list")
                    && p.message.contains("src/aws/read/allowed.rs")
                    && p.message.contains("iam/member-role.yaml"),
                "{p:?}"
            );
        }
        assert!(
            problems[0].message.starts_with("ssm DescribeParameters"),
            "{:?}",
            problems[0]
        );
        assert!(
            problems[2]
                .message
                .contains("secretsmanager GetSecretValue is refused"),
            "{:?}",
            problems[2]
        );
    }
}
