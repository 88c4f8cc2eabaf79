//! Wire-exact fakes of Okta's Users API and Microsoft identity platform + Graph, recording
//! every request. Groups are served in pages of `page_size` with the providers' own paging
//! (`Link: <...>; rel="next"` for Okta, `@odata.nextLink` for Graph).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Okta API token the fake accepts.
pub const OKTA_TOKEN: &str = "00okta-test-token";
/// Entra client secret the fake accepts.
pub const ENTRA_SECRET: &str = "entra-test-secret";

#[derive(Default)]
struct Inner {
    /// login/upn -> group names.
    members: HashMap<String, Vec<String>>,
    page_size: usize,
    /// Status codes to answer with before serving normally.
    failures: Vec<u16>,
    requests: Vec<(String, String)>,
    tokens_issued: usize,
}

/// A running fake IdP (both Okta and Entra routes).
#[derive(Clone)]
pub struct FakeIdp {
    /// Address.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeIdp {
    /// Starts the fake with `members` (login → groups) and a page size.
    pub async fn start(members: &[(&str, &[&str])], page_size: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Inner {
            members: members
                .iter()
                .map(|(u, g)| (u.to_string(), g.iter().map(|s| s.to_string()).collect()))
                .collect(),
            page_size,
            ..Inner::default()
        };
        let fake = FakeIdp {
            addr,
            inner: Arc::new(Mutex::new(inner)),
        };
        let app = Router::new()
            .route("/api/v1/users/{login}/groups", get(okta_groups))
            .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
            .route(
                "/v1.0/users/{upn}/transitiveMemberOf/microsoft.graph.group",
                get(graph_groups),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests with these statuses first.
    pub fn fail_with(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().failures = statuses.to_vec();
    }

    /// Requests received: (path and query, authorization header).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Access tokens issued by the token endpoint.
    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().unwrap().tokens_issued
    }

    fn record(&self, what: String, headers: &HeaderMap) -> Option<u16> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut i = self.inner.lock().unwrap();
        i.requests.push((what, auth));
        if i.failures.is_empty() {
            None
        } else {
            Some(i.failures.remove(0))
        }
    }

    fn page(&self, user: &str, offset: usize) -> Option<(Vec<String>, Option<usize>)> {
        let i = self.inner.lock().unwrap();
        let all = i.members.get(user)?;
        let end = (offset + i.page_size).min(all.len());
        let next = (end < all.len()).then_some(end);
        Some((all[offset.min(all.len())..end].to_vec(), next))
    }
}

fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"errorCode": code, "errorSummary": summary,
        "errorLink": code, "errorId": "oae1234", "errorCauses": []})
        .to_string(),
    )
        .into_response()
}

async fn okta_groups(
    State(f): State<FakeIdp>,
    Path(login): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = f.record(
        format!(
            "okta groups {login} after={}",
            q.get("after").cloned().unwrap_or_default()
        ),
        &headers,
    ) {
        if status == 429 {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1;
            return (StatusCode::TOO_MANY_REQUESTS, [("x-rate-limit-limit", "600".to_string()), ("x-rate-limit-remaining", "0".into()),
                ("x-rate-limit-reset", reset.to_string()), ("content-type", "application/json".into())],
                json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}).to_string()).into_response();
        }
        return okta_error(
            StatusCode::from_u16(status).unwrap(),
            "E0000009",
            "Internal Server Error",
        );
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("SSWS {OKTA_TOKEN}"))
    {
        return okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        );
    }
    let offset: usize = q
        .get("after")
        .and_then(|a| a.strip_prefix("00g"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let Some((groups, next)) = f.page(&login, offset) else {
        return okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {login} (User)"),
        );
    };
    let limit = q.get("limit").cloned().unwrap_or_else(|| "200".into());
    let base = format!("http://{}/api/v1/users/{login}/groups", f.addr);
    let mut links = vec![format!("<{base}?limit={limit}>; rel=\"self\"")];
    if let Some(n) = next {
        links.push(format!("<{base}?after=00g{n}&limit={limit}>; rel=\"next\""));
    }
    let body: Vec<Value> = groups.iter().enumerate().map(|(i, g)| json!({
        "id": format!("00g{}", offset + i), "created": "2024-01-01T00:00:00.000Z", "lastUpdated": "2024-01-01T00:00:00.000Z",
        "lastMembershipUpdated": "2024-01-01T00:00:00.000Z", "objectClass": ["okta:user_group"], "type": "OKTA_GROUP",
        "profile": {"name": g, "description": null},
        "_links": {"logo": [], "users": {"href": format!("{base}/users")}, "apps": {"href": format!("{base}/apps")}}
    })).collect();
    let mut resp = (
        StatusCode::OK,
        [("content-type", "application/json")],
        Value::Array(body).to_string(),
    )
        .into_response();
    for l in links {
        resp.headers_mut().append("link", l.parse().unwrap());
    }
    resp
}

async fn entra_token(
    State(f): State<FakeIdp>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(status) = f.record(format!("token {tenant}"), &headers) {
        return (StatusCode::from_u16(status).unwrap(), "").into_response();
    }
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_secret").map(String::as_str) == Some(ENTRA_SECRET)
        && form.get("scope").map(String::as_str) == Some("https://graph.microsoft.com/.default");
    if !ok {
        return (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], json!({"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215]}).to_string()).into_response();
    }
    f.inner.lock().unwrap().tokens_issued += 1;
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"token_type": "Bearer", "expires_in": 3599,
        "ext_expires_in": 3599, "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake.sig"})
        .to_string(),
    )
        .into_response()
}

async fn graph_groups(
    State(f): State<FakeIdp>,
    Path(upn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = f.record(
        format!(
            "graph {upn} skip={}",
            q.get("$skiptoken").cloned().unwrap_or_default()
        ),
        &headers,
    ) {
        let mut r = (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}})
                .to_string(),
        )
            .into_response();
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        return r;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some("Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake.sig")
    {
        return (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}}).to_string()).into_response();
    }
    let offset: usize = q
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some((groups, next)) = f.page(&upn, offset) else {
        return (StatusCode::NOT_FOUND, [("content-type", "application/json")], json!({"error": {"code": "Request_ResourceNotFound",
            "message": format!("Resource '{upn}' does not exist or one of its queried reference-property objects are not present.")}}).to_string()).into_response();
    };
    let value: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({"@odata.type": "#microsoft.graph.group",
        "id": format!("0000000{}-aaaa-bbbb-cccc-000000000000", offset + i), "displayName": g})
        })
        .collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups(id,displayName)", "value": value});
    if let Some(n) = next {
        body["@odata.nextLink"] = json!(format!(
            "http://{}/v1.0/users/{upn}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999&$skiptoken={n}",
            f.addr
        ));
    }
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}
