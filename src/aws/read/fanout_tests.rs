use super::*;
use crate::access::Authorization;
use crate::aws::pool::{CredentialPool, PoolSettings};
use crate::aws::sts::{AssumeRequest, AwsCredentials, Sts};
use crate::core::inbound::{ChatUser, Place, PlaceKind, Platform};
use crate::identity::{Identity, Person};
use crate::metrics::Metrics;
use crate::policy::{Allowed, Decision};
use async_trait::async_trait;
use std::sync::Arc;

struct NoSts;
#[async_trait]
impl Sts for NoSts {
    async fn assume_role(&self, _: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        Err(StsError::Other("unused".into()))
    }
}

fn scoped(allowed: &[(&str, &[&str])]) -> ScopedAws {
    let auth = Authorization {
        identity: Identity {
            person: Person::member(ChatUser::new(Platform::Slack, "U1"), None),
            groups: vec![],
        },
        place: Place::new(Platform::Slack, "C1", PlaceKind::Channel),
        decision: Decision {
            allowed: allowed
                .iter()
                .map(|(id, regions)| Allowed {
                    id: id.to_string(),
                    label: id.to_string(),
                    regions: regions.iter().map(|r| r.to_string()).collect(),
                    granted_by: vec![],
                })
                .collect(),
            ..Decision::default()
        },
    };
    let pool = CredentialPool::new(Arc::new(NoSts), PoolSettings::default(), Metrics::new());
    let book = crate::accounts::discover::AccountBook::new(crate::accounts::tests::sample());
    ScopedAws::new(pool, &book, &auth)
}

fn call(service: &str, operation: &str) -> ReadCall {
    ReadCall {
        service: service.into(),
        operation: operation.into(),
        params: Default::default(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn targets_are_the_allowed_accounts_and_regions_and_the_rest_is_refused_by_name() {
    // production (111…) in two regions, staging (222…) in one; sandbox exists but is not allowed.
    let aws = scoped(&[
        ("111111111111", &["us-east-1", "eu-west-1"]),
        ("222222222222", &["us-east-1"]),
    ]);
    let ec2 = call("ec2", "DescribeInstances");
    let p = plan(&aws, &ec2, &strings(&["all"]), &[]);
    let got: Vec<(String, String)> = p
        .targets
        .iter()
        .map(|t| (t.name.clone(), t.region.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("production".to_string(), "us-east-1".to_string()),
            ("production".into(), "eu-west-1".into()),
            ("staging".into(), "us-east-1".into())
        ]
    );
    assert!(p.refused.is_empty());

    let p = plan(
        &aws,
        &ec2,
        &strings(&["prod", "sandbox"]),
        &strings(&["eu-west-1"]),
    );
    assert_eq!(p.targets.len(), 1);
    assert_eq!(p.targets[0].region, "eu-west-1");
    assert_eq!(p.refused.len(), 1);
    assert!(p.refused[0].why.contains("You may use"), "{:?}", p.refused);
    assert!(
        !p.refused[0].why.contains("333333333333"),
        "an account outside the grant is never named"
    );

    let p = plan(&aws, &ec2, &strings(&["staging"]), &strings(&["eu-west-1"]));
    assert!(p.targets.is_empty());
    assert!(
        p.refused[0].why.contains("region eu-west-1 is not allowed"),
        "{:?}",
        p.refused
    );
}

#[test]
fn global_reads_run_once_per_account() {
    let aws = scoped(&[("111111111111", &["us-east-1", "eu-west-1"])]);
    let p = plan(&aws, &call("s3", "ListBuckets"), &[], &[]);
    assert_eq!(p.targets.len(), 1);
}

fn text(t: &str, is_error: bool) -> ToolResult {
    ToolResult {
        text: t.into(),
        structured: None,
        is_error,
    }
}

#[test]
fn script_results_are_read_defensively() {
    let wrapped = text(
        r#"{"status": "success", "return_value": {"pages": [{"A": [1]}], "truncated": false}, "api_calls": []}"#,
        false,
    );
    assert_eq!(script_value(&wrapped).unwrap()["pages"][0]["A"][0], 1);
    let bare = text(r#"{"pages": []}"#, false);
    assert!(script_value(&bare).unwrap()["pages"].is_array());
    let failed = text(
        r#"{"status": "error", "error": "AccessDenied: not authorized to ec2:DescribeInstances"}"#,
        true,
    );
    let e = script_value(&failed).unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    assert!(e.message.contains("check its policy"), "{}", e.message);
    let garbage = text("Traceback (most recent call last): boom", true);
    assert!(script_value(&garbage).is_err());
    assert_eq!(
        script_value(&text("not json", false)).unwrap_err().code,
        "unreadable"
    );
}

#[test]
fn call_aws_results_from_the_awslabs_capture() {
    let body = include_str!("../../../tests/fixtures/wire/awslabs-api-mcp-call_s3.body");
    let msg = crate::aws::mcp::sse::response_for("text/event-stream", body, 3).unwrap();
    let r = ToolResult {
        text: msg["result"]["content"][0]["text"].as_str().unwrap().into(),
        structured: msg["result"].get("structuredContent").cloned(),
        is_error: false,
    };
    let v = cli_value(&r).unwrap();
    assert_eq!(v["Buckets"][0]["Name"], "research-bucket-1");
    assert!(v.get("ResponseMetadata").is_none());
}

#[test]
fn pages_merge_their_lists() {
    let v = merge_pages(vec![
        serde_json::json!({"Reservations": [1, 2], "NextToken": "t", "Owner": "x"}),
        serde_json::json!({"Reservations": [3]}),
    ]);
    assert_eq!(
        v,
        serde_json::json!({"Reservations": [1, 2, 3], "Owner": "x"})
    );
}

#[test]
fn error_texts_and_raw_excerpts_are_redacted() {
    let leaky = "AccessDenied: https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F1&X-Amz-Signature=deadbeef password=hunter2";
    let script_err = text(
        &serde_json::json!({"status": "error", "error": leaky}).to_string(),
        true,
    );
    let cli_err = ToolResult {
        text: String::new(),
        structured: Some(
            serde_json::json!({"result": [{"response": {"error": leaky, "error_code": "AccessDenied"}}]}),
        ),
        is_error: false,
    };
    let raw = text(
        &format!("<html>{leaky} {{\"SecretString\": \"s3cr3t\"}}"),
        false,
    );
    for e in [
        script_value(&script_err).unwrap_err(),
        cli_value(&cli_err).unwrap_err(),
        script_value(&raw).unwrap_err(),
        script_value(&text(leaky, true)).unwrap_err(),
    ] {
        for secret in ["AKIAIOSFODNN7EXAMPLE", "deadbeef", "hunter2", "s3cr3t"] {
            assert!(!e.message.contains(secret), "{secret} in {e:?}");
            assert!(!e.code.contains(secret), "{secret} in {e:?}");
        }
        assert!(e.message.contains(redact::REDACTED), "{e:?}");
    }
    assert_eq!(script_value(&script_err).unwrap_err().code, "AccessDenied");
}
