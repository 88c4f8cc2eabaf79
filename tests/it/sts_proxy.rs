//! A counting proxy in front of moto's STS: records every AssumeRole request body (to assert
//! SourceIdentity and session tags, which moto does not echo) and answers roles whose name
//! contains `broken` with STS's real AccessDenied error document, so one account can fail.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A running proxy.
#[derive(Clone)]
pub struct StsProxy {
    /// Address.
    pub addr: SocketAddr,
    upstream: String,
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl StsProxy {
    /// Starts a proxy to `upstream` (moto).
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = StsProxy {
            addr: listener.local_addr().unwrap(),
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            seen: Arc::default(),
        };
        let app = Router::new().fallback(forward).with_state(p.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        p
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Form parameters of every AssumeRole request seen.
    pub fn assume_role_calls(&self) -> Vec<HashMap<String, String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.get("Action").map(String::as_str) == Some("AssumeRole"))
            .cloned()
            .collect()
    }
}

async fn forward(
    State(p): State<StsProxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    p.seen.lock().unwrap().push(form.clone());
    if form.get("Action").map(String::as_str) == Some("AssumeRole")
        && form.get("RoleArn").is_some_and(|r| r.contains("broken"))
    {
        let xml = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>User: arn:aws:sts::123456789012:assumed-role/opsbot-central/i-0abc is not authorized to perform: sts:AssumeRole on resource: {}</Message>\n  </Error>\n  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n</ErrorResponse>\n",
            form["RoleArn"]
        );
        return (StatusCode::FORBIDDEN, [("content-type", "text/xml")], xml).into_response();
    }
    let mut req = p.http.request(
        method,
        format!(
            "{}{}",
            p.upstream,
            uri.path_and_query().map_or("/", |q| q.as_str())
        ),
    );
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let res = req.body(body).send().await.unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").cloned();
    let bytes = res.bytes().await.unwrap();
    let mut out = (status, bytes).into_response();
    if let Some(ct) = ct {
        out.headers_mut().insert("content-type", ct);
    }
    out
}
