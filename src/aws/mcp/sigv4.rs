//! SigV4 for MCP requests: every request is signed in-process over the exact body bytes, with
//! the credentials of the person × account it runs for (service `aws-mcp`, the endpoint's
//! region, `X-Amz-Security-Token` for temporary credentials). The `aws-sigv4` defaults match
//! botocore's signer, which is what the hosted server expects.

use crate::aws::sts::AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// The signing service name of the AWS MCP Server.
pub const SERVICE: &str = "aws-mcp";

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the MCP request: {0}")]
pub struct SignError(String);

/// The headers to add to a request so it is signed: (name, value) pairs.
pub fn sign_headers(
    creds: &AwsCredentials,
    region: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    at: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_string(),
        Some(creds.session_token.expose().to_string()).filter(|t| !t.is_empty()),
        Some(creds.expiration),
        "opsbot-pool",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError(e.to_string()))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds(token: &str) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Secret::new(token),
            expiration: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        }
    }

    #[test]
    fn signs_the_exact_body_with_the_session_token() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let headers = [
            ("host", "aws-mcp.us-east-1.api.aws"),
            ("content-type", "application/json"),
        ];
        let h = sign_headers(
            &creds("FwoGZXIvYXdz"),
            "us-east-1",
            "POST",
            "https://aws-mcp.us-east-1.api.aws/mcp",
            &headers,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            at,
        )
        .unwrap();
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/aws-mcp/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("x-amz-date").as_deref(), Some("20231114T221320Z"));
        assert_eq!(get("x-amz-security-token").as_deref(), Some("FwoGZXIvYXdz"));
        let other = sign_headers(
            &creds("FwoGZXIvYXdz"),
            "us-east-1",
            "POST",
            "https://aws-mcp.us-east-1.api.aws/mcp",
            &headers,
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            at,
        )
        .unwrap();
        assert_ne!(h, other, "the signature covers the body");
        let permanent = sign_headers(
            &creds(""),
            "us-east-1",
            "POST",
            "https://x/mcp",
            &headers,
            b"{}",
            at,
        )
        .unwrap();
        assert!(permanent.iter().all(|(k, _)| k != "x-amz-security-token"));
    }
}
