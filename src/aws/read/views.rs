//! Views: how the items of a read result become rows. Known operations (EC2 instances, S3
//! buckets, Lambda functions, RDS instances, EKS clusters, …) have a view with the list path,
//! the identifying field and the columns people expect; anything else gets a generic view (the
//! first list in the result, its identifying and scalar fields). Scheduled inventory reuses
//! the same views.
//!
//! Paths: `a.b` walks objects, `[]` flattens a list, `Tags[Key=Name].Value` picks from a list.

use serde_json::{Map, Value};

/// How to turn one operation's result into rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Path to the items, e.g. `Reservations[].Instances[]`.
    pub items: String,
    /// Path (within an item) of the field that identifies it.
    pub id: String,
    /// `(header, path)` of the columns.
    pub columns: Vec<(String, String)>,
}

fn view(items: &str, id: &str, columns: &[(&str, &str)]) -> View {
    View {
        items: items.into(),
        id: id.into(),
        columns: columns
            .iter()
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .collect(),
    }
}

/// The built-in view for `service`/`operation`, if there is one.
pub fn known(service: &str, operation: &str) -> Option<View> {
    Some(match (service, operation) {
        ("ec2", "DescribeInstances") => view(
            "Reservations[].Instances[]",
            "InstanceId",
            &[
                ("id", "InstanceId"),
                ("name", "Tags[Key=Name].Value"),
                ("state", "State.Name"),
                ("type", "InstanceType"),
                ("zone", "Placement.AvailabilityZone"),
                ("private ip", "PrivateIpAddress"),
                ("launched", "LaunchTime"),
                ("tags", "Tags"),
            ],
        ),
        ("s3", "ListBuckets") => view(
            "Buckets[]",
            "Name",
            &[("name", "Name"), ("created", "CreationDate")],
        ),
        ("lambda", "ListFunctions") => view(
            "Functions[]",
            "FunctionName",
            &[
                ("name", "FunctionName"),
                ("runtime", "Runtime"),
                ("memory", "MemorySize"),
                ("modified", "LastModified"),
            ],
        ),
        ("rds", "DescribeDBInstances") => view(
            "DBInstances[]",
            "DBInstanceIdentifier",
            &[
                ("id", "DBInstanceIdentifier"),
                ("engine", "Engine"),
                ("class", "DBInstanceClass"),
                ("status", "DBInstanceStatus"),
                ("zone", "AvailabilityZone"),
            ],
        ),
        ("eks", "ListClusters") => view("clusters[]", "", &[("name", "")]),
        ("eks", "DescribeCluster") => view(
            "cluster",
            "name",
            &[
                ("name", "name"),
                ("version", "version"),
                ("status", "status"),
                ("endpoint", "endpoint"),
            ],
        ),
        ("dynamodb", "ListTables") => view("TableNames[]", "", &[("name", "")]),
        ("ecs", "ListClusters") => view("clusterArns[]", "", &[("arn", "")]),
        ("sqs", "ListQueues") => view("QueueUrls[]", "", &[("url", "")]),
        ("iam", "ListRoles") => view(
            "Roles[]",
            "RoleName",
            &[
                ("name", "RoleName"),
                ("created", "CreateDate"),
                ("arn", "Arn"),
            ],
        ),
        ("iam", "ListUsers") => view(
            "Users[]",
            "UserName",
            &[
                ("name", "UserName"),
                ("created", "CreateDate"),
                ("last password use", "PasswordLastUsed"),
            ],
        ),
        _ => return None,
    })
}

/// The values at `path` in `v` (several when the path flattens lists).
pub fn select<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    if path.is_empty() {
        return vec![v];
    }
    let mut current = vec![v];
    for step in path.split('.') {
        let mut next = Vec::new();
        let (name, filter) = match step.find('[') {
            Some(i) => (&step[..i], Some(step[i + 1..].trim_end_matches(']'))),
            None => (step, None),
        };
        for c in current {
            let field = if name.is_empty() {
                Some(c)
            } else {
                c.get(name)
            };
            let Some(field) = field else { continue };
            match filter {
                None => next.push(field),
                Some("") => next.extend(field.as_array().into_iter().flatten()),
                Some(f) => {
                    let (k, want) = f.split_once('=').unwrap_or((f, ""));
                    next.extend(
                        field
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|item| item.get(k).and_then(Value::as_str) == Some(want)),
                    );
                }
            }
        }
        current = next;
    }
    current
}

/// A value as a table cell (AWS tag lists as `key=value, …`).
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) if items.iter().all(|t| t.get("Key").is_some()) => items
            .iter()
            .map(|t| format!("{}={}", cell(t.get("Key")), cell(t.get("Value"))))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// The items of `result` under `view`.
pub fn items<'a>(result: &'a Value, view: &View) -> Vec<&'a Value> {
    select(result, &view.items)
}

/// A generic view for a result with no built-in one: the first list in it (or the result itself
/// as one item), its identifying field, and up to six scalar columns.
pub fn generic(result: &Value) -> View {
    let skip = |k: &str| {
        matches!(
            k,
            "ResponseMetadata"
                | "NextToken"
                | "nextToken"
                | "Marker"
                | "NextMarker"
                | "IsTruncated"
        )
    };
    let list = result.as_object().and_then(|m| {
        m.iter()
            .find(|(k, v)| !skip(k) && v.as_array().is_some_and(|a| !a.is_empty()))
            .or_else(|| m.iter().find(|(k, v)| !skip(k) && v.is_array()))
    });
    let (items, sample): (String, Vec<&Value>) = match list {
        Some((k, v)) => (
            format!("{k}[]"),
            v.as_array().into_iter().flatten().collect(),
        ),
        None => (String::new(), vec![result]),
    };
    if sample.iter().all(|s| !s.is_object()) {
        return View {
            items,
            id: String::new(),
            columns: vec![("value".into(), String::new())],
        };
    }
    // Scalar fields by how often they appear; identifying ones first.
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in sample.iter().take(50) {
        for (k, v) in s.as_object().into_iter().flatten() {
            if v.is_object() || v.is_array() || skip(k) {
                continue;
            }
            match counts.iter_mut().find(|(n, _)| n == k) {
                Some((_, c)) => *c += 1,
                None => counts.push((k.clone(), 1)),
            }
        }
    }
    let singular = items
        .trim_end_matches("[]")
        .trim_end_matches('s')
        .to_string();
    let ident = |k: &str| k.ends_with("Id") || k.ends_with("Identifier") || k.ends_with("Name");
    let rank = |k: &str| {
        if !singular.is_empty() && k.starts_with(singular.as_str()) && ident(k) {
            0
        } else if k.ends_with("Name") || k == "name" {
            1
        } else if k.ends_with("Id") || k.ends_with("Identifier") {
            2
        } else if k.ends_with("Arn") {
            4
        } else {
            3
        }
    };
    counts.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(b.1.cmp(&a.1)));
    let columns: Vec<(String, String)> = counts
        .iter()
        .take(6)
        .map(|(k, _)| (k.clone(), k.clone()))
        .collect();
    View {
        items,
        id: columns.first().map(|c| c.1.clone()).unwrap_or_default(),
        columns,
    }
}

/// Drops nulls, empty strings, empty lists and objects, and the response metadata: what the
/// model needs, not what it doesn't.
pub fn prune(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                if k == "ResponseMetadata" {
                    continue;
                }
                let c = prune(child);
                let empty = match &c {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if !empty {
                    out.insert(k.clone(), c);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(prune).collect()),
        Value::String(s) if s.chars().count() > 300 => {
            Value::String(s.chars().take(300).collect::<String>() + "…")
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec2() -> Value {
        json!({"Reservations": [
            {"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}, "InstanceType": "t3.micro",
                "Tags": [{"Key": "team", "Value": "a"}, {"Key": "Name", "Value": "web"}]}]},
            {"Instances": [{"InstanceId": "i-2", "State": {"Name": "stopped"}, "Tags": []}]}
        ]})
    }

    #[test]
    fn known_views_flatten_and_pick() {
        let v = known("ec2", "DescribeInstances").unwrap();
        let result = ec2();
        let found = items(&result, &v);
        assert_eq!(found.len(), 2);
        let row: Vec<String> = v
            .columns
            .iter()
            .map(|(_, p)| cell(select(found[0], p).first().copied()))
            .collect();
        assert_eq!(&row[..4], ["i-1", "web", "running", "t3.micro"]);
        assert_eq!(
            cell(select(found[1], "Tags[Key=Name].Value").first().copied()),
            ""
        );
        assert_eq!(
            cell(select(found[0], "Tags").first().copied()),
            "team=a, Name=web"
        );
        let eks = json!({"clusters": ["a", "b"]});
        let v = known("eks", "ListClusters").unwrap();
        assert_eq!(items(&eks, &v).len(), 2);
    }

    #[test]
    fn generic_views_find_the_list_and_its_ids() {
        let r = json!({"NextToken": "x", "LoadBalancers": [
            {"LoadBalancerArn": "arn:1", "LoadBalancerName": "web", "Scheme": "internet-facing", "Tags": [], "VpcId": "vpc-1"},
            {"LoadBalancerArn": "arn:2", "LoadBalancerName": "api", "Scheme": "internal", "VpcId": "vpc-1"}]});
        let v = generic(&r);
        assert_eq!(v.items, "LoadBalancers[]");
        assert_eq!(v.columns[0].0, "LoadBalancerName");
        assert_eq!(v.id, "LoadBalancerName");
        assert!(!v.columns.iter().any(|c| c.0 == "Tags"));
        let scalars = generic(&json!({"TableNames": ["a", "b"]}));
        assert_eq!(scalars.columns, vec![("value".to_string(), String::new())]);
        let single = generic(&json!({"Name": "x", "Status": "ok"}));
        assert_eq!(single.items, "");
        assert_eq!(items(&json!({"Name": "x"}), &single).len(), 1);
    }

    #[test]
    fn prune_drops_what_the_model_does_not_need() {
        let v = prune(
            &json!({"a": null, "b": "", "c": [], "d": {}, "e": {"f": null}, "g": 1,
            "ResponseMetadata": {"RequestId": "x"}, "h": "x".repeat(400)}),
        );
        assert_eq!(v.as_object().unwrap().len(), 2);
        assert_eq!(v["g"], 1);
        assert!(v["h"].as_str().unwrap().chars().count() <= 301);
    }
}
