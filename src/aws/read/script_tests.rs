use super::*;
use serde_json::json;

fn call(params: Value) -> ReadCall {
    ReadCall {
        service: "ec2".into(),
        operation: "DescribeInstances".into(),
        params: params.as_object().unwrap().clone(),
    }
}

#[test]
fn python_literals_are_data_only() {
    assert_eq!(
        py_literal(&json!({"a": [1, true, null, "x\"y\\z"], "b": 1.5})),
        r#"{"a": [1, True, None, "x\"y\\z"], "b": 1.5}"#
    );
    assert_eq!(py_str("é\n\u{1F600}"), r#""\u00e9\u000a\U0001f600""#);
    // An attempt to break out of the literal stays inside it.
    let evil = "\"); import os; os.system(\"x";
    let lit = py_str(evil);
    assert_eq!(lit, r#""\"); import os; os.system(\"x""#);
}

#[test]
fn the_script_calls_boto3_once_per_page_and_ends_with_result() {
    let s = run_script(
        &call(json!({"Filters": [{"Name": "instance-state-name", "Values": ["stopped"]}]})),
        "eu-west-1",
        10,
    );
    assert!(
        s.contains(
            r#"params = {"Filters": [{"Name": "instance-state-name", "Values": ["stopped"]}]}"#
        ),
        "{s}"
    );
    assert!(s.contains(r#"call_boto3(service_name="ec2", operation_name="DescribeInstances", region_name="eu-west-1", params=params)"#), "{s}");
    assert!(s.contains("if n >= 10:"));
    assert!(s.ends_with("result = {\"pages\": pages, \"truncated\": truncated}\n"));
    assert_eq!(s.matches("call_boto3").count(), 1);
}

fn rds(params: Value) -> ReadCall {
    ReadCall {
        service: "rds".into(),
        operation: "DescribeDBInstances".into(),
        params: params.as_object().unwrap().clone(),
    }
}

/// The words a command line splits into, by POSIX shell rules (Python's `shlex.split`, which
/// the servers use).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut it = line.chars();
    while let Some(c) = it.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = cur.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                for q in it.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                while let Some(q) = it.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = it.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`' | '\n') {
                                    w.push('\\');
                                }
                                w.push(n);
                            }
                        }
                        q => w.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(n) = it.next() {
                    cur.get_or_insert_with(String::new).push(n);
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur);
    out
}

#[test]
fn cli_names_are_the_aws_clis() {
    for (name, want) in [
        ("DescribeDBInstances", "describe-db-instances"),
        ("ListBuckets", "list-buckets"),
        ("GetBucketACL", "get-bucket-acl"),
        ("DescribeInstances", "describe-instances"),
        ("ListObjectsV2", "list-objects-v2"),
        ("TargetGroupARNs", "target-group-arns"),
        ("Ipv6CidrBlock", "ipv6-cidr-block"),
        ("DBInstanceIdentifier", "db-instance-identifier"),
        ("maxResults", "max-results"),
        ("nextToken", "next-token"),
        ("VpcIds", "vpc-ids"),
        ("S3Resources", "s3-resources"),
        ("Filters", "filters"),
    ] {
        assert_eq!(kebab(name), want, "{name}");
    }
}

#[test]
fn cli_commands_for_older_servers() {
    let p = json!({"Filters": [{"Name": "tag:Owner", "Values": ["o'neil"]}], "DryRun": false, "MaxResults": 5});
    assert_eq!(
        cli_command(&call(p.clone()), "us-east-1", CliStyle::Flags).unwrap(),
        r#"aws ec2 describe-instances --no-dry-run --filters='[{"Name":"tag:Owner","Values":["o'\''neil"]}]' --max-results='5' --region us-east-1"#
    );
    assert_eq!(
        cli_command(&call(p), "us-east-1", CliStyle::InputJson).unwrap(),
        r#"aws ec2 describe-instances --cli-input-json '{"DryRun":false,"Filters":[{"Name":"tag:Owner","Values":["o'\''neil"]}],"MaxResults":5}' --region us-east-1"#
    );
    assert_eq!(
        cli_command(
            &rds(json!({"DBInstanceIdentifier": "orders-db"})),
            "eu-west-1",
            CliStyle::Flags
        )
        .unwrap(),
        "aws rds describe-db-instances --db-instance-identifier='orders-db' --region eu-west-1"
    );
    let s3 = ReadCall {
        service: "s3".into(),
        operation: "ListBuckets".into(),
        params: Default::default(),
    };
    for style in [CliStyle::Flags, CliStyle::InputJson] {
        assert_eq!(
            cli_command(&s3, "us-east-1", style).unwrap(),
            "aws s3api list-buckets --region us-east-1"
        );
    }
    assert_eq!(CliStyle::for_tool("call_aws"), CliStyle::Flags);
    assert_eq!(CliStyle::for_tool("aws___call_aws"), CliStyle::InputJson);
}

#[test]
fn hostile_keys_never_become_options() {
    for style in [CliStyle::Flags, CliStyle::InputJson] {
        for key in [
            "Filters --endpoint-url http://evil",
            "a b",
            "--profile",
            "With_Decryption",
            "x=1",
            "Filters\n--debug",
            "",
        ] {
            let e = cli_command(&call(json!({ key: "v" })), "us-east-1", style).unwrap_err();
            assert!(matches!(e, RenderError::BadKey(_)), "{key:?}: {e:?}");
        }
    }
    // Member-name shaped, but the AWS CLI would take them (or an abbreviation of them) as its
    // own options: the signed request could go elsewhere, unsigned, or unverified.
    for (key, value, option) in [
        ("EndpointUrl", json!("127.0.0.1:1"), "endpoint-url"),
        ("Endpoint", json!("x"), "endpoint-url"),
        ("Profile", json!("admin"), "profile"),
        ("Prof", json!("admin"), "profile"),
        ("Region", json!("cn-north-1"), "region"),
        ("Debug", json!(true), "debug"),
        ("VerifySsl", json!(false), "no-verify-ssl"),
        ("SignRequest", json!(false), "no-sign-request"),
        ("CaBundle", json!("/tmp/ca.pem"), "ca-bundle"),
        ("CliInputJson", json!("{}"), "cli-input-json"),
        ("Query", json!("x"), "query"),
    ] {
        let e =
            cli_command(&call(json!({ key: value })), "us-east-1", CliStyle::Flags).unwrap_err();
        assert_eq!(
            e,
            RenderError::CliOption {
                key: key.into(),
                option: option.into()
            },
            "{key}"
        );
        // In one JSON document they are only data.
        let line = cli_command(
            &call(json!({ key: value })),
            "us-east-1",
            CliStyle::InputJson,
        )
        .unwrap();
        let w = words(&line);
        assert_eq!(w.len(), 7, "{w:?}");
        assert_eq!(w[3], "--cli-input-json");
    }
    let e = cli_command(
        &call(json!({"MaxResults": 5, "maxResults": 6})),
        "us-east-1",
        CliStyle::Flags,
    )
    .unwrap_err();
    assert!(matches!(e, RenderError::Duplicate(..)), "{e:?}");
}

#[test]
fn files_and_urls_are_never_handed_to_the_cli() {
    for value in [
        json!("file:///etc/passwd"),
        json!("fileb://x"),
        json!("https://evil.example/payload.json"),
        json!("http://169.254.169.254/latest/meta-data/"),
        json!("  FILE:///etc/passwd"),
        json!(["i-1", "File://x"]),
        json!([{"Name": "tag:x", "Values": ["fileb:///dev/urandom"]}]),
    ] {
        for style in [CliStyle::Flags, CliStyle::InputJson] {
            let e =
                cli_command(&call(json!({ "Filters": value })), "us-east-1", style).unwrap_err();
            assert!(matches!(e, RenderError::FileOrUrl { .. }), "{value}: {e:?}");
            assert!(e.to_string().contains("parameter Filters holds a"), "{e}");
        }
    }
    // Only at the start: a URL inside a value is data.
    assert!(
        cli_command(
            &call(json!({"Filters": "see https://x"})),
            "us-east-1",
            CliStyle::Flags
        )
        .is_ok()
    );
}

#[test]
fn hostile_values_stay_one_word_of_data() {
    for value in [
        "--endpoint-url=http://evil",
        "--endpoint-url",
        "-x",
        "x' --profile admin '",
        "x\" --profile admin \"",
        "a\nb --debug",
        "$(id) `id` \\",
        "'",
        "",
    ] {
        for param in [json!(value), json!([value]), json!({"Name": value})] {
            let p = json!({ "DBInstanceIdentifier": param });
            let line = cli_command(&rds(p.clone()), "eu-west-1", CliStyle::Flags).unwrap();
            let w = words(&line);
            assert_eq!(w.len(), 6, "{value:?}: {w:?}");
            let want = match &param {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(w[3], format!("--db-instance-identifier={want}"), "{line}");
            assert_eq!(&w[4..], ["--region", "eu-west-1"]);

            let line = cli_command(&rds(p.clone()), "eu-west-1", CliStyle::InputJson).unwrap();
            let w = words(&line);
            assert_eq!(w.len(), 7, "{value:?}: {w:?}");
            assert_eq!(serde_json::from_str::<Value>(&w[4]).unwrap(), p);
        }
    }
    for bad in ["us-east-1 --profile x", "", "US-EAST-1", "eu-west-1'"] {
        assert!(matches!(
            cli_command(&rds(json!({})), bad, CliStyle::Flags),
            Err(RenderError::BadRegion(_))
        ));
    }
}
