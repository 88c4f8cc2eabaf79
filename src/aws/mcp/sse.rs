//! Reading an MCP Streamable HTTP response body: plain JSON, or a Server-Sent Events stream
//! whose events may carry notifications (progress, log messages) before the JSON-RPC response.
//! The response is the event whose `id` matches the request's.

use serde_json::Value;

/// The JSON-RPC message answering request `id` in `body`, whether the body is JSON or SSE.
pub fn response_for(content_type: &str, body: &str, id: u64) -> Option<Value> {
    if content_type.starts_with("text/event-stream") {
        return events(body)
            .into_iter()
            .filter_map(|data| serde_json::from_str::<Value>(&data).ok())
            .find(|m| is_response_to(m, id));
    }
    let v: Value = serde_json::from_str(body).ok()?;
    match v {
        // A JSON-RPC batch answer: pick ours.
        Value::Array(items) => items.into_iter().find(|m| is_response_to(m, id)),
        m if is_response_to(&m, id) => Some(m),
        _ => None,
    }
}

fn is_response_to(m: &Value, id: u64) -> bool {
    m.get("id").and_then(Value::as_u64) == Some(id)
        && (m.get("result").is_some() || m.get("error").is_some())
}

/// The `data` of every event in an SSE body (multi-line data joined with `\n`).
pub fn events(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in body.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if !data.is_empty() {
                out.push(data.join("\n"));
                data.clear();
            }
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
        // `event:`, `id:`, `retry:` and comments (`:`) carry nothing we need.
    }
    if !data.is_empty() {
        out.push(data.join("\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_notifications_until_the_matching_response() {
        let body = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\"}}\r\n\r\n: keep-alive\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\n\
                    data: \"result\":{\"ok\":true}}\n\n";
        let m = response_for("text/event-stream", body, 7).unwrap();
        assert_eq!(m["result"]["ok"], true);
        assert!(response_for("text/event-stream", body, 8).is_none());
    }

    #[test]
    fn plain_json_and_errors() {
        let m = response_for(
            "application/json",
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}}"#,
            3,
        )
        .unwrap();
        assert_eq!(m["error"]["code"], -32602);
        assert!(response_for("application/json", "not json", 3).is_none());
    }

    #[test]
    fn the_awslabs_capture_parses() {
        let body = include_str!("../../../tests/fixtures/wire/awslabs-api-mcp-init.body");
        let m = response_for("text/event-stream", body, 1).unwrap();
        assert_eq!(m["result"]["protocolVersion"], "2025-06-18");
    }
}
