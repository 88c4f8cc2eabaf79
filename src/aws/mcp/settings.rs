//! The `[mcp]` section: where the AWS MCP Server is (one URL, or one endpoint per Region with
//! `{region}`), what it is (hosted or self-hosted), and how hard to push it (its quota).

use super::client::{McpServer, RunsAs};
use super::endpoints::{DEFAULT_TEMPLATE, Endpoint, Endpoints, HOSTED_REGIONS, PLACEHOLDER};
use super::pace::PaceSettings;
use crate::aws::read::reader::ReadSettings;
use crate::problem::Problem;
use crate::retry::RetryPolicy;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Environment variable overriding `mcp.url` (tests, proxies).
pub const ENV_MCP_URL: &str = "OPSBOT_MCP_URL";
/// The hosted server's endpoints.
pub const DEFAULT_URL: &str = DEFAULT_TEMPLATE;
/// Per-API limits below the server's quota, per account per target Region: `service:Operation`
/// → requests per second. CloudTrail `LookupEvents` allows 2 per second per account per Region.
pub const API_LIMITS: &[(&str, f64)] = &[("cloudtrail:LookupEvents", 2.0)];

/// What a self-hosted server loses, said by `opsbot check` and on every answer through it.
pub const SELF_HOSTED_LOSS: &str = "a self-hosted MCP server runs every AWS call as its own identity: not with the asking person's credentials (no per-person role session, no SourceIdentity in CloudTrail), and in whatever account that identity lives in, whichever account was asked for";

/// Validated `[mcp]`.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Endpoints, timeouts, retries and what the server is.
    pub server: McpServer,
    /// The quota per account per endpoint Region (`mcp.requests_per_second`, default 3;
    /// `mcp.burst`, default 1; `mcp.concurrency_per_account`, default 8, at most 27).
    pub pace: PaceSettings,
    /// Pages followed per read (`mcp.max_pages`, default 10).
    pub max_pages: u32,
    /// Reads batched into one `run_script` request (`mcp.max_reads_per_script`, default 25).
    pub max_reads_per_script: usize,
    /// Per-API limits (`[mcp.api_limits]`, `"service:Operation" = requests per second`), over
    /// [`API_LIMITS`].
    pub api_limits: BTreeMap<String, f64>,
}

/// Raw `[mcp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawMcp {
    url: Option<String>,
    signing_region: Option<String>,
    endpoint_regions: Option<Vec<String>>,
    default_region: Option<String>,
    requests_per_second: Option<f64>,
    burst: Option<u32>,
    concurrency_per_account: Option<usize>,
    call_timeout_seconds: Option<u64>,
    max_pages: Option<u32>,
    max_retries: Option<u32>,
    max_reads_per_script: Option<usize>,
    api_limits: Option<BTreeMap<String, f64>>,
    server: Option<String>,
}

impl McpSettings {
    /// How the reader batches and paces reads.
    pub fn read_settings(&self) -> ReadSettings {
        ReadSettings {
            max_pages: self.max_pages,
            max_reads_per_script: self.max_reads_per_script,
            api_limits: self.api_limits.clone(),
        }
    }
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
        let endpoints = endpoints(
            &url,
            self.signing_region,
            self.endpoint_regions,
            self.default_region,
            problems,
        );
        let sample = endpoints.default_endpoint().url;
        let runs_as = match self.server.as_deref() {
            Some("hosted") => RunsAs::Signer,
            Some("self_hosted") => RunsAs::Server,
            None if region_of(&sample).is_some() => RunsAs::Signer,
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
        let rps = self.requests_per_second.unwrap_or(3.0);
        if !(0.1..=100.0).contains(&rps) {
            problems.push(Problem::new("mcp.requests_per_second", "must be between 0.1 and 100 (the hosted server allows 3 per account per endpoint Region)"));
        }
        let burst = self.burst.unwrap_or(1);
        if !(1..=27).contains(&burst) {
            problems.push(Problem::new(
                "mcp.burst",
                "must be between 1 and 27 (requests sent at once before the rate applies)",
            ));
        }
        let concurrency = self.concurrency_per_account.unwrap_or(8);
        if !(1..=27).contains(&concurrency) {
            problems.push(Problem::new("mcp.concurrency_per_account", "must be between 1 and 27 (the hosted server allows 27 connections per account per endpoint Region)"));
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
        let max_reads = self.max_reads_per_script.unwrap_or(25);
        if !(1..=200).contains(&max_reads) {
            problems.push(Problem::new(
                "mcp.max_reads_per_script",
                "must be between 1 and 200",
            ));
        }
        let mut api_limits: BTreeMap<String, f64> = API_LIMITS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        for (k, v) in self.api_limits.unwrap_or_default() {
            let well_formed = k.split_once(':').is_some_and(|(s, o)| {
                !s.is_empty() && o.starts_with(|c: char| c.is_ascii_uppercase())
            });
            if !well_formed || !(0.01..=100.0).contains(&v) {
                problems.push(Problem::new(
                    format!("mcp.api_limits.{k}"),
                    "write \"service:Operation\" = requests per second (0.01-100), e.g. \"cloudtrail:LookupEvents\" = 2",
                ));
            }
            api_limits.insert(k, v);
        }
        McpSettings {
            server: McpServer {
                endpoints,
                timeout: Duration::from_secs(timeout),
                retry: RetryPolicy {
                    max_retries: self.max_retries.unwrap_or(3),
                    base: Duration::from_millis(400),
                    max_wait: Duration::from_secs(30),
                },
                runs_as,
            },
            pace: PaceSettings {
                requests_per_second: rps,
                burst,
                in_flight: concurrency,
            },
            max_pages,
            max_reads_per_script: max_reads,
            api_limits,
        }
    }
}

/// The endpoints `url` names; problems for unreachable or ambiguous ones.
fn endpoints(
    url: &str,
    signing_region: Option<String>,
    regions: Option<Vec<String>>,
    default_region: Option<String>,
    problems: &mut Vec<Problem>,
) -> Endpoints {
    let url_problem = |u: &str, problems: &mut Vec<Problem>| {
        if let Err(e) = crate::endpoint::check(u) {
            problems.push(Problem::new(
                "mcp.url",
                format!("{e}; the hosted server is {DEFAULT_URL}"),
            ));
        }
    };
    if url.contains(PLACEHOLDER) {
        let regions =
            regions.unwrap_or_else(|| HOSTED_REGIONS.iter().map(|r| r.to_string()).collect());
        let default_region = default_region.unwrap_or_else(|| "us-east-1".into());
        if !regions.contains(&default_region) {
            problems.push(Problem::new(
                "mcp.default_region",
                format!(
                    "{default_region:?} is not in mcp.endpoint_regions ({})",
                    regions.join(", ")
                ),
            ));
        }
        if regions.is_empty() {
            problems.push(Problem::new(
                "mcp.endpoint_regions",
                "must name at least one Region",
            ));
        }
        if signing_region.is_some() {
            problems.push(Problem::new(
                "mcp.signing_region",
                "not used with {region} in mcp.url: each endpoint signs with its own Region",
            ));
        }
        url_problem(&url.replace(PLACEHOLDER, &default_region), problems);
        return Endpoints::Regional {
            template: url.to_string(),
            regions,
            default_region,
        };
    }
    url_problem(url, problems);
    if regions.is_some() || default_region.is_some() {
        problems.push(Problem::new(
            "mcp.endpoint_regions",
            "mcp.endpoint_regions and mcp.default_region need {region} in mcp.url (one endpoint per Region)",
        ));
    }
    let region = match signing_region.or_else(|| region_of(url)) {
        Some(r) => r,
        None => {
            problems.push(Problem::new(
                "mcp.signing_region",
                format!("can't tell the signing region from {url:?}; set mcp.signing_region (e.g. \"us-east-1\")"),
            ));
            "us-east-1".into()
        }
    };
    Endpoints::Fixed(Endpoint {
        url: url.to_string(),
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_region_comes_from_the_hosted_host_name() {
        assert_eq!(
            region_of("https://aws-mcp.us-east-1.api.aws/mcp").as_deref(),
            Some("us-east-1")
        );
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
        let mut keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["mcp.server", "mcp.signing_region"]);
        let mut problems = Vec::new();
        let s = RawMcp::default().validate(&|_| None, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            s.server.endpoints.for_region("eu-west-1").url,
            "https://aws-mcp.eu-west-1.api.aws/mcp"
        );
        assert_eq!(
            s.server.endpoints.for_region("sa-east-1").region,
            "us-east-1"
        );
        assert_eq!(s.pace.requests_per_second, 3.0);
        assert_eq!(s.pace.burst, 1);
        assert_eq!(s.server.runs_as, RunsAs::Signer);
        assert_eq!(s.api_limits.get("cloudtrail:LookupEvents"), Some(&2.0));
    }

    #[test]
    fn regional_endpoints_are_configurable_and_checked() {
        let mut problems = Vec::new();
        let raw = RawMcp {
            url: Some("http://127.0.0.1:9000/{region}/mcp".into()),
            endpoint_regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
            default_region: Some("eu-west-1".into()),
            server: Some("hosted".into()),
            ..RawMcp::default()
        };
        let s = raw.validate(&|_| None, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let e = s.server.endpoints.for_region("us-west-2");
        assert_eq!(
            (e.url.as_str(), e.region.as_str()),
            ("http://127.0.0.1:9000/eu-west-1/mcp", "eu-west-1")
        );
        let mut problems = Vec::new();
        let raw = RawMcp {
            default_region: Some("mars-1".into()),
            signing_region: Some("us-east-1".into()),
            ..RawMcp::default()
        };
        raw.validate(&|_| None, &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["mcp.default_region", "mcp.signing_region"]);
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
        let (_, p) = validated("https://aws-mcp.us-east-1.api.aws/mcp", Some("yes"));
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
