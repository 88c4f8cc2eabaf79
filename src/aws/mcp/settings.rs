//! The `[mcp]` section: where the AWS MCP Server is and how hard to push it.

use super::client::McpServer;
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
}

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
        if url::Url::parse(&url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            problems.push(Problem::new(
                "mcp.url",
                format!("{url:?} is not an http(s) URL; use {DEFAULT_URL}"),
            ));
        }
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
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "mcp.signing_region");
        let mut problems = Vec::new();
        let s = RawMcp::default().validate(&|_| None, &mut problems);
        assert!(problems.is_empty());
        assert_eq!(s.server.signing_region, "us-east-1");
        assert_eq!(s.requests_per_second, 3);
    }
}
