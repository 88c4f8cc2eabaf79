//! Slack: verify and parse what Slack sends (HTTP or Socket Mode), and send replies.

pub mod client;
pub mod commands;
pub mod events;
pub mod http;
pub mod render;
pub mod socket;
pub mod verify;
