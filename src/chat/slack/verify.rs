//! Slack request signing: `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{raw body}`).
//!
//! Checked on the raw bytes before any parsing, compared in constant time, and the timestamp
//! must be within [`MAX_SKEW_SECS`] of now (replay protection). The distance is computed
//! without overflow, so any hostile timestamp (`i64::MAX`, negative, 30 digits) is a plain
//! rejection, never a panic. Failures carry a reason for metrics; the log gets one warning line
//! per [`REJECTION_LOG_PERIOD`] with how many were rejected, not one per request. The HTTP
//! layer answers every failure with a bare 401.
//!
//! A signed request can still be replayed within the window: [`replay_key`] names one signed
//! delivery (its timestamp and signature) so the core answers it once.

use crate::core::shed::LogEvery;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Header carrying the request timestamp (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Largest accepted distance between the request timestamp and now, in seconds.
pub const MAX_SKEW_SECS: u64 = 300;
/// At most one warning line about rejected signatures per this period (with a count).
pub const REJECTION_LOG_PERIOD: Duration = Duration::from_secs(60);

/// Why a request was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `X-Slack-Signature` or `X-Slack-Request-Timestamp` is absent.
    #[error("missing signature headers")]
    MissingHeaders,
    /// The timestamp is not an integer.
    #[error("malformed timestamp")]
    BadTimestamp,
    /// The timestamp is more than five minutes from now (replay or clock skew).
    #[error("timestamp outside the 300 s window")]
    Stale,
    /// The signature does not match the body.
    #[error("signature mismatch")]
    Mismatch,
}

impl VerifyError {
    /// Short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::MissingHeaders => "missing_headers",
            Self::BadTimestamp => "bad_timestamp",
            Self::Stale => "stale",
            Self::Mismatch => "mismatch",
        }
    }
}

/// Verifies Slack signatures with one signing secret.
#[derive(Clone)]
pub struct Verifier {
    key: Hmac<Sha256>,
    /// Rate limit for the rejection warning (shared by clones).
    rejections: Arc<LogEvery>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier([redacted])")
    }
}

impl Verifier {
    /// A verifier for `secret` (the app's Signing Secret).
    pub fn new(secret: &str) -> Self {
        Self {
            key: Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key"),
            rejections: Arc::new(LogEvery::new(REJECTION_LOG_PERIOD)),
        }
    }

    /// The `v0=...` signature Slack would send for this timestamp and body.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut mac = self.key.clone();
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Checks `signature` over `body` at `timestamp`, with `now` in Unix seconds.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(VerifyError::MissingHeaders);
        };
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        // abs_diff is exact over the whole i64 range: no overflow, no panic.
        if now.abs_diff(ts) > MAX_SKEW_SECS {
            return Err(VerifyError::Stale);
        }
        let expected = self.sign(timestamp, body);
        if expected.as_bytes().ct_eq(signature.as_bytes()).into() {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}

impl Verifier {
    /// Counts one rejected request on `route` and logs a warning with the count when one is
    /// due (at most once per [`REJECTION_LOG_PERIOD`]); returns the count logged, if any.
    pub fn note_rejection(&self, route: &'static str, reason: VerifyError) -> Option<u64> {
        let n = self.rejections.tick()?;
        tracing::warn!(
            route,
            reason = reason.label(),
            rejected = n,
            "rejected unsigned or badly signed requests (401); check the signing secret if this keeps growing"
        );
        Some(n)
    }
}

/// A short stable name for one signed delivery (the timestamp and signature it came with):
/// the same bytes replayed within the window get the same key, any other request another.
pub fn replay_key(timestamp: &str, signature: &str) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.trim().as_bytes());
    h.update(b":");
    h.update(signature.as_bytes());
    format!("slack:signed:{}", hex::encode(&h.finalize()[..16]))
}

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slack_published_vector_verifies() {
        let v = Verifier::new(SECRET);
        assert_eq!(v.sign(TS, BODY), SIG);
        assert_eq!(v.verify(Some(SIG), Some(TS), BODY, 1531420618), Ok(()));
    }

    #[test]
    fn rejections() {
        let v = Verifier::new(SECRET);
        let now = 1531420618;
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            i64,
            VerifyError,
        );
        let cases: &[Case] = &[
            (
                "tampered body",
                Some(SIG),
                Some(TS),
                b"token=evil",
                now,
                VerifyError::Mismatch,
            ),
            (
                "stale",
                Some(SIG),
                Some(TS),
                BODY,
                now + 301,
                VerifyError::Stale,
            ),
            (
                "future",
                Some(SIG),
                Some(TS),
                BODY,
                now - 301,
                VerifyError::Stale,
            ),
            (
                "no signature",
                None,
                Some(TS),
                BODY,
                now,
                VerifyError::MissingHeaders,
            ),
            (
                "no timestamp",
                Some(SIG),
                None,
                BODY,
                now,
                VerifyError::MissingHeaders,
            ),
            (
                "junk timestamp",
                Some(SIG),
                Some("abc"),
                BODY,
                now,
                VerifyError::BadTimestamp,
            ),
            (
                "truncated sig",
                Some(&SIG[..20]),
                Some(TS),
                BODY,
                now,
                VerifyError::Mismatch,
            ),
            (
                "uppercase hex",
                Some("v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503"),
                Some(TS),
                BODY,
                now,
                VerifyError::Mismatch,
            ),
        ];
        for (name, sig, ts, body, now, want) in cases {
            assert_eq!(v.verify(*sig, *ts, body, *now), Err(*want), "{name}");
        }
        assert_eq!(
            Verifier::new("wrong secret").verify(Some(SIG), Some(TS), BODY, now),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn window_edges_are_inclusive() {
        let v = Verifier::new(SECRET);
        assert!(
            v.verify(Some(SIG), Some(TS), BODY, 1531420618 + 300)
                .is_ok()
        );
        assert!(
            v.verify(Some(SIG), Some(TS), BODY, 1531420618 - 300)
                .is_ok()
        );
    }

    #[test]
    fn hostile_timestamps_are_rejected_without_panicking() {
        let v = Verifier::new(SECRET);
        let max = i64::MAX.to_string();
        let min = i64::MIN.to_string();
        let cases: &[(&str, i64, VerifyError)] = &[
            (&max, 1531420618, VerifyError::Stale),
            (&min, 1531420618, VerifyError::Stale),
            ("-1", 1531420618, VerifyError::Stale),
            ("0", i64::MAX, VerifyError::Stale),
            ("1531420618", i64::MIN, VerifyError::Stale),
            (&max, i64::MIN, VerifyError::Stale),
            (
                "99999999999999999999999999999",
                1531420618,
                VerifyError::BadTimestamp,
            ),
            ("1531420618.5", 1531420618, VerifyError::BadTimestamp),
            ("0x5b47", 1531420618, VerifyError::BadTimestamp),
            ("", 1531420618, VerifyError::BadTimestamp),
            ("١٥٣١٤٢٠٦١٨", 1531420618, VerifyError::BadTimestamp),
        ];
        for (ts, now, want) in cases {
            let sig = v.sign(ts, BODY);
            assert_eq!(
                v.verify(Some(&sig), Some(ts), BODY, *now),
                Err(*want),
                "{ts} at {now}"
            );
        }
    }

    #[test]
    fn replay_keys_name_one_signed_delivery() {
        assert_eq!(replay_key(TS, SIG), replay_key(TS, SIG));
        assert_ne!(replay_key(TS, SIG), replay_key("1531420619", SIG));
        assert_ne!(replay_key(TS, SIG), replay_key(TS, &SIG.replace('a', "b")));
        assert!(
            !replay_key(TS, SIG).contains(&SIG[3..]),
            "the signature is not stored as is"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rejections_are_logged_once_a_minute_with_a_count() {
        let v = Verifier::new(SECRET);
        let logged: Vec<Option<u64>> = (0..100)
            .map(|_| v.note_rejection("events", VerifyError::Mismatch))
            .collect();
        assert_eq!(logged[0], Some(1), "the first one at once");
        assert!(logged[1..].iter().all(Option::is_none), "then silence");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(v.clone().note_rejection("events", VerifyError::Stale), None);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(
            v.note_rejection("commands", VerifyError::Mismatch),
            Some(101),
            "one line a minute later, counting everything in between (clones share it)"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", Verifier::new(SECRET)).contains("8f74"));
    }
}
