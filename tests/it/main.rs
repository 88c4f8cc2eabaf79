//! End-to-end tests: the real router and binary on 127.0.0.1 against a wire-exact fake of the
//! Slack Web API (and Slack's own `slack_sdk` for signing).

mod access;
mod agent;
mod agent_guard;
mod aws;
mod binary;
mod bounds;
mod commands;
mod core;
mod credentials;
mod dynamo_store;
mod dynamo_table;
mod events;
mod fake_bedrock;
mod fake_idp;
mod fake_slack;
mod fake_teams;
mod helpers;
mod idp;
mod inventory;
mod listening;
mod mcp;
mod peers;
mod quota;
mod replicas;
mod socket;
mod sts_proxy;
mod teams;
mod teams_agent;
mod teams_fake_selftest;
mod teams_wire;
mod trust;
