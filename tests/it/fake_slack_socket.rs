//! The fake's Socket Mode side: the WebSocket `apps.connections.open` hands out, which says
//! `hello`, sends queued and scripted envelopes, and records acknowledgements.

use super::FakeSlack;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What the fake tells one Socket Mode connection to do.
pub(super) enum SocketCmd {
    /// Send this frame.
    Send(Value),
    /// Close the connection.
    Close,
}

/// Open Socket Mode connections and whether new ones are held back.
#[derive(Default)]
pub(super) struct Sockets {
    pub(super) next_id: u64,
    pub(super) open: Vec<(u64, mpsc::UnboundedSender<SocketCmd>)>,
    pub(super) held: bool,
}

pub(super) async fn socket(State(fake): State<FakeSlack>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |s| run_socket(fake, s))
}

async fn run_socket(fake: FakeSlack, mut ws: WebSocket) {
    let hello = json!({"type": "hello", "num_connections": 1,
        "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0TEST"}});
    if ws
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queued: Vec<Value> = fake.inner.lock().unwrap().envelopes.drain(..).collect();
    for e in queued {
        let _ = tx.send(SocketCmd::Send(e));
    }
    let id = {
        let mut s = fake.sockets.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.open.push((id, tx));
        id
    };
    fake.record("socket_open", json!({"_conn": id}), b"", 200);
    loop {
        tokio::select! {
            Some(cmd) = rx.recv() => match cmd {
                SocketCmd::Send(frame) => {
                    if ws.send(Message::Text(frame.to_string().into())).await.is_err() { break; }
                }
                SocketCmd::Close => {
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let mut v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    v["_conn"] = json!(id);
                    fake.record("socket_ack", v, t.as_bytes(), 200);
                }
                Some(Ok(Message::Ping(p))) => { let _ = ws.send(Message::Pong(p)).await; }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }
    fake.sockets.lock().unwrap().open.retain(|(c, _)| *c != id);
    fake.record("socket_close", json!({"_conn": id}), b"", 200);
}
