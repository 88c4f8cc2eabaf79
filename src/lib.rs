//! opsbot: answers questions about an AWS Organization from Slack, read-only and attributable.
//!
//! Crate map (request path order):
//! - [`config`]: the TOML file plus secrets from the environment, validated in one pass.
//! - [`chat`]: transport-neutral chat types and the [`chat::ChatSink`] seam; `chat::slack`
//!   verifies, parses and answers Slack (HTTP Events API, slash commands, Socket Mode).
//! - [`bot`]: what the bot does with an event or command; never blocks the acknowledgement.
//! - [`work`]: the bounded pool answers run on (global and per-person limits, drain on shutdown).
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`app`]: wiring, the router, and the run loop with graceful shutdown.
//! - [`accounts`], [`identity`], [`policy`], [`access`]: who may query which account here.
//! - [`aws`]: per-person STS credentials (pool, attribution) and `opsbot check --aws`.
//! - [`cache`]: a TTL cache on tokio's clock.
//! - [`cli`]: the `opsbot` command line.

pub mod access;
pub mod accounts;
pub mod app;
pub mod aws;
pub mod bot;
pub mod cache;
pub mod chat;
pub mod cli;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod policy;
pub mod secret;
pub mod work;

/// Installs rustls' `ring` provider as the process default. Call once at start (binary and
/// each test binary): with more than one provider compiled in, rustls cannot pick one itself.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
