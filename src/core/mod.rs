//! The chat-neutral core: every front door (Slack HTTP, Slack Socket Mode, the terminal, later
//! Teams) hands it an [`inbound::Inbound`] and every reply leaves it as an [`answer::Answer`]
//! for a [`answer::Target`]; adapters do the rest.
//!
//! - [`inbound`]: who, where, what; no platform types.
//! - [`command`]: the commands, parsed once with clap for every front door.
//! - [`answer`]: the answer document and where replies go.
//! - [`links`]: only links to allow-listed hosts stay links in what the model wrote.
//! - [`respond`]: the answer contract (`Responder`) and the progress handle.
//! - [`dispatch`]: acknowledge at once, de-duplicate and triage on the work pool, answer,
//!   deliver; bounded under overload.
//! - [`shed`]: the bounded "busy" notices.

pub mod answer;
pub mod command;
pub mod dispatch;
pub mod inbound;
pub mod links;
pub mod respond;
pub mod shed;
