//! The one way opsbot loads AWS SDK configuration: every SDK client (STS, Bedrock,
//! Organizations, Identity Center, DynamoDB) gets a connect timeout, a per-attempt timeout and a
//! whole-operation timeout sized for what it calls, so no AWS endpoint can hang an answer, a
//! schedule or start-up. Endpoints stay configurable through the SDK's own
//! `AWS_ENDPOINT_URL_*` variables.

use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// Which AWS API a client calls; each has its own time budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkUse {
    /// STS AssumeRole / GetCallerIdentity: small and fast.
    Sts,
    /// Bedrock Converse: one model turn can take a minute or more.
    Bedrock,
    /// Organizations discovery: paginated listing.
    Organizations,
    /// IAM Identity Center identity store lookups (groups of a person).
    IdentityStore,
    /// The DynamoDB store: on the answer path, so short.
    DynamoDb,
}

impl SdkUse {
    /// The timeouts for this use: connect, each attempt, the whole operation with retries.
    pub fn timeouts(self) -> TimeoutConfig {
        let (connect, attempt, operation) = match self {
            Self::Sts => (3, 10, 20),
            Self::Bedrock => (5, 120, 240),
            Self::Organizations => (5, 15, 30),
            Self::IdentityStore => (3, 5, 10),
            Self::DynamoDb => (2, 3, 3),
        };
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(connect))
            .operation_attempt_timeout(Duration::from_secs(attempt))
            .operation_timeout(Duration::from_secs(operation))
            .build()
    }
}

/// The SDK's default configuration chain (credentials, region, endpoints) with the timeouts of
/// `purpose`; call `.region(..)`/`.retry_config(..)` on it as needed, then `.load()`.
pub fn loader(purpose: SdkUse) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(purpose.timeouts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_use_has_all_three_timeouts() {
        for u in [
            SdkUse::Sts,
            SdkUse::Bedrock,
            SdkUse::Organizations,
            SdkUse::IdentityStore,
            SdkUse::DynamoDb,
        ] {
            let t = u.timeouts();
            let (c, a, o) = (
                t.connect_timeout().unwrap(),
                t.operation_attempt_timeout().unwrap(),
                t.operation_timeout().unwrap(),
            );
            assert!(c <= a && a <= o, "{u:?}: {c:?} {a:?} {o:?}");
        }
    }

    #[test]
    fn every_sdk_client_is_configured_here() {
        // A client built from `aws_config::defaults` elsewhere would have no timeouts.
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("aws/sdk.rs")
                    && std::fs::read_to_string(&path)
                        .unwrap()
                        .contains(concat!("aws_config::", "defaults("))
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "use aws::sdk::loader in {offenders:?}"
        );
    }
}
