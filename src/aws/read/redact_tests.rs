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

#[test]
fn tokens_credentials_and_presigned_urls_go_wherever_they_are() {
    let url = "https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/snapshots/1/api-1a2b?versionId=x&X-Amz-Security-Token=IQoJb3JpZ2lu&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAXXXXXXXXXXXXXXXX%2F20260101&X-Amz-Signature=abc123";
    for (mut v, gone) in [
        (
            json!({"authorizationData": [{"authorizationToken": "QVdTOmV5Smhi", "proxyEndpoint": "https://1.dkr.ecr"}]}),
            "QVdTOmV5Smhi",
        ),
        (
            json!({"app": {"basicAuthCredentials": "dXNlcjpwYXNz", "enableBasicAuth": true}}),
            "dXNlcjpwYXNz",
        ),
        (
            json!({"Code": {"RepositoryType": "S3", "Location": url}}),
            "abc123",
        ),
        (json!({"Configuration": {"Notes": [url]}}), "IQoJb3JpZ2lu"),
        (
            json!({"session": {"SessionToken": "FwoGZX", "AccessKeyId": "ASIA1"}}),
            "FwoGZX",
        ),
        (json!({"identity": {"IdToken": "eyJhbGci"}}), "eyJhbGci"),
        (
            json!({"r": {"repositoryCredentials": {"credentialsParameter": "arn:x:secret"}}}),
            "arn:x:secret",
        ),
        (
            json!({"VpnConnections": [{"CustomerGatewayConfiguration": "<pre_shared_key>k1</pre_shared_key>",
            "Options": {"TunnelOptions": [{"PreSharedKey": "k2"}]}}]}),
            "k1",
        ),
        (
            json!({"VpnConnections": [{"Options": {"TunnelOptions": [{"PreSharedKey": "k2"}]}}]}),
            "k2",
        ),
        (
            json!({"Stacks": [{"StackName": "db", "Parameters": [
            {"ParameterKey": "DbPassword", "ParameterValue": "hunter2"},
            {"ParameterKey": "InstanceType", "ParameterValue": "t3.micro"}]}]}),
            "hunter2",
        ),
        (
            json!({"Stacks": [{"Outputs": [{"OutputKey": "ApiToken", "OutputValue": "tok-123"},
            {"OutputKey": "Url", "OutputValue": "https://x"}]}]}),
            "tok-123",
        ),
        (
            json!({"ConfigurationSettings": [{"OptionSettings": [
            {"Namespace": "aws:elasticbeanstalk:application:environment", "OptionName": "DB_PASS", "Value": "pw1"},
            {"Namespace": "aws:elasticbeanstalk:application:environment", "OptionName": "STRIPE_API_KEY", "Value": "sk_live_1"}]}]}),
            "sk_live_1",
        ),
        (
            json!({"Exports": [{"Name": "prod-db-connection-string", "Value": "postgres://u:p@h/db"}]}),
            "postgres://u:p@h/db",
        ),
        (
            json!({"Tags": [{"Key": "api_token", "Value": "t0k"}]}),
            "t0k",
        ),
    ] {
        let n = redact(&mut v);
        assert!(n >= 1, "{v}");
        assert!(!v.to_string().contains(gone), "{gone} in {v}");
    }
    let mut v = json!({"Stacks": [{"Parameters": [{"ParameterKey": "InstanceType", "ParameterValue": "t3.micro"}],
        "Outputs": [{"OutputKey": "Url", "OutputValue": "https://x"}]}]});
    let before = v.clone();
    assert_eq!(redact(&mut v), 0, "ordinary parameters and outputs stay");
    assert_eq!(v, before);
}

#[test]
fn ordinary_results_keep_their_tags_names_arns_and_pagination_tokens() {
    let mut v = json!({
        "Reservations": [{"Instances": [{"InstanceId": "i-1", "KeyName": "ops-key", "ClientToken": "abc",
            "MetadataOptions": {"HttpTokens": "required"},
            "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/web"},
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "cost-center", "Value": "-42"},
                     {"Key": "aws:cloudformation:stack-id", "Value": "arn:aws:cloudformation:x"},
                     {"Key": "KeyPairName", "Value": "ops"}]}]}],
        "NextToken": "n1", "nextToken": "n2", "NextContinuationToken": "n3", "ContinuationToken": "n4",
        "NextMarker": "m", "Marker": "m0", "NextPageToken": "p",
        "AccessKeyMetadata": [{"UserName": "ci", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}],
        "SecretArn": "arn:aws:secretsmanager:x", "KmsKeyId": "k",
        "StackEvents": [{"ClientRequestToken": "c"}],
        "Functions": [{"FunctionArn": "arn:aws:lambda:x", "CodeSha256": "abc="}],
    });
    let before = v.clone();
    assert_eq!(redact(&mut v), 0, "{v}");
    assert_eq!(v, before);
}

#[test]
fn texts_lose_presigned_queries_key_ids_and_secret_pairs() {
    for (text, gone, kept) in [
        (
            "AccessDenied: https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAQWERTYUIOPASDFGH%2F2026&X-Amz-Signature=deadbeef expired",
            vec!["deadbeef", "ASIAQWERTYUIOPASDFGH", "X-Amz-Credential"],
            vec!["AccessDenied:", "https://b.s3.amazonaws.com/k?", "expired"],
        ),
        (
            "InvalidClientTokenId: The security token included in the request is invalid (key AKIAIOSFODNN7EXAMPLE)",
            vec!["AKIAIOSFODNN7EXAMPLE"],
            vec![
                "InvalidClientTokenId: The security token included in the request is invalid (key ",
            ],
        ),
        (
            "failed: password=hunter2&user=bob token=abc.def,next",
            vec!["hunter2", "abc.def"],
            vec!["user=bob", ",next", "password="],
        ),
        (
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0123abcd",
            vec!["AKIAIOSFODNN7EXAMPLE", "0123abcd"],
            vec!["SignedHeaders=host"],
        ),
        (
            r#"not JSON: {"SecretString": "s3cr3t-value", "Name": "db", "SessionToken" : "FwoG\"x"}"#,
            vec!["s3cr3t-value", "FwoG"],
            vec![r#""Name": "db""#],
        ),
        (
            "ValidationError: NextToken=abc123 is not valid",
            vec![],
            vec!["NextToken=abc123"],
        ),
        (
            "ExpiredToken: The security token included in the request is expired",
            vec![],
            vec!["ExpiredToken: The security token included in the request is expired"],
        ),
        (
            "héllo wörld token=ünïcode end",
            vec!["ünïcode"],
            vec!["héllo wörld", " end"],
        ),
    ] {
        let out = redact_text(text);
        for g in gone {
            assert!(!out.contains(g), "{g} in {out}");
        }
        for k in kept {
            assert!(out.contains(k), "{k} not in {out}");
        }
    }
    assert_eq!(redact_text("plain text"), "plain text");
    assert_eq!(redact_text(""), "");
}
