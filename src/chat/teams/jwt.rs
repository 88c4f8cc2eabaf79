//! Validates the bearer tokens the Bot Framework (Bot Connector) puts on every request to
//! `/api/messages`, as "Authentication with the Bot Connector API" describes for the
//! connector-to-bot direction.
//!
//! Checks, in order: a `Bearer` JWT; `alg` is RS256 (anything else is refused before keys are
//! looked at); `kid` names a published key; the RSA signature; `iss`; `aud` (the bot's app
//! id); `exp` and `nbf` with five minutes of clock skew. [`Verified::check_activity`] then
//! checks what needs the activity: the `serviceurl` claim and the signing key's endorsement of
//! the activity's `channelId`.
//!
//! Keys come from the OpenID metadata document's `jwks_uri`. They are cached for 24 hours
//! (age measured on the `now` callers pass); if refreshing fails the old keys keep serving, with
//! a warning, for up to 5 days. A token naming an unknown `kid` triggers at most one refetch per
//! cooldown (on tokio's monotonic clock), so forged tokens cannot make the bot hammer the key
//! endpoint; a failed fetch is not retried by requests within the cooldown either. Fetches are
//! single-flight. Tokens are never logged.

use crate::chat::teams::settings::ISSUER;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use keys::{Key, KeySet};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Allowed clock skew for `exp` and `nbf`, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 5 * 60;
/// How long fetched keys are used before they are refetched, in seconds.
pub const KEYS_FRESH_SECS: u64 = 24 * 60 * 60;
/// How long old keys keep serving while refetching fails, in seconds.
pub const KEYS_MAX_STALE_SECS: u64 = 5 * 24 * 60 * 60;
/// Largest metadata or key document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Timeout of one metadata or key request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `Authorization` value looked at; Bot Framework tokens are a few KiB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Base64url, with or without padding (JWTs have none; some JWKS publishers pad).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request's token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `Authorization` header.
    #[error(
        "no Authorization header; the Bot Framework always sends `Authorization: Bearer <jwt>`: check that no proxy in front of the bot strips it"
    )]
    Missing,
    /// The header is not a `Bearer` JWT, or the JWT does not decode.
    #[error(
        "the bearer token is malformed ({0}); requests to /api/messages must come from the Bot Framework"
    )]
    Malformed(&'static str),
    /// `alg` is not RS256.
    #[error(
        "token algorithm {0:?} is refused: Bot Framework tokens are RS256 only, so this request was not sent by the Bot Framework"
    )]
    Algorithm(String),
    /// `kid` names no published key, even after a refetch.
    #[error(
        "the token's key id is not among the published Bot Framework keys (refetched at most once per cooldown); a forged token, or check teams.openid_metadata_url"
    )]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify; the request was not sent by the Bot Framework")]
    Signature,
    /// `iss` is not the Bot Framework.
    #[error("the token's issuer is not {ISSUER}; it was not issued for the Bot Connector")]
    Issuer,
    /// `aud` is not this bot's app id.
    #[error(
        "the token's audience is not this bot's app id; check teams.app_id against the Azure Bot's Microsoft App ID"
    )]
    Audience,
    /// `exp` is past (beyond the skew).
    #[error(
        "the token expired (more than 5 minutes ago); check the host clock (NTP) if this repeats"
    )]
    Expired,
    /// `nbf` is in the future (beyond the skew).
    #[error(
        "the token is not valid yet (nbf more than 5 minutes ahead); check the host clock (NTP)"
    )]
    NotYetValid,
    /// The `serviceurl` claim is missing or differs from the activity's `serviceUrl`.
    #[error(
        "the token's serviceurl claim does not match the activity's serviceUrl; the activity may have been replayed or altered"
    )]
    ServiceUrl,
    /// The signing key is not endorsed for the activity's `channelId`.
    #[error(
        "the signing key is not endorsed for channel {channel:?}; the activity claims a channel the Bot Framework did not vouch for"
    )]
    NotEndorsed {
        /// The activity's `channelId` (truncated).
        channel: String,
    },
    /// No usable keys: fetching them failed and no cached keys are young enough.
    #[error(
        "could not get the Bot Framework signing keys: {0}; check outbound HTTPS to teams.openid_metadata_url (proxy, firewall, DNS)"
    )]
    Keys(String),
}

impl JwtError {
    /// The HTTP status to answer with: 403 when the channel is not endorsed, else 401.
    pub fn status(&self) -> u16 {
        match self {
            JwtError::NotEndorsed { .. } => 403,
            _ => 401,
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::Missing => "missing",
            JwtError::Malformed(_) => "malformed",
            JwtError::Algorithm(_) => "algorithm",
            JwtError::UnknownKey => "unknown_key",
            JwtError::Signature => "signature",
            JwtError::Issuer => "issuer",
            JwtError::Audience => "audience",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::ServiceUrl => "service_url",
            JwtError::NotEndorsed { .. } => "not_endorsed",
            JwtError::Keys(_) => "keys",
        }
    }
}

/// A token that passed the checks that need no activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `serviceurl` claim, if the token has one.
    pub service_url: Option<String>,
    /// The channel ids the signing key is endorsed for.
    pub endorsements: Vec<String>,
    /// The audience: this bot's app id.
    pub app_id: String,
}

impl Verified {
    /// The checks that need the activity: the `serviceurl` claim equals `service_url` (one
    /// trailing `/` ignored on either side), and the signing key is endorsed for `channel_id`.
    pub fn check_activity(&self, service_url: &str, channel_id: &str) -> Result<(), JwtError> {
        let trim = |s: &str| s.strip_suffix('/').unwrap_or(s).to_string();
        match &self.service_url {
            Some(claim) if !claim.is_empty() && trim(claim) == trim(service_url) => {}
            _ => return Err(JwtError::ServiceUrl),
        }
        if channel_id.is_empty() || !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(JwtError::NotEndorsed {
                channel: clip(channel_id, 64),
            });
        }
        Ok(())
    }
}

/// Bookkeeping of request-triggered fetches, behind the single-flight lock.
#[derive(Default)]
struct Refresh {
    last_unknown_kid: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

/// Validates Bot Framework bearer tokens against the published keys; share it (`Arc`).
pub struct Validator {
    http: reqwest::Client,
    openid_url: String,
    app_id: String,
    cooldown: Duration,
    keys: RwLock<Option<Arc<KeySet>>>,
    refresh: tokio::sync::Mutex<Refresh>,
    fetches: AtomicU64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl Validator {
    /// `http`: client for metadata/keys; `openid_url`: the OpenID metadata document;
    /// `app_id`: the expected audience; `cooldown`: least time between unknown-kid refetches
    /// (and between retries of a failed fetch triggered by requests).
    pub fn new(
        http: reqwest::Client,
        openid_url: String,
        app_id: String,
        cooldown: Duration,
    ) -> Self {
        Self {
            http,
            openid_url,
            app_id,
            cooldown,
            keys: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(Refresh::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// Fetches the keys now; returns how many were loaded.
    pub async fn warm(&self) -> Result<usize, JwtError> {
        let mut refresh = self.refresh.lock().await;
        match self.fetch_and_store(unix_now()).await {
            Ok(n) => {
                refresh.last_failure = None;
                Ok(n)
            }
            Err(e) => {
                refresh.last_failure = Some((Instant::now(), e.clone()));
                Err(JwtError::Keys(e))
            }
        }
    }

    /// Whether keys have been loaded at least once (readiness).
    pub fn has_keys(&self) -> bool {
        self.snapshot().is_some()
    }

    /// How many times keys were fetched (metrics/tests), successful or not.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Checks the `Authorization` header value: format, alg, kid, signature, iss, aud, exp/nbf
    /// at `now` (unix seconds). Then call [`Verified::check_activity`].
    pub async fn validate(
        &self,
        authorization: Option<&str>,
        now: u64,
    ) -> Result<Verified, JwtError> {
        let header = authorization.ok_or(JwtError::Missing)?;
        let token = bearer(header)?;
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("not three dot-separated parts"));
        };
        let head = decode_json(h64).ok_or(JwtError::Malformed("header is not base64url JSON"))?;
        match head.get("alg").and_then(Value::as_str) {
            Some("RS256") => {}
            Some(other) => return Err(JwtError::Algorithm(clip(other, 32))),
            None => return Err(JwtError::Algorithm("(none given)".into())),
        }
        let kid = head
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(JwtError::Malformed("header has no kid"))?;
        let signature = B64
            .decode(s64)
            .map_err(|_| JwtError::Malformed("signature is not base64url"))?;
        let key = self.key_for(kid, now).await?;
        let signing_input = &token[..h64.len() + 1 + p64.len()];
        ring::signature::RsaPublicKeyComponents {
            n: &key.n,
            e: &key.e,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &signature,
        )
        .map_err(|_| JwtError::Signature)?;
        let claims =
            decode_json(p64).ok_or(JwtError::Malformed("payload is not base64url JSON"))?;
        self.check_claims(&claims, now)?;
        Ok(Verified {
            service_url: claims
                .get("serviceurl")
                .and_then(Value::as_str)
                .map(str::to_string),
            endorsements: key.endorsements.clone(),
            app_id: self.app_id.clone(),
        })
    }

    fn check_claims(&self, claims: &Value, now: u64) -> Result<(), JwtError> {
        if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
            return Err(JwtError::Issuer);
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.app_id,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.app_id)),
            _ => false,
        };
        if !aud_ok || self.app_id.is_empty() {
            return Err(JwtError::Audience);
        }
        let now = now as f64;
        let skew = CLOCK_SKEW_SECS as f64;
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or(JwtError::Malformed("no numeric exp claim"))?;
        if now >= exp + skew {
            return Err(JwtError::Expired);
        }
        match claims.get("nbf") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let nbf = v
                    .as_f64()
                    .ok_or(JwtError::Malformed("nbf claim is not a number"))?;
                if nbf > now + skew {
                    return Err(JwtError::NotYetValid);
                }
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The key named `kid`, fetching keys when missing or older than a day, and once per
    /// cooldown when `kid` is unknown.
    async fn key_for(&self, kid: &str, now: u64) -> Result<Arc<Key>, JwtError> {
        if let Some(set) = self.snapshot()
            && set.age(now) < KEYS_FRESH_SECS
            && let Some(key) = set.keys.get(kid)
        {
            return Ok(key.clone());
        }
        let mut refresh = self.refresh.lock().await;
        let mut fetched = false;
        let fresh = self
            .snapshot()
            .is_some_and(|s| s.age(now) < KEYS_FRESH_SECS);
        let backing_off = refresh
            .last_failure
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.cooldown);
        if !fresh && !backing_off {
            fetched = true;
            self.fetch_recording(&mut refresh, now).await;
        }
        let set = match self.snapshot() {
            Some(set) if set.age(now) < KEYS_MAX_STALE_SECS => set,
            old => {
                let why = refresh
                    .last_failure
                    .as_ref()
                    .map_or("no keys fetched yet", |(_, e)| e.as_str());
                return Err(JwtError::Keys(match old {
                    Some(_) => {
                        format!("cached keys are older than 5 days and refreshing fails ({why})")
                    }
                    None => why.to_string(),
                }));
            }
        };
        if let Some(key) = set.keys.get(kid) {
            return Ok(key.clone());
        }
        let cooling = refresh
            .last_unknown_kid
            .is_some_and(|at| at.elapsed() < self.cooldown);
        if fetched || cooling {
            return Err(JwtError::UnknownKey);
        }
        refresh.last_unknown_kid = Some(Instant::now());
        tracing::info!("token names an unknown key id; refetching the Bot Framework keys");
        self.fetch_recording(&mut refresh, now).await;
        self.snapshot()
            .and_then(|s| s.keys.get(kid).cloned())
            .ok_or(JwtError::UnknownKey)
    }

    async fn fetch_recording(&self, refresh: &mut Refresh, now: u64) {
        match self.fetch_and_store(now).await {
            Ok(_) => refresh.last_failure = None,
            Err(e) => {
                let serving = self.snapshot().map(|s| s.age(now));
                tracing::warn!(error = %e, cached_keys_age_secs = ?serving,
                    "refreshing the Bot Framework signing keys failed; old keys serve for up to 5 days");
                refresh.last_failure = Some((Instant::now(), e));
            }
        }
    }

    /// Fetches metadata, then keys; replaces the cache on success.
    async fn fetch_and_store(&self, now: u64) -> Result<usize, String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set = keys::fetch(&self.http, &self.openid_url, now).await?;
        let n = set.keys.len();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(set));
        Ok(n)
    }
}

/// The token from `Bearer <token>` (scheme case-insensitive).
fn bearer(header: &str) -> Result<&str, JwtError> {
    if header.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("longer than 16 KiB"));
    }
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(JwtError::Malformed("not `Bearer <token>`"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(JwtError::Malformed("not `Bearer <token>`"));
    }
    Ok(token)
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = B64.decode(part).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

#[path = "jwt_keys.rs"]
mod keys;

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
