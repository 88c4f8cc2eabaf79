//! The `[teams]` section: the bot's Entra app (single-tenant), where Bot Framework keys and
//! tokens come from (overridable for tests and sovereign clouds), and which connector hosts
//! the bot may call. The client secret comes from the environment only.

use crate::problem::Problem;
use crate::secret::Secret;
use serde::Deserialize;

/// Environment variable holding the Entra app's client secret.
pub const ENV_CLIENT_SECRET: &str = "TEAMS_CLIENT_SECRET";
/// Where the Bot Framework publishes its signing keys.
pub const DEFAULT_OPENID: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Where client-credentials tokens come from.
pub const DEFAULT_LOGIN: &str = "https://login.microsoftonline.com";
/// The issuer of inbound tokens.
pub const ISSUER: &str = "https://api.botframework.com";
/// The scope of outbound tokens.
pub const SCOPE: &str = "https://api.botframework.com/.default";

/// How the bot shows it is working on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamsProgress {
    /// An "I'm on it" reply in the thread, updated with what the bot is doing and removed when
    /// the answer is posted.
    Message,
    /// The typing indicator, repeated while working.
    Typing,
    /// Nothing.
    None,
}

/// Validated `[teams]`.
#[derive(Debug, Clone)]
pub struct TeamsSettings {
    /// The bot's app id (the Entra app's client id) — the audience of inbound tokens.
    pub app_id: String,
    /// The Entra tenant the bot's app lives in (single-tenant).
    pub tenant_id: String,
    /// The client secret (`TEAMS_CLIENT_SECRET`).
    pub client_secret: Secret,
    /// OpenID metadata URL for inbound token keys (`teams.openid_metadata_url`).
    pub openid_metadata_url: String,
    /// Login base URL for outbound tokens (`teams.login_url`).
    pub login_url: String,
    /// Connector hosts the bot may call (`teams.allowed_service_hosts`; `*.domain` allowed).
    pub allowed_service_hosts: Vec<String>,
    /// The bot's display name, as people @mention it (`teams.bot_name`, for help texts).
    pub bot_name: String,
    /// Progress signal while working (`teams.progress`, default `message`).
    pub progress: TeamsProgress,
    /// Connector for scheduled posts to a channel the bot has no stored reference for yet
    /// (`teams.service_url`, e.g. `https://smba.trafficmanager.net/amer/`); unset: such posts
    /// fail with a message saying to add the app to the team.
    pub service_url: Option<String>,
}

/// Raw `[teams]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawTeams {
    app_id: String,
    tenant_id: String,
    openid_metadata_url: Option<String>,
    login_url: Option<String>,
    allowed_service_hosts: Option<Vec<String>>,
    bot_name: Option<String>,
    progress: Option<String>,
    service_url: Option<String>,
}

fn guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl TeamsSettings {
    /// Whether the activity's `serviceUrl` is one the bot may call: HTTPS (plain HTTP only on
    /// loopback, for local fakes) on an allowed host.
    pub fn allows_service_url(&self, service_url: &str) -> bool {
        let Ok(u) = url::Url::parse(service_url) else {
            return false;
        };
        let Some(host) = u.host_str() else {
            return false;
        };
        let loopback = crate::endpoint::is_loopback(host);
        if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
            return false;
        }
        self.allowed_service_hosts
            .iter()
            .any(|h| match h.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == h,
            })
    }
}

impl RawTeams {
    /// Validates, reading the secret through `env`; pushes every problem. `needed`: the bot
    /// serves Teams (the secret is required).
    pub fn validate(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        needed: bool,
        problems: &mut Vec<Problem>,
    ) -> TeamsSettings {
        if !guid(&self.app_id) {
            problems.push(Problem::new(
                "teams.app_id",
                "the bot's app id (a GUID): Azure portal > your Azure Bot > Configuration > Microsoft App ID",
            ));
        }
        if !guid(&self.tenant_id) {
            problems.push(Problem::new(
                "teams.tenant_id",
                "the Entra tenant id (a GUID) of the bot's single-tenant app registration",
            ));
        }
        let openid = self
            .openid_metadata_url
            .unwrap_or_else(|| DEFAULT_OPENID.into());
        let login = self.login_url.unwrap_or_else(|| DEFAULT_LOGIN.into());
        for (k, u) in [
            ("teams.openid_metadata_url", &openid),
            ("teams.login_url", &login),
        ] {
            if let Err(e) = crate::endpoint::check(u) {
                problems.push(Problem::new(k, e));
            }
        }
        let secret = env(ENV_CLIENT_SECRET).filter(|s| !s.trim().is_empty());
        if secret.is_none() && needed {
            problems.push(Problem::new(
                ENV_CLIENT_SECRET,
                "not set; export the app registration's client secret (Entra admin center > App registrations > your bot > Certificates & secrets)",
            ));
        }
        let hosts = self.allowed_service_hosts.unwrap_or_else(|| {
            vec![
                "smba.trafficmanager.net".into(),
                "*.botframework.com".into(),
                "*.teams.microsoft.com".into(),
            ]
        });
        if hosts.is_empty() {
            problems.push(Problem::new(
                "teams.allowed_service_hosts",
                "must name at least one host (default: smba.trafficmanager.net, *.botframework.com)",
            ));
        }
        let mut settings = TeamsSettings {
            app_id: self.app_id,
            tenant_id: self.tenant_id,
            client_secret: Secret::new(secret.unwrap_or_default()),
            openid_metadata_url: openid,
            login_url: login.trim_end_matches('/').to_string(),
            allowed_service_hosts: hosts,
            bot_name: self.bot_name.unwrap_or_else(|| "opsbot".into()),
            progress: match self.progress.as_deref() {
                None | Some("message") => TeamsProgress::Message,
                Some("typing") => TeamsProgress::Typing,
                Some("none") => TeamsProgress::None,
                Some(other) => {
                    problems.push(Problem::new(
                        "teams.progress",
                        format!("{other:?} is not one of \"message\", \"typing\" or \"none\""),
                    ));
                    TeamsProgress::Message
                }
            },
            service_url: None,
        };
        if let Some(u) = self.service_url {
            if !settings.allows_service_url(&u) {
                problems.push(Problem::new(
                    "teams.service_url",
                    format!("{u:?} is not a URL on one of teams.allowed_service_hosts"),
                ));
            }
            settings.service_url = Some(u);
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ids_secret_and_hosts() {
        let raw = RawTeams {
            app_id: "00000000-0000-0000-0000-00000000000a".into(),
            tenant_id: "not-a-guid".into(),
            ..RawTeams::default()
        };
        let mut problems = Vec::new();
        let s = raw.validate(&|_| None, true, &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["teams.tenant_id", ENV_CLIENT_SECRET]);
        assert!(s.allows_service_url("https://smba.trafficmanager.net/amer/"));
        assert!(s.allows_service_url("https://europe.botframework.com/"));
        assert!(!s.allows_service_url("https://evil.example.com/"));
        assert!(!s.allows_service_url("https://botframework.com.evil.example/"));
        assert!(!s.allows_service_url("http://smba.trafficmanager.net/amer/"));
    }
}
