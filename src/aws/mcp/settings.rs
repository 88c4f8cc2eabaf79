//! The `[mcp]` section: where the AWS MCP Server is and how hard to push it.

use super::client::{McpServer, RunsAs};
use crate::problem::Problem;
use crate::retry::RetryPolicy;
use serde::Deserialize;
use std::time::Duration;

/// Environment variable overriding `mcp.url` (tests, proxies).
pub const ENV_MCP_URL: &str = "OPSBOT_MCP_URL";
/// The hosted server's default endpoint.
pub const DEFAULT_URL: &str = "https://aws-mcp.us-east-1.api.aws/mcp";

/// Validated `[mcp]`.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Endpoint and signing (`mcp.url`, `mcp.signing_region`, `mcp.call_timeout_seconds`).
    pub server: McpServer,
    /// Requests per second per account and region (`mcp.requests_per_second`, default 3: the
    /// hosted server's quota).
    pub requests_per_second: u32,
    /// Requests in flight per account (`mcp.concurrency_per_account`, default 8).
    pub concurrency_per_account: usize,
    /// Pages followed per call (`mcp.max_pages`, default 10).
    pub max_pages: u32,
}

/// Raw `[mcp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawMcp {
    url: Option<String>,
    signing_region: Option<String>,
    requests_per_second: Option<u32>,
    concurrency_per_account: Option<usize>,
    call_timeout_seconds: Option<u64>,
    max_pages: Option<u32>,
    max_retries: Option<u32>,
    server: Option<String>,
}

/// What a self-hosted server loses, said by `opsbot check` and on every answer through it.
pub const SELF_HOSTED_LOSS: &str = "a self-hosted MCP server runs every AWS call as its own identity: not with the asking person's credentials (no per-person role session, no SourceIdentity in CloudTrail), and in whatever account that identity lives in, whichever account was asked for";

/// The region in a hosted endpoint's host name (`aws-mcp.<region>.api.aws`).
pub fn region_of(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_string();
    let rest = host.strip_prefix("aws-mcp.")?;
    let region = rest.strip_suffix(".api.aws")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_string())
}

impl RawMcp {
    /// Validates, reading `OPSBOT_MCP_URL` through `env`; pushes every problem.
    pub fn validate(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<Problem>,
    ) -> McpSettings {
        let url = env(ENV_MCP_URL)
            .or(self.url)
            .unwrap_or_else(|| DEFAULT_URL.into());
        if let Err(e) = crate::endpoint::check(&url) {
            problems.push(Problem::new(
                "mcp.url",
                format!("{e}; the hosted server is {DEFAULT_URL}"),
            ));
        }
        let hosted_url = region_of(&url).is_some();
        let runs_as = match self.server.as_deref() {
            Some("hosted") => RunsAs::Signer,
            Some("self_hosted") => RunsAs::Server,
            None if hosted_url => RunsAs::Signer,
            None => {
                problems.push(Problem::new(
                    "mcp.server",
                    format!("{url:?} is not the hosted AWS MCP Server (https://aws-mcp.<region>.api.aws/mcp): say what it is. \"hosted\" if it forwards each call as the signer (a proxy in front of the hosted server), \"self_hosted\" if it runs calls as its own identity (the awslabs server: {SELF_HOSTED_LOSS})"),
                ));
                RunsAs::Signer
            }
            Some(other) => {
                problems.push(Problem::new(
                    "mcp.server",
                    format!("{other:?}: use \"hosted\" (the default) or \"self_hosted\""),
                ));
                RunsAs::Signer
            }
        };
        let signing_region = match self.signing_region.or_else(|| region_of(&url)) {
            Some(r) => r,
            None => {
                problems.push(Problem::new(
                    "mcp.signing_region",
                    format!("can't tell the signing region from {url:?}; set mcp.signing_region (e.g. \"us-east-1\")"),
                ));
                "us-east-1".into()
            }
        };
        let rps = self.requests_per_second.unwrap_or(3);
        if !(1..=100).contains(&rps) {
            problems.push(Problem::new("mcp.requests_per_second", "must be between 1 and 100 (the hosted server allows about 3 per account and region)"));
        }
        let concurrency = self.concurrency_per_account.unwrap_or(8);
        if !(1..=27).contains(&concurrency) {
            problems.push(Problem::new("mcp.concurrency_per_account", "must be between 1 and 27 (the hosted server allows 27 connections per account and region)"));
        }
        let timeout = self.call_timeout_seconds.unwrap_or(60);
        if !(1..=600).contains(&timeout) {
            problems.push(Problem::new(
                "mcp.call_timeout_seconds",
                "must be between 1 and 600",
            ));
        }
        let max_pages = self.max_pages.unwrap_or(10);
        if !(1..=100).contains(&max_pages) {
            problems.push(Problem::new("mcp.max_pages", "must be between 1 and 100"));
        }
        McpSettings {
            server: McpServer {
                url,
                signing_region,
                timeout: Duration::from_secs(timeout),
                retry: RetryPolicy {
                    max_retries: self.max_retries.unwrap_or(3),
                    base: Duration::from_millis(400),
                    max_wait: Duration::from_secs(10),
                },
                runs_as,
            },
            requests_per_second: rps,
            concurrency_per_account: concurrency,
            max_pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_region_comes_from_the_hosted_host_name() {
        assert_eq!(region_of(DEFAULT_URL).as_deref(), Some("us-east-1"));
        assert_eq!(
            region_of("https://aws-mcp.eu-central-1.api.aws/mcp").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(region_of("http://127.0.0.1:9000/mcp"), None);
        let mut problems = Vec::new();
        let raw = RawMcp {
            url: Some("http://127.0.0.1:9000/mcp".into()),
            ..RawMcp::default()
        };
        raw.validate(&|_| None, &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["mcp.server", "mcp.signing_region"]);
        let mut problems = Vec::new();
        let s = RawMcp::default().validate(&|_| None, &mut problems);
        assert!(problems.is_empty());
        assert_eq!(s.server.signing_region, "us-east-1");
        assert_eq!(s.requests_per_second, 3);
        assert_eq!(s.server.runs_as, RunsAs::Signer);
    }

    fn validated(url: &str, server: Option<&str>) -> (McpSettings, Vec<String>) {
        let mut problems = Vec::new();
        let raw = RawMcp {
            url: Some(url.into()),
            signing_region: Some("us-east-1".into()),
            server: server.map(str::to_string),
            ..RawMcp::default()
        };
        let s = raw.validate(&|_| None, &mut problems);
        (
            s,
            problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
        )
    }

    #[test]
    fn a_server_that_is_not_the_hosted_one_must_be_declared() {
        let (_, p) = validated("http://127.0.0.1:9000/mcp", None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("self_hosted") && p[0].contains("own identity"),
            "{p:?}"
        );
        let (s, p) = validated("http://127.0.0.1:9000/mcp", Some("self_hosted"));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.server.runs_as, RunsAs::Server);
        let (s, p) = validated("https://mcp-proxy.internal.example/mcp", Some("hosted"));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.server.runs_as, RunsAs::Signer);
        let (_, p) = validated(DEFAULT_URL, Some("yes"));
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let (_, p) = validated("http://aws-mcp.us-east-1.api.aws/mcp", None);
        assert!(p.iter().any(|m| m.contains("must be https")), "{p:?}");
        let (_, p) = validated("http://10.1.2.3:8000/mcp", Some("self_hosted"));
        assert!(p.iter().any(|m| m.contains("must be https")), "{p:?}");
        let (_, p) = validated("http://127.0.0.1:8000/mcp", Some("self_hosted"));
        assert!(p.is_empty(), "{p:?}");
    }
}
