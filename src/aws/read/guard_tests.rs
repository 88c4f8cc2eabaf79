use super::*;
use serde_json::json;

/// Every way of spelling `pascal` that the AWS CLI or botocore could map back to it.
fn spellings(pascal: &str) -> Vec<String> {
    let words = crate::aws::read::script::kebab(pascal);
    let mut lower_camel = pascal.to_string();
    lower_camel[..1].make_ascii_lowercase();
    let mut off_by_case = pascal.to_string();
    let last = off_by_case.len() - 2;
    off_by_case[last..].make_ascii_uppercase();
    vec![
        pascal.to_string(),
        pascal.to_ascii_lowercase(),
        pascal.to_ascii_uppercase(),
        lower_camel,
        off_by_case,
        words.clone(),
        words.replace('-', "_"),
        words.to_ascii_uppercase().replace('-', "_"),
        words
            .split('-')
            .map(|w| {
                let mut w = w.to_string();
                w[..1].make_ascii_uppercase();
                w
            })
            .collect::<Vec<_>>()
            .join("_"),
        format!("  {pascal} "),
    ]
}

#[test]
fn reads_pass_with_normalised_names() {
    let c = validate("EC2", "describe-instances", &json!({"Filters": []})).unwrap();
    assert_eq!(
        (c.service.as_str(), c.operation.as_str()),
        ("ec2", "DescribeInstances")
    );
    for (s, o, want) in [
        ("s3api", "list_buckets", "ListBuckets"),
        ("lambda", "ListFunctions", "ListFunctions"),
        ("rds", "DescribeDBInstances", "DescribeDBInstances"),
        ("eks", "DescribeCluster", "DescribeCluster"),
        ("eks", "list-clusters", "ListClusters"),
        ("dynamodb", "describe_table", "DescribeTable"),
        ("s3", "HeadBucket", "HeadBucket"),
        ("s3", "LISTOBJECTSV2", "ListObjectsV2"),
        ("sqs", "getQueueAttributes", "GetQueueAttributes"),
        ("iam", "ListRoles", "ListRoles"),
        ("elbv2", "DescribeLoadBalancers", "DescribeLoadBalancers"),
        ("resourcegroupstaggingapi", "get-resources", "GetResources"),
    ] {
        let c = validate(s, o, &json!({})).unwrap_or_else(|e| panic!("{s} {o}: {e}"));
        assert_eq!(c.operation, want, "{s} {o} is sent in the model's spelling");
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
            matches!(
                validate(s, o, &json!({})),
                Err(Refusal::NotARead { .. } | Refusal::Sensitive { .. })
            ),
            "{s} {o}"
        );
    }
    for (s, o) in [
        ("ec2", "TerminateInstances"),
        ("ec2", "terminate-instances"),
        ("ec2", "Getaway"),
        ("lambda", "Invoke"),
    ] {
        let e = validate(s, o, &json!({})).unwrap_err();
        assert!(matches!(e, Refusal::NotARead { .. }), "{s} {o}: {e:?}");
        assert!(e.to_string().contains("is not a read"), "{e}");
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
    // Before the allow-list these passed; now they are refused too (glue is not on the list,
    // and ssm GetParameter returns parameter values, which the member role denies).
    assert!(
        validate(
            "glue",
            "GetConnection",
            &json!({"Name": "x", "HidePassword": true})
        )
        .is_err()
    );
    assert!(validate("ssm", "GetParameter", &json!({"Name": "x"})).is_err());
}

/// Every read the issue names as handing out a secret, in every spelling.
const SECRET_READS: &[(&str, &str)] = &[
    ("secretsmanager", "GetSecretValue"),
    ("secretsmanager", "BatchGetSecretValue"),
    ("ecr", "GetAuthorizationToken"),
    ("apigateway", "GetUsagePlanKey"),
    ("apigateway", "GetUsagePlanKeys"),
    ("ivs", "BatchGetStreamKey"),
    ("appsync", "ListApiKeys"),
    ("ssm", "GetParameter"),
    ("ssm", "GetParameters"),
    ("ssm", "GetParametersByPath"),
    ("amplify", "GetApp"),
    ("amplify", "ListApps"),
    ("amplify", "GetBranch"),
    ("logs", "GetLogRecord"),
    ("logs", "GetLogEvents"),
    ("dynamodbstreams", "GetRecords"),
    ("redshift-data", "GetStatementResult"),
    ("eks", "GetToken"),
    ("lambda", "GetFunction"),
    ("s3", "GetObject"),
    ("ec2", "GetPasswordData"),
    ("ec2", "DescribeVpnConnections"),
    ("sts", "AssumeRole"),
];

#[test]
fn a_refused_read_is_refused_in_every_spelling_and_named_as_aws_spells_it() {
    for (s, o) in SECRET_READS {
        let services = [s.to_string(), s.to_ascii_uppercase(), s.replace('-', "_")];
        for svc in &services {
            for op in spellings(o) {
                let e = validate(svc, &op, &json!({})).unwrap_err();
                assert!(
                    matches!(e, Refusal::Sensitive { .. }),
                    "{svc} {op:?}: {e:?}"
                );
                let text = e.to_string();
                assert!(text.contains("is refused"), "{text}");
                if *s != "sts" {
                    assert!(text.contains(&format!("{s} {o} ")), "{svc} {op:?}: {text}");
                }
            }
        }
    }
    for op in [
        "getSecretValue",
        "GETSECRETVALUE",
        "get-secret-value",
        "Get_Secret_Value",
        "GetSecretvalue",
    ] {
        let e = validate("secretsmanager", op, &json!({"SecretId": "db"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "secretsmanager GetSecretValue is refused: it returns secrets, credentials or data contents, which opsbot never reads",
            "{op}"
        );
    }
    // An alias of the service is no way around it either.
    assert!(matches!(
        validate("s3api", "get-object", &json!({})),
        Err(Refusal::Sensitive { .. })
    ));
}

#[test]
fn a_read_off_the_list_is_refused_with_how_to_ask_for_it() {
    for (s, o) in [
        ("cloudtrail", "LookupEvents"),
        ("ec2", "GetLaunchTemplateData"),
        ("s3", "GetBucketPolicy"),
        ("iam", "GetAccountAuthorizationDetails"),
        ("apigateway", "GetApiKeys"),
        ("dynamodb", "DescribeBackup"),
        ("lambda", "GetPolicy"),
    ] {
        for op in spellings(o) {
            let e = validate(s, &op, &json!({})).unwrap_err();
            assert!(
                matches!(
                    e,
                    Refusal::NotAllowed { .. }
                        | Refusal::Sensitive { .. }
                        | Refusal::NotARead { .. }
                ),
                "{s} {op:?}: {e:?}"
            );
        }
    }
    let e = validate("cloudtrail", "lookup-events", &json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cloudtrail LookupEvents is refused: it is not on opsbot's allow-list of reads; if it is needed, ask your platform team to add it to opsbot's allow-list (src/aws/read/allowed.rs) and to the member role (iam/member-role.yaml)"
    );
}

#[test]
fn a_family_member_must_be_spelled_so_that_it_can_be_sent() {
    for op in [
        "DESCRIBEINSTANCES",
        "describeinstances",
        "Describeinstances",
    ] {
        let e = validate("ec2", op, &json!({})).unwrap_err();
        assert!(matches!(e, Refusal::Spelling { .. }), "{op}: {e:?}");
        assert!(
            e.to_string()
                .contains("PascalCase (e.g. DescribeInstances)"),
            "{e}"
        );
    }
    for op in [
        "DescribeInstances",
        "describeInstances",
        "describe-instances",
        "DESCRIBE_INSTANCES",
    ] {
        let got = validate("ec2", op, &json!({}));
        if op == "DESCRIBE_INSTANCES" {
            // Word by word it is D + ESCRIBE, I + NSTANCES: no lower-case letter after the prefix.
            assert!(got.is_err(), "{op}");
        } else {
            assert_eq!(got.unwrap().operation, "DescribeInstances", "{op}");
        }
    }
}

#[test]
fn sensitive_flags_are_caught_in_any_spelling() {
    // Checked on their own, whatever the operation's place in the table.
    let rules = [
        (
            "ssm",
            "GetParameter",
            json!({"Name": "x", "withDecryption": true}),
        ),
        (
            "ssm",
            "GetParameter",
            json!({"Name": "x", "WITHDECRYPTION": false}),
        ),
        (
            "apigateway",
            "GetApiKey",
            json!({"apiKey": "k", "IncludeValue": true}),
        ),
        ("apigateway", "get-api-keys", json!({"includevalues": true})),
        ("glue", "GetConnection", json!({"Name": "x"})),
        ("glue", "GetConnections", json!({"hidePassword": false})),
        (
            "glue",
            "GetConnection",
            json!({"HidePassword": true, "hidepassword": false}),
        ),
    ];
    for (s, o, p) in rules {
        let params = p.as_object().unwrap();
        assert!(sensitive_param(s, o, params).is_some(), "{s} {o} {p}");
        assert!(
            matches!(validate(s, o, &p), Err(Refusal::Sensitive { .. })),
            "{s} {o} {p}"
        );
    }
    let fine = json!({"Name": "x", "HidePassword": true});
    assert!(sensitive_param("glue", "GetConnection", fine.as_object().unwrap()).is_none());
    // A spelling that is not a member name at all is refused as such.
    let e = validate(
        "ec2",
        "DescribeInstances",
        &json!({"With_Decryption": true}),
    )
    .unwrap_err();
    assert!(matches!(e, Refusal::BadParams(_)), "{e:?}");
}

#[test]
fn names_and_params_must_be_plain() {
    for bad in [
        "",
        "ec2; rm -rf /",
        "a",
        "ec2\"",
        "__import__",
        "ec 2",
        "ec\n2",
    ] {
        let e = validate(bad, "DescribeInstances", &json!({})).unwrap_err();
        assert!(
            matches!(e, Refusal::BadName(_) | Refusal::NotAllowed { .. }),
            "{bad:?}: {e:?}"
        );
    }
    assert!(validate("EC2 ", "DescribeInstances", &json!({})).is_ok());
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
    let long = "x".repeat(5000);
    let e = validate(&long, "DescribeInstances", &json!({}))
        .unwrap_err()
        .to_string();
    assert!(
        e.len() < 300,
        "the refusal does not echo all of it: {}",
        e.len()
    );
}

#[test]
fn parameter_keys_are_member_names_and_nested_values_stay_data() {
    for bad in [
        "Filters --endpoint-url http://evil",
        "a b",
        "--profile",
        "-x",
        "With_Decryption",
        "Max-Results",
        "1Filters",
        "Filters=",
        "Filters\n--debug",
        "Fïlters",
        "",
    ] {
        let e = validate("ec2", "DescribeInstances", &json!({ bad: [] })).unwrap_err();
        assert!(matches!(e, Refusal::BadParams(_)), "{bad:?}: {e:?}");
        assert!(e.to_string().contains("is not a parameter name"), "{e}");
    }
    for good in [
        "Filters",
        "MaxResults",
        "maxResults",
        "nextToken",
        "DBInstanceIdentifier",
        "limit",
    ] {
        assert!(
            validate("ec2", "DescribeInstances", &json!({ good: 1 })).is_ok(),
            "{good}"
        );
    }
    // Nested keys and every value are data, whatever they hold.
    let p = json!({"Filters": [{"Name": "tag:a b --x", "Values": ["--endpoint-url=x", "file:///etc/passwd", "'\"\n"]}]});
    assert_eq!(
        validate("ec2", "DescribeInstances", &p).unwrap().params,
        *p.as_object().unwrap()
    );
}
