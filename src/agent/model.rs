//! The model seam: a neutral conversation with tool use. Bedrock Converse implements it today
//! ([`super::bedrock`]); the Messages API could replace it without touching the loop. Tests use
//! a wire-exact fake of Converse behind the real implementation.

use async_trait::async_trait;
use serde_json::Value;

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person (and tool results).
    User,
    /// The model.
    Assistant,
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Text.
    Text(String),
    /// The model asks for a tool call.
    ToolUse {
        /// Id to answer with.
        id: String,
        /// Tool name.
        name: String,
        /// Its input.
        input: Value,
    },
    /// A tool's answer.
    ToolResult {
        /// The tool use it answers.
        id: String,
        /// The result, as JSON.
        content: Value,
        /// The call failed or was refused.
        is_error: bool,
    },
}

/// A message in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who.
    pub role: Role,
    /// What.
    pub content: Vec<Content>,
}

impl Message {
    /// A user message with text.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![Content::Text(text.into())],
        }
    }

    /// An assistant message with text.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![Content::Text(text.into())],
        }
    }

    /// The text parts joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| match c {
                Content::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Name (`[a-zA-Z0-9_-]{1,64}`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its input.
    pub schema: Value,
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    /// The system prompt.
    pub system: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools it may call.
    pub tools: Vec<ToolSpec>,
    /// Most output tokens.
    pub max_tokens: u32,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// It finished its answer.
    EndTurn,
    /// It wants tool results.
    ToolUse,
    /// It ran out of output tokens.
    MaxTokens,
    /// Anything else (guardrails, content filters), by name.
    Other(String),
}

/// Tokens used by one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens (not counting cache reads).
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write: u64,
}

impl Usage {
    /// Adds `other` to this.
    pub fn add(&mut self, other: Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }

    /// Every token counted against a budget.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }
}

/// The model's answer to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResponse {
    /// Its message.
    pub message: Message,
    /// Why it stopped.
    pub stop: Stop,
    /// Tokens used.
    pub usage: Usage,
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Still throttled after retries.
    #[error("Bedrock is throttling requests")]
    Throttled,
    /// The model or service is unavailable.
    #[error("Bedrock is unavailable: {0}")]
    Unavailable(String),
    /// Access to the model is not allowed (IAM, model access not enabled).
    #[error(
        "Bedrock refused the model call: {0}; check agent.model_id, model access in the Bedrock console, and bedrock:InvokeModel in the central role"
    )]
    Denied(String),
    /// The request was invalid (a bug, or the model does not support a feature).
    #[error("Bedrock rejected the request: {0}")]
    Invalid(String),
    /// The request did not complete.
    #[error("Bedrock request failed: {0}")]
    Transport(String),
}

/// A conversational model with tool use.
#[async_trait]
pub trait Model: Send + Sync + 'static {
    /// One turn.
    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError>;
}
