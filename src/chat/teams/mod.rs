//! Microsoft Teams: verify what the Bot Framework sends to `/api/messages`, turn activities
//! into the core's neutral inbound items, and render the core's answers as Adaptive Cards.

pub mod settings;
