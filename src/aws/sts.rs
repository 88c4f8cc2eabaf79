//! STS AssumeRole behind a trait: the SDK implementation and the typed errors users see.

use crate::secret::Secret;
use async_trait::async_trait;
use std::time::{Duration, SystemTime};

/// One AssumeRole call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRequest {
    /// Role to assume.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `SourceIdentity`.
    pub source_identity: String,
    /// `ExternalId`, when the role requires one.
    pub external_id: Option<String>,
    /// Session tags (empty when disabled).
    pub tags: Vec<(String, String)>,
    /// Requested lifetime.
    pub duration: Duration,
}

/// Temporary credentials. Secret parts never print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// Access key id (not secret on its own; shown in CloudTrail).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token.
    pub session_token: Secret,
    /// When they stop working.
    pub expiration: SystemTime,
}

/// Why AssumeRole failed, in terms of what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// The role's trust policy does not allow the bot (or the role does not exist).
    #[error(
        "access denied assuming {role}: the role's trust policy must allow opsbot's central role (deploy iam/member-role.yaml in that account)"
    )]
    AccessDenied {
        /// Role ARN.
        role: String,
    },
    /// The target role does not exist.
    #[error("role {role} not found: deploy iam/member-role.yaml in that account")]
    RoleMissing {
        /// Role ARN.
        role: String,
    },
    /// STS is not enabled in the region.
    #[error(
        "STS is disabled in this region for the account: activate it in IAM > Account settings"
    )]
    RegionDisabled,
    /// STS throttled the call.
    #[error("AWS STS is throttling requests; try again in a minute")]
    Throttled,
    /// The bot's own credentials are missing or expired.
    #[error(
        "opsbot's own AWS credentials are missing or expired: check the pod's IRSA/Pod Identity or task role"
    )]
    BaseCredentials,
    /// Anything else.
    #[error("AssumeRole failed: {0}")]
    Other(String),
}

impl StsError {
    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AccessDenied { .. } => "access_denied",
            Self::RoleMissing { .. } => "role_missing",
            Self::RegionDisabled => "region_disabled",
            Self::Throttled => "throttled",
            Self::BaseCredentials => "base_credentials",
            Self::Other(_) => "other",
        }
    }
}

/// Assumes roles. Real: [`SdkSts`].
#[async_trait]
pub trait Sts: Send + Sync + 'static {
    /// Calls AssumeRole.
    async fn assume_role(&self, request: &AssumeRequest) -> Result<AwsCredentials, StsError>;
}

/// AssumeRole through `aws-sdk-sts` with the SDK's default credential chain as the base
/// identity (env, profile, web identity / IRSA, Pod Identity, ECS, IMDS). Honours
/// `AWS_ENDPOINT_URL_STS`.
pub struct SdkSts {
    client: aws_sdk_sts::Client,
}

impl SdkSts {
    /// Wraps a client.
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }

    /// A client from the SDK's default configuration.
    pub async fn from_env() -> Self {
        let conf = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::Sts)
            .load()
            .await;
        Self::new(aws_sdk_sts::Client::new(&conf))
    }
}

/// [`SdkSts`] built on first use, so start-up never waits on AWS configuration discovery
/// (region and credential providers may probe IMDS).
#[derive(Default)]
pub struct LazySdkSts {
    inner: tokio::sync::OnceCell<SdkSts>,
}

#[async_trait]
impl Sts for LazySdkSts {
    async fn assume_role(&self, request: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        self.inner
            .get_or_init(SdkSts::from_env)
            .await
            .assume_role(request)
            .await
    }
}

fn classify(role: &str, code: Option<&str>, message: &str) -> StsError {
    match code {
        Some("AccessDenied")
            if message.contains("NoSuchEntity") || message.contains("does not exist") =>
        {
            StsError::RoleMissing { role: role.into() }
        }
        Some("AccessDenied") => StsError::AccessDenied { role: role.into() },
        Some("NoSuchEntity") => StsError::RoleMissing { role: role.into() },
        Some("RegionDisabledException") => StsError::RegionDisabled,
        Some("Throttling") | Some("ThrottlingException") | Some("RequestLimitExceeded") => {
            StsError::Throttled
        }
        Some("ExpiredToken") | Some("InvalidClientTokenId") | Some("SignatureDoesNotMatch") => {
            StsError::BaseCredentials
        }
        _ => StsError::Other(format!("{}: {message}", code.unwrap_or("error"))),
    }
}

#[async_trait]
impl Sts for SdkSts {
    async fn assume_role(&self, r: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        let mut call = self
            .client
            .assume_role()
            .role_arn(&r.role_arn)
            .role_session_name(&r.session_name)
            .source_identity(&r.source_identity)
            .duration_seconds(r.duration.as_secs().clamp(900, 43_200) as i32)
            .set_external_id(r.external_id.clone());
        for (k, v) in &r.tags {
            call = call.tags(
                aws_sdk_sts::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| StsError::Other(e.to_string()))?,
            );
        }
        let out = match call.send().await {
            Ok(o) => o,
            Err(e) => {
                use aws_sdk_sts::error::ProvideErrorMetadata;
                if let Some(service) = e.as_service_error() {
                    return Err(classify(
                        &r.role_arn,
                        service.code(),
                        service.message().unwrap_or(""),
                    ));
                }
                let text = aws_sdk_sts::error::DisplayErrorContext(&e).to_string();
                if text.contains("no credentials") || text.contains("credentials provider") {
                    return Err(StsError::BaseCredentials);
                }
                return Err(StsError::Other(text));
            }
        };
        let c = out
            .credentials()
            .ok_or_else(|| StsError::Other("no credentials in the response".into()))?;
        Ok(AwsCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: Secret::new(c.secret_access_key()),
            session_token: Secret::new(c.session_token()),
            expiration: SystemTime::try_from(*c.expiration())
                .unwrap_or_else(|_| SystemTime::now() + r.duration),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_become_fixes() {
        let role = "arn:aws:iam::1:role/r";
        assert_eq!(
            classify(
                role,
                Some("AccessDenied"),
                "not authorized to perform sts:AssumeRole"
            ),
            StsError::AccessDenied { role: role.into() }
        );
        assert_eq!(
            classify(role, Some("RegionDisabledException"), ""),
            StsError::RegionDisabled
        );
        assert_eq!(
            classify(role, Some("Throttling"), "Rate exceeded"),
            StsError::Throttled
        );
        assert_eq!(
            classify(role, Some("ExpiredToken"), ""),
            StsError::BaseCredentials
        );
        assert!(
            StsError::AccessDenied { role: role.into() }
                .to_string()
                .contains("iam/member-role.yaml")
        );
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = AwsCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI"),
            session_token: Secret::new("FwoGZXIvYXdzE"),
            expiration: SystemTime::UNIX_EPOCH,
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("FwoGZ"),
            "{shown}"
        );
    }
}
