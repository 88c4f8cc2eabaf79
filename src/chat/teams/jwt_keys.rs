//! Fetching the Bot Framework's signing keys: the OpenID metadata document, then its
//! `jwks_uri`; each request bounded in time ([`FETCH_TIMEOUT`]) and size
//! ([`MAX_DOCUMENT_BYTES`]). Keys that are not RSA signing keys with `n` and `e` are skipped.

use super::{B64, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES};
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// One published signing key.
#[derive(Debug)]
pub(super) struct Key {
    pub(super) n: Vec<u8>,
    pub(super) e: Vec<u8>,
    pub(super) endorsements: Vec<String>,
}

/// The keys of one fetch.
#[derive(Debug)]
pub(super) struct KeySet {
    pub(super) keys: HashMap<String, Arc<Key>>,
    /// Unix seconds of the fetch.
    pub(super) fetched_at: u64,
}

impl KeySet {
    /// Seconds since the fetch, at `now`.
    pub(super) fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.fetched_at)
    }
}

/// Fetches the metadata at `openid_url`, then the keys at its `jwks_uri`; `now` stamps them.
pub(super) async fn fetch(
    http: &reqwest::Client,
    openid_url: &str,
    now: u64,
) -> Result<KeySet, String> {
    let meta = get_json(http, openid_url).await?;
    let jwks_uri = meta
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{openid_url} has no jwks_uri"))?
        .to_string();
    crate::endpoint::check(&jwks_uri).map_err(|e| format!("{openid_url}: jwks_uri {e}"))?;
    let jwks = get_json(http, &jwks_uri).await?;
    let list = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{jwks_uri} has no keys array"))?;
    let keys: HashMap<String, Arc<Key>> = list
        .iter()
        .filter_map(parse_jwk)
        .map(|(kid, key)| (kid, Arc::new(key)))
        .collect();
    if keys.is_empty() {
        return Err(format!("{jwks_uri} lists no usable RSA signing keys"));
    }
    if keys.len() < list.len() {
        tracing::debug!(skipped = list.len() - keys.len(), "skipped unusable JWKs");
    }
    Ok(KeySet {
        keys,
        fetched_at: now,
    })
}

/// GETs `url` as JSON, bounded in time and size.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let mut resp = http
        .get(url)
        .header("accept", "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status().as_u16()));
    }
    let too_big = || format!("GET {url}: body larger than {MAX_DOCUMENT_BYTES} bytes");
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))
}

/// One JWK as `(kid, key)`, if it is an RSA signing key with `n` and `e`.
fn parse_jwk(k: &Value) -> Option<(String, Key)> {
    let s = |f: &str| k.get(f).and_then(Value::as_str);
    if s("kty") != Some("RSA") || s("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if s("alg").is_some_and(|a| a != "RS256") {
        return None;
    }
    let kid = s("kid")?.to_string();
    let n = B64.decode(s("n")?).ok()?;
    let e = B64.decode(s("e")?).ok()?;
    if n.is_empty() || e.is_empty() {
        return None;
    }
    let endorsements = k
        .get("endorsements")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Some((kid, Key { n, e, endorsements }))
}
