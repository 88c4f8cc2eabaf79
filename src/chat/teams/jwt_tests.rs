use super::*;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;
use std::sync::Mutex;

const APP: &str = "00000000-0000-0000-0000-00000000000a";
const SERVICE: &str = "https://smba.trafficmanager.net/amer/";

fn pair(which: usize) -> RsaKeyPair {
    let der: &[u8] = if which == 1 {
        include_bytes!("../../../tests/fixtures/teams/key1.pk8")
    } else {
        include_bytes!("../../../tests/fixtures/teams/key2.pk8")
    };
    // The fixtures are PKCS#1 `RSAPrivateKey` DER despite the `.pk8` name; accept either.
    RsaKeyPair::from_pkcs8(der)
        .or_else(|_| RsaKeyPair::from_der(der))
        .unwrap()
}

/// A published key: kid, which fixture key, endorsements (None = field absent).
type Published = (String, usize, Option<Vec<String>>);

#[derive(Default)]
struct Keys {
    published: Vec<Published>,
    down: bool,
    huge: bool,
}

struct Server {
    base: String,
    state: Arc<Mutex<Keys>>,
}

impl Server {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(Keys {
            published: vec![("key1".into(), 1, Some(vec!["msteams".into()]))],
            ..Keys::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let meta = json!({"issuer": ISSUER, "jwks_uri": format!("{base}/keys"),
            "id_token_signing_alg_values_supported": ["RS256"]});
        let app = Router::new()
            .route(
                "/openid",
                get(move |State(s): State<Arc<Mutex<Keys>>>| async move {
                    if s.lock().unwrap().down {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                    axum::Json(meta).into_response()
                }),
            )
            .route("/keys", get(keys))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    fn validator(&self, cooldown: Duration) -> Validator {
        Validator::new(
            reqwest::Client::new(),
            format!("{}/openid", self.base),
            APP.into(),
            cooldown,
        )
    }

    fn set(&self, f: impl FnOnce(&mut Keys)) {
        f(&mut self.state.lock().unwrap());
    }
}

async fn keys(State(s): State<Arc<Mutex<Keys>>>) -> Response {
    let s = s.lock().unwrap();
    if s.down {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    if s.huge {
        return "x".repeat(MAX_DOCUMENT_BYTES + 10).into_response();
    }
    let keys: Vec<Value> = s
        .published
        .iter()
        .map(|(kid, which, endorsements)| {
            let kp = pair(*which);
            let c = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
            let mut k = json!({"kty": "RSA", "use": "sig", "kid": kid,
                "n": B64.encode(&c.n), "e": B64.encode(&c.e)});
            if let Some(e) = endorsements {
                k["endorsements"] = json!(e);
            }
            k
        })
        .collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

fn now() -> u64 {
    unix_now()
}

fn claims_at(t: u64) -> Value {
    json!({"iss": ISSUER, "aud": APP, "exp": t + 3600, "nbf": t - 60, "serviceurl": SERVICE})
}

fn sign_with(which: usize, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let kp = pair(which);
    let mut sig = vec![0; kp.public().modulus_len()];
    kp.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("Bearer {input}.{}", B64.encode(sig))
}

fn sign(kid: &str, claims: &Value) -> String {
    let which = if kid == "key2" { 2 } else { 1 };
    sign_with(
        which,
        &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        claims,
    )
}

#[tokio::test]
async fn a_valid_token_passes_and_reports_claims_and_endorsements() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    assert!(!v.has_keys());
    assert_eq!(v.warm().await.unwrap(), 1);
    assert!(v.has_keys());
    let t = now();
    let ok = v
        .validate(Some(&sign("key1", &claims_at(t))), t)
        .await
        .unwrap();
    assert_eq!(ok.service_url.as_deref(), Some(SERVICE));
    assert_eq!(ok.endorsements, ["msteams"]);
    assert_eq!(ok.app_id, APP);
    ok.check_activity(SERVICE, "msteams").unwrap();
    ok.check_activity(SERVICE.trim_end_matches('/'), "msteams")
        .unwrap();
    let mut c = claims_at(t);
    c["aud"] = json!(["someone-else", APP]);
    v.validate(Some(&sign("key1", &c)), t).await.unwrap();
    assert_eq!(v.fetches(), 1);
}

#[tokio::test]
async fn wrong_audience_issuer_and_times_are_refused() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    let t = now();
    let check = |field: &str, value: Value| {
        let mut c = claims_at(t);
        c[field] = value;
        sign("key1", &c)
    };
    let cases = [
        (
            check("aud", json!("11111111-0000-0000-0000-000000000000")),
            JwtError::Audience,
        ),
        (check("aud", json!(["other"])), JwtError::Audience),
        (
            check("iss", json!("https://sts.windows.net/x/")),
            JwtError::Issuer,
        ),
        (check("exp", json!(t - 301)), JwtError::Expired),
        (check("nbf", json!(t + 301)), JwtError::NotYetValid),
    ];
    for (token, want) in cases {
        assert_eq!(v.validate(Some(&token), t).await.unwrap_err(), want);
    }
    // Within the five minutes of skew both ways.
    v.validate(Some(&check("exp", json!(t - 299))), t)
        .await
        .unwrap();
    v.validate(Some(&check("nbf", json!(t + 299))), t)
        .await
        .unwrap();
    let mut no_exp = claims_at(t);
    no_exp.as_object_mut().unwrap().remove("exp");
    let e = v
        .validate(Some(&sign("key1", &no_exp)), t)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "malformed");
    assert_eq!(JwtError::Expired.status(), 401);
}

#[tokio::test]
async fn other_algorithms_are_refused_before_keys_are_fetched() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    let t = now();
    let c = claims_at(t).to_string();
    let none = format!(
        "Bearer {}.{}.",
        B64.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64.encode(&c)
    );
    let e = v.validate(Some(&none), t).await.unwrap_err();
    assert_eq!(e, JwtError::Algorithm("none".into()));
    let hs = format!(
        "Bearer {}.{}.{}",
        B64.encode(json!({"alg": "HS256", "kid": "key1"}).to_string()),
        B64.encode(&c),
        B64.encode(b"mac")
    );
    let e = v.validate(Some(&hs), t).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), ("algorithm", 401));
    assert_eq!(v.fetches(), 0);
}

#[tokio::test]
async fn a_tampered_payload_or_foreign_signature_fails() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    let t = now();
    let token = sign("key1", &claims_at(t));
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = claims_at(t);
    evil["serviceurl"] = json!("https://evil.example/");
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(evil.to_string()), parts[2]);
    assert_eq!(
        v.validate(Some(&tampered), t).await.unwrap_err(),
        JwtError::Signature
    );
    // Signed by key2 but claiming key1's kid.
    let header = json!({"alg": "RS256", "kid": "key1"});
    let foreign = sign_with(2, &header, &claims_at(t));
    assert_eq!(
        v.validate(Some(&foreign), t).await.unwrap_err(),
        JwtError::Signature
    );
}

#[tokio::test]
async fn missing_and_garbled_headers_are_refused() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    let t = now();
    assert_eq!(v.validate(None, t).await.unwrap_err(), JwtError::Missing);
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer !!.!!.!!",
    ] {
        let e = v.validate(Some(bad), t).await.unwrap_err();
        assert_eq!((e.kind(), e.status()), ("malformed", 401), "{bad:?}");
    }
    let huge = format!("Bearer {}", "a".repeat(20_000));
    assert_eq!(
        v.validate(Some(&huge), t).await.unwrap_err().kind(),
        "malformed"
    );
    // Lower-case scheme is fine (RFC 6750 schemes are case-insensitive).
    let token = sign("key1", &claims_at(t)).replacen("Bearer", "bearer", 1);
    v.validate(Some(&token), t).await.unwrap();
    assert_eq!(v.fetches(), 1);
}

#[tokio::test]
async fn service_url_must_match_and_the_key_must_be_endorsed() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    let t = now();
    let ok = v
        .validate(Some(&sign("key1", &claims_at(t))), t)
        .await
        .unwrap();
    let e = ok
        .check_activity("https://smba.trafficmanager.net/emea/", "msteams")
        .unwrap_err();
    assert_eq!((e.clone(), e.status()), (JwtError::ServiceUrl, 401));
    let e = ok.check_activity(SERVICE, "webchat").unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(e.kind(), "not_endorsed");
    let mut c = claims_at(t);
    c.as_object_mut().unwrap().remove("serviceurl");
    let no_claim = v.validate(Some(&sign("key1", &c)), t).await.unwrap();
    assert_eq!(
        no_claim.check_activity(SERVICE, "msteams"),
        Err(JwtError::ServiceUrl)
    );
    // A key without endorsements endorses nothing.
    s.set(|k| k.published.push(("bare".into(), 2, None)));
    let bare_header = json!({"alg": "RS256", "kid": "bare"});
    let bare = v
        .validate(Some(&sign_with(2, &bare_header, &claims_at(t))), t)
        .await
        .unwrap();
    assert_eq!(
        bare.check_activity(SERVICE, "msteams")
            .unwrap_err()
            .status(),
        403
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_and_accepts_a_rotated_key() {
    let s = Server::start().await;
    let v = s.validator(Duration::from_secs(60));
    v.warm().await.unwrap();
    s.set(|k| {
        k.published
            .push(("key2".into(), 2, Some(vec!["msteams".into()])))
    });
    let t = now();
    v.validate(Some(&sign("key2", &claims_at(t))), t)
        .await
        .unwrap();
    assert_eq!(v.fetches(), 2);
    v.validate(Some(&sign("key2", &claims_at(t))), t)
        .await
        .unwrap();
    assert_eq!(v.fetches(), 2);
    // Within the cooldown another unknown kid gets no refetch.
    let e = v
        .validate(Some(&sign("key9", &claims_at(t))), t)
        .await
        .unwrap_err();
    assert_eq!((e, v.fetches()), (JwtError::UnknownKey, 2));
}

#[tokio::test]
async fn a_flood_of_unknown_kids_refetches_at_most_once_per_cooldown() {
    let s = Server::start().await;
    let v = Arc::new(s.validator(Duration::from_millis(400)));
    v.warm().await.unwrap();
    let t = now();
    let flood = |n: usize| {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let v = v.clone();
                let token = sign(&format!("forged-{i}"), &claims_at(t));
                tokio::spawn(async move { v.validate(Some(&token), t).await })
            })
            .collect();
        async move {
            for task in tasks {
                assert_eq!(task.await.unwrap().unwrap_err(), JwtError::UnknownKey);
            }
        }
    };
    flood(50).await;
    assert_eq!(v.fetches(), 2);
    // Known keys are unaffected.
    v.validate(Some(&sign("key1", &claims_at(t))), t)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    flood(20).await;
    assert_eq!(v.fetches(), 3);
}

#[tokio::test]
async fn keys_down_at_start_is_an_error_that_recovers() {
    let s = Server::start().await;
    s.set(|k| k.down = true);
    let t = now();
    let token = sign("key1", &claims_at(t));
    let v = s.validator(Duration::from_millis(500));
    let e = v.warm().await.unwrap_err();
    assert!(
        matches!(&e, JwtError::Keys(m) if m.contains("HTTP 503")),
        "{e}"
    );
    assert!(!v.has_keys());
    // Within the cooldown after the failure requests do not refetch.
    let e = v.validate(Some(&token), t).await.unwrap_err();
    assert_eq!((e.kind(), e.status(), v.fetches()), ("keys", 401, 1));
    s.set(|k| k.down = false);
    tokio::time::sleep(Duration::from_millis(550)).await;
    v.validate(Some(&token), t).await.unwrap();
    assert!(v.has_keys());
    assert_eq!(v.fetches(), 2);
}

#[tokio::test]
async fn keys_are_refetched_daily_and_old_keys_serve_up_to_five_days() {
    let s = Server::start().await;
    let v = s.validator(Duration::ZERO);
    let t0 = now();
    v.warm().await.unwrap();
    let at = |t: u64| (sign("key1", &claims_at(t)), t);
    let (tok, t) = at(t0 + 3600);
    v.validate(Some(&tok), t).await.unwrap();
    assert_eq!(v.fetches(), 1);
    let (tok, t) = at(t0 + KEYS_FRESH_SECS + 1);
    v.validate(Some(&tok), t).await.unwrap();
    assert_eq!(v.fetches(), 2);
    s.set(|k| k.down = true);
    let t1 = t;
    let (tok, t) = at(t1 + KEYS_FRESH_SECS + 1);
    v.validate(Some(&tok), t).await.unwrap();
    assert_eq!(v.fetches(), 3);
    let (tok, t) = at(t1 + KEYS_MAX_STALE_SECS + 1);
    let e = v.validate(Some(&tok), t).await.unwrap_err();
    assert!(
        matches!(&e, JwtError::Keys(m) if m.contains("older than 5 days")),
        "{e}"
    );
}

#[tokio::test]
async fn oversized_key_documents_are_refused() {
    let s = Server::start().await;
    s.set(|k| k.huge = true);
    let v = s.validator(Duration::from_secs(60));
    let e = v.warm().await.unwrap_err();
    assert!(
        matches!(&e, JwtError::Keys(m) if m.contains("larger than")),
        "{e}"
    );
}
