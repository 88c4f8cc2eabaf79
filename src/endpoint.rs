//! Which URLs opsbot sends credentials, tokens or signed requests to: HTTPS, or plain HTTP only
//! to a loopback host (local fakes and sidecars). One rule for every configured endpoint and
//! every URL learned from a peer (the MCP server, the Bot Framework key documents, the Entra
//! token endpoint, the identity providers). The HTTP clients built here never follow redirects:
//! a redirect would carry a signed request, a session id or a token to a host nobody configured.

use std::net::IpAddr;
use std::time::Duration;

/// Whether `host` (as `url` reports it: brackets around IPv6) is a loopback host.
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Ok` when `url` is `https://…`, or `http://` on a loopback host; else what is wrong, for a
/// config problem or an error message.
pub fn check(url: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    let host = u.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    match u.scheme() {
        "https" => Ok(u),
        "http" if is_loopback(host) => Ok(u),
        "http" => Err(format!(
            "{url:?} is plain http: opsbot sends credentials there, so it must be https (http only on 127.0.0.1/localhost)"
        )),
        other => Err(format!("{url:?} has scheme {other:?}; use an https URL")),
    }
}

/// An HTTP client that never follows redirects, with `timeout` per request (`None`: the caller
/// sets one per request) and opsbot's user agent.
pub fn client(timeout: Option<Duration>) -> Result<reqwest::Client, reqwest::Error> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("opsbot/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://aws-mcp.us-east-1.api.aws/mcp",
            "http://127.0.0.1:9000/mcp",
            "http://127.8.9.10/x",
            "http://localhost:3000/",
            "http://[::1]:8080/mcp",
            "HTTPS://Login.botframework.com/v1/.well-known/openidconfiguration",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://aws-mcp.us-east-1.api.aws/mcp",
            "http://127.0.0.1.evil.example/mcp",
            "http://localhost.evil.example/",
            "http://10.0.0.1/mcp",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "aws-mcp.us-east-1.api.aws/mcp",
            "",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
