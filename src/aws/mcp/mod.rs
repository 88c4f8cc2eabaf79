//! The AWS MCP Server: a hand-written Streamable HTTP JSON-RPC client over reqwest, every request
//! SigV4-signed in-process with the credentials of the person × account it runs for.
//!
//! - [`client`]: one session (initialize, tools/list, tools/call, DELETE; SSE; 404 → new
//!   session; 429/5xx retried).
//! - [`pool`]: one session per signing identity, living and dying with its credentials.
//! - [`sigv4`], [`sse`]: signing and response parsing.
//! - [`settings`]: the `[mcp]` section.
//!
//! Why not `rmcp`: its Streamable HTTP client would need its transport trait implemented by
//! hand to sign each body, which is most of what this module is anyway.

pub mod client;
pub mod endpoints;
pub mod pace;
pub mod pool;
pub mod settings;
pub mod sigv4;
pub mod sse;
