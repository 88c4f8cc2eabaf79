//! A wire-exact fake of Bedrock Converse (`POST /model/{modelId}/converse`, the JSON shapes of
//! botocore's `bedrock-runtime` model, errors as `x-amzn-ErrorType` + `{"message"}`), scripted by
//! the test: a function from each request body to the reply. Records every request.
#![allow(
    dead_code,
    reason = "shared by tests and benches; each uses a different subset"
)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake answers one request with.
pub enum Reply {
    /// A Converse response body.
    Json(Value),
    /// An error: HTTP status, `x-amzn-ErrorType`, message.
    Error(u16, &'static str, String),
}

/// The test's script.
pub type Script = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The model id from the path.
    pub model: String,
    /// The JSON body.
    pub body: Value,
    /// Whether it was SigV4-signed for service `bedrock`.
    pub signed: bool,
}

#[derive(Clone)]
struct Inner {
    script: Script,
    requests: Arc<Mutex<Vec<Request>>>,
    delay: Arc<Mutex<Duration>>,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeBedrock {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Inner,
}

impl FakeBedrock {
    /// Starts the fake on 127.0.0.1 with `script`.
    pub async fn start(script: Script) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Inner {
            script,
            requests: Arc::default(),
            delay: Arc::default(),
        };
        let app = Router::new()
            .route("/model/{model}/converse", post(converse))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, inner }
    }

    /// The endpoint URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Makes every answer take `d` (benchmarks).
    pub fn set_delay(&self, d: Duration) {
        *self.inner.delay.lock().unwrap() = d;
    }
}

async fn converse(
    State(inner): State<Inner>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256") && a.contains("/bedrock/aws4_request"));
    inner.requests.lock().unwrap().push(Request {
        model,
        body: body.clone(),
        signed,
    });
    let delay = *inner.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match (inner.script)(&body) {
        Reply::Json(v) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Reply::Error(status, kind, message) => (
            StatusCode::from_u16(status).unwrap(),
            [
                ("content-type", "application/json"),
                ("x-amzn-errortype", kind),
            ],
            json!({ "message": message }).to_string(),
        )
            .into_response(),
    }
}

/// A Converse response asking for tool calls: `(id, name, input)`.
pub fn tool_use(calls: &[(&str, &str, Value)]) -> Reply {
    let content: Vec<Value> = calls
        .iter()
        .map(
            |(id, name, input)| json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}),
        )
        .collect();
    respond(content, "tool_use")
}

/// A Converse response with final text.
pub fn text(t: &str) -> Reply {
    respond(vec![json!({ "text": t })], "end_turn")
}

fn respond(content: Vec<Value>, stop: &str) -> Reply {
    Reply::Json(json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 1000, "outputTokens": 100, "totalTokens": 1100,
                  "cacheReadInputTokens": 800, "cacheWriteInputTokens": 0},
        "metrics": {"latencyMs": 42}
    }))
}

/// The text of the last user message's tool results, if the last message carries any.
pub fn tool_results(request: &Value) -> Option<Vec<Value>> {
    let last = request["messages"].as_array()?.last()?;
    let results: Vec<Value> = last["content"]
        .as_array()?
        .iter()
        .filter_map(|c| c.get("toolResult").cloned())
        .collect();
    (!results.is_empty()).then_some(results)
}

/// The first user message's text (the question).
pub fn question(request: &Value) -> String {
    request["messages"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m["role"] == "user" && m["content"][0].get("text").is_some())
        })
        .and_then(|m| m["content"][0]["text"].as_str())
        .unwrap_or("")
        .to_string()
}
