//! Which MCP endpoint a read goes to. The hosted AWS MCP Server has an endpoint in several
//! Regions (`https://aws-mcp.<region>.api.aws/mcp`), each with its own quota bucket per account:
//! a read that targets a Region with an endpoint goes to that endpoint (closer to the data,
//! traffic stays in-Region, load spread over buckets); others go to the default Region's. A
//! fixed URL (no `{region}`) is one endpoint for everything, as before.

/// `mcp.url`'s default: one endpoint per Region.
pub const DEFAULT_TEMPLATE: &str = "https://aws-mcp.{region}.api.aws/mcp";
/// Regions the hosted server has an endpoint in (`mcp.endpoint_regions`' default).
pub const HOSTED_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
];
/// The placeholder in a templated URL.
pub const PLACEHOLDER: &str = "{region}";

/// One endpoint: where to send, and the SigV4 signing Region (= the endpoint's Region).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The URL.
    pub url: String,
    /// Its Region: the signing Region and the quota bucket.
    pub region: String,
}

/// The endpoints in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoints {
    /// One URL for every read (`mcp.url` without `{region}`).
    Fixed(Endpoint),
    /// `{region}` in the URL: one endpoint per Region that has one.
    Regional {
        /// The URL with `{region}`.
        template: String,
        /// Regions with an endpoint (`mcp.endpoint_regions`).
        regions: Vec<String>,
        /// Where reads for other Regions go (`mcp.default_region`; one of `regions`).
        default_region: String,
    },
}

impl Endpoints {
    /// The endpoint a read targeting `region` goes to.
    pub fn for_region(&self, region: &str) -> Endpoint {
        match self {
            Self::Fixed(e) => e.clone(),
            Self::Regional {
                template,
                regions,
                default_region,
            } => {
                let r = if regions.iter().any(|x| x == region) {
                    region
                } else {
                    default_region
                };
                Endpoint {
                    url: template.replace(PLACEHOLDER, r),
                    region: r.to_string(),
                }
            }
        }
    }

    /// The endpoint for reads with no Region (documentation tools, tool listing).
    pub fn default_endpoint(&self) -> Endpoint {
        match self {
            Self::Fixed(e) => e.clone(),
            Self::Regional { default_region, .. } => self.for_region(default_region),
        }
    }

    /// Every endpoint reads for `regions` would use, without duplicates, the default first.
    pub fn in_use<'a>(&self, regions: impl IntoIterator<Item = &'a str>) -> Vec<Endpoint> {
        let mut out = vec![self.default_endpoint()];
        for r in regions {
            let e = self.for_region(r);
            if !out.contains(&e) {
                out.push(e);
            }
        }
        out
    }

    /// `mcp.url` as configured, for summaries and errors.
    pub fn describe(&self) -> String {
        match self {
            Self::Fixed(e) => e.url.clone(),
            Self::Regional {
                template,
                regions,
                default_region,
            } => format!(
                "{template} in {} (others via {default_region})",
                regions.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regional() -> Endpoints {
        Endpoints::Regional {
            template: DEFAULT_TEMPLATE.into(),
            regions: HOSTED_REGIONS.iter().map(|r| r.to_string()).collect(),
            default_region: "us-east-1".into(),
        }
    }

    #[test]
    fn reads_go_to_their_regions_endpoint_or_the_default() {
        let e = regional();
        assert_eq!(
            e.for_region("eu-west-1"),
            Endpoint {
                url: "https://aws-mcp.eu-west-1.api.aws/mcp".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(e.for_region("sa-east-1").region, "us-east-1");
        assert_eq!(
            e.for_region("ca-central-1").url,
            "https://aws-mcp.us-east-1.api.aws/mcp"
        );
        let used: Vec<String> = e
            .in_use(["eu-west-1", "sa-east-1", "eu-west-1", "ap-southeast-2"])
            .into_iter()
            .map(|e| e.region)
            .collect();
        assert_eq!(used, ["us-east-1", "eu-west-1", "ap-southeast-2"]);
    }

    #[test]
    fn a_fixed_url_serves_every_region() {
        let fixed = Endpoints::Fixed(Endpoint {
            url: "http://127.0.0.1:9/mcp".into(),
            region: "us-east-1".into(),
        });
        assert_eq!(fixed.for_region("eu-west-1").url, "http://127.0.0.1:9/mcp");
        assert_eq!(fixed.in_use(["eu-west-1", "us-west-2"]).len(), 1);
    }
}
