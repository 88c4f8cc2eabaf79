//! `opsbot check --aws`: assume every account's role as the check identity, call
//! `GetCallerIdentity` with the result, and report each account with the fix when it fails;
//! then list the MCP server's tools with the first account's credentials, and (with `[agent]`)
//! ask the model for one short reply.

use super::pool::{CredentialPool, PoolSettings};
use super::principal::Principal;
use super::sts::SdkSts;
use crate::accounts::{Account, Registry};
use crate::metrics::Metrics;
use std::sync::Arc;

/// One account's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `name (id)`.
    pub account: String,
    /// Role ARN tried.
    pub role: String,
    /// `Ok(assumed-role ARN)` or `Err(what to fix)`.
    pub result: Result<String, String>,
}

/// Checks every account with the SDK's default configuration (honours `AWS_ENDPOINT_URL_STS`).
pub async fn run(registry: &Registry, settings: PoolSettings) -> Vec<Row> {
    let conf = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::Sts)
        .load()
        .await;
    let sts = Arc::new(SdkSts::new(aws_sdk_sts::Client::new(&conf)));
    let pool = CredentialPool::new(sts, settings, Metrics::new());
    let checks = registry.all().iter().map(|a| check_one(&pool, &conf, a));
    futures_util::future::join_all(checks).await
}

async fn check_one(pool: &CredentialPool, conf: &aws_config::SdkConfig, account: &Account) -> Row {
    let result = match pool.get(&Principal::Check, account).await {
        Err(e) => Err(e.to_string()),
        Ok(c) => {
            let creds = aws_sdk_sts::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose(),
                Some(c.session_token.expose().to_string()),
                Some(c.expiration),
                "opsbot-check",
            );
            let client = aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(conf)
                    .credentials_provider(creds)
                    .build(),
            );
            match client.get_caller_identity().send().await {
                Ok(id) if id.account() == Some(account.id.as_str()) => {
                    Ok(id.arn().unwrap_or("").to_string())
                }
                Ok(id) => Err(format!(
                    "the role's credentials belong to account {}, not {}: check role_arn in the registry",
                    id.account().unwrap_or("?"),
                    account.id
                )),
                Err(e) => Err(format!(
                    "GetCallerIdentity failed: {}",
                    aws_sdk_sts::error::DisplayErrorContext(e)
                )),
            }
        }
    };
    Row {
        account: account.label(),
        role: account.role_arn.clone(),
        result,
    }
}

/// Lists the tools of every MCP endpoint in use (the endpoints the registry's Regions route
/// to), signed as the check identity in `account`: `(endpoint Region, Ok(names) or what to fix)`.
pub async fn mcp(
    account: &Account,
    regions: &[String],
    settings: PoolSettings,
    server: crate::aws::mcp::client::McpServer,
    pace: crate::aws::mcp::pace::PaceSettings,
) -> Vec<(String, Result<Vec<String>, String>)> {
    let conf = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::Sts)
        .load()
        .await;
    let sts = Arc::new(SdkSts::new(aws_sdk_sts::Client::new(&conf)));
    let pool = CredentialPool::new(sts, settings, Metrics::new());
    let endpoints = server.endpoints.in_use(regions.iter().map(String::as_str));
    let creds = match pool.get(&Principal::Check, account).await {
        Ok(c) => c,
        Err(e) => {
            return endpoints
                .into_iter()
                .map(|e| e.region)
                .map(|r| (r, Err(e.to_string())))
                .collect();
        }
    };
    let http = match crate::aws::mcp::client::http_client() {
        Ok(h) => h,
        Err(e) => return vec![(String::new(), Err(e.to_string()))],
    };
    let pacer = Arc::new(crate::aws::mcp::pace::Pacer::new(pace));
    let server = Arc::new(server);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let checks = endpoints.into_iter().map(|endpoint| {
        let (http, server, pacer, creds) = (http.clone(), server.clone(), pacer.clone(), creds.clone());
        async move {
            let url = endpoint.url.clone();
            let region = endpoint.region.clone();
            let session = crate::aws::mcp::client::McpSession::new(
                http,
                server,
                endpoint,
                &account.id,
                creds,
                pacer,
            );
            let listed = session.list_tools(deadline).await;
            session.close().await;
            let result = match listed {
                Err(e) => Err(format!(
                    "{e} ({url}; the role {} signs the requests)",
                    account.role_arn
                )),
                Ok(tools) => {
                    let names: Vec<String> = tools.into_iter().map(|t| t.name).collect();
                    if names
                        .iter()
                        .any(|n| n == "aws___run_script" || n.ends_with("call_aws"))
                    {
                        Ok(names)
                    } else {
                        Err(format!(
                            "the server at {url} offers neither aws___run_script nor call_aws (it offers {}); check mcp.url",
                            names.join(", ")
                        ))
                    }
                }
            };
            (region, result)
        }
    });
    futures_util::future::join_all(checks).await
}

/// The rows as a plain-text table.
pub fn table(rows: &[Row]) -> String {
    let w = rows
        .iter()
        .map(|r| r.account.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!("{:w$}  {:6}  DETAIL\n", "ACCOUNT", "RESULT");
    for r in rows {
        let (status, detail) = match &r.result {
            Ok(arn) => ("ok", arn.clone()),
            Err(e) => ("ERROR", format!("{e} (role {})", r.role)),
        };
        out.push_str(&format!("{:w$}  {:6}  {detail}\n", r.account, status));
    }
    out
}
