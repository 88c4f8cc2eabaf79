//! opsbot: answers questions about an AWS Organization from Slack or a terminal, read-only and
//! attributable.
//!
//! Crate map (request path order):
//! - [`chat`]: the front doors as adapters around the core — `chat::slack` (HTTP Events API,
//!   slash commands, Socket Mode; Block Kit rendering) and `chat::terminal` — and the
//!   [`chat::ChatSink`] seam replies leave through.
//! - [`core`]: chat-neutral: inbound items, commands, the answer document, the answer contract,
//!   dispatch (ack at once, triage, answer, deliver) and load shedding.
//! - [`store`]: conversation state (de-duplication, thread memory) behind one trait.
//! - [`identity`], [`policy`], [`access`], [`accounts`]: who may query which account here.
//! - [`aws`]: per-person STS credentials (pool, attribution, the scoped handle) and
//!   `opsbot check --aws`.
//! - [`work`]: the bounded set of answers in progress.
//! - [`config`], [`problem`], [`secret`]: the TOML file, its problems, secrets that never print.
//! - [`retry`]: the one retry loop every HTTP client uses; [`endpoint`]: https-only URLs and
//!   clients that never follow redirects.
//! - [`metrics`], [`cache`], [`app`] (wiring, router, run loop), [`cli`].

pub mod access;
pub mod accounts;
pub mod agent;
pub mod app;
pub mod aws;
pub mod cache;
pub mod chat;
pub mod cli;
pub use app::config;
pub mod core;
pub mod endpoint;
pub mod identity;
pub mod inventory;
pub mod metrics;
pub mod policy;
pub mod problem;
pub mod retry;
pub mod secret;
pub mod store;
pub mod work;

/// Installs rustls' `ring` provider as the process default. Call once at start (binary and
/// each test binary): with more than one provider compiled in, rustls cannot pick one itself.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
