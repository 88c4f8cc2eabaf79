//! The `[agent]` section: which model answers, within which limits. Without it the bot keeps
//! its honest "no agent is configured" reply.

use crate::problem::Problem;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Validated `[agent]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// Bedrock model or inference profile id (`agent.model_id`).
    pub model_id: String,
    /// Bedrock region (`agent.region`, default `us-east-1`).
    pub region: String,
    /// Most model turns per question (`agent.max_turns`, default 8).
    pub max_turns: u32,
    /// Most tool calls per question (`agent.max_tool_calls`, default 16).
    pub max_tool_calls: u32,
    /// Overall deadline per question (`agent.deadline_seconds`, default 120).
    pub deadline: Duration,
    /// Most output tokens per model turn (`agent.max_output_tokens`, default 2048).
    pub max_output_tokens: u32,
    /// Tokens one person may use per day (`agent.daily_tokens_per_person`; unset = no limit).
    pub daily_tokens_per_person: Option<u64>,
    /// Cache points after the system prompt and the tools (`agent.prompt_caching`, default true).
    pub prompt_caching: bool,
    /// Where to append one JSON audit line per question (`agent.audit_file`, relative to the
    /// config file); the audit log target gets it either way.
    pub audit_file: Option<PathBuf>,
}

/// Raw `[agent]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawAgent {
    model_id: Option<String>,
    region: Option<String>,
    max_turns: Option<u32>,
    max_tool_calls: Option<u32>,
    deadline_seconds: Option<u64>,
    max_output_tokens: Option<u32>,
    daily_tokens_per_person: Option<u64>,
    prompt_caching: Option<bool>,
    audit_file: Option<String>,
}

impl RawAgent {
    /// Validates; `base` is the config file's directory. Pushes every problem.
    pub fn validate(self, base: &Path, problems: &mut Vec<Problem>) -> AgentSettings {
        let model_id = self.model_id.unwrap_or_default();
        if model_id.trim().is_empty() {
            problems.push(Problem::new(
                "agent.model_id",
                "required: a Bedrock model or inference profile id, e.g. \"us.anthropic.claude-sonnet-4-5-20250929-v1:0\" (or remove [agent] to run without the agent)",
            ));
        }
        let s = AgentSettings {
            model_id,
            region: self.region.unwrap_or_else(|| "us-east-1".into()),
            max_turns: self.max_turns.unwrap_or(8),
            max_tool_calls: self.max_tool_calls.unwrap_or(16),
            deadline: Duration::from_secs(self.deadline_seconds.unwrap_or(120)),
            max_output_tokens: self.max_output_tokens.unwrap_or(2048),
            daily_tokens_per_person: self.daily_tokens_per_person,
            prompt_caching: self.prompt_caching.unwrap_or(true),
            audit_file: self.audit_file.map(|f| base.join(f)),
        };
        if !(1..=30).contains(&s.max_turns) {
            problems.push(Problem::new("agent.max_turns", "must be between 1 and 30"));
        }
        if !(1..=100).contains(&s.max_tool_calls) {
            problems.push(Problem::new(
                "agent.max_tool_calls",
                "must be between 1 and 100",
            ));
        }
        if !(10..=1200).contains(&s.deadline.as_secs()) {
            problems.push(Problem::new(
                "agent.deadline_seconds",
                "must be between 10 and 1200",
            ));
        }
        if !(256..=64_000).contains(&s.max_output_tokens) {
            problems.push(Problem::new(
                "agent.max_output_tokens",
                "must be between 256 and 64000",
            ));
        }
        if s.daily_tokens_per_person == Some(0) {
            problems.push(Problem::new(
                "agent.daily_tokens_per_person",
                "must be at least 1 (remove it for no limit)",
            ));
        }
        if !crate::accounts::regions::is_known(&s.region, &[]) {
            problems.push(Problem::new(
                "agent.region",
                format!("{:?} is not a region code", s.region),
            ));
        }
        s
    }
}
