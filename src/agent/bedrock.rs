//! [`Model`] over Amazon Bedrock Converse (`aws-sdk-bedrockruntime`), signed with the bot's own
//! (central role) credentials. Prompt caching puts cache points after the system prompt and the
//! tools. Throttling and 5xx are retried by the SDK (standard mode, 4 attempts). The endpoint
//! honours `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.

use super::model::{
    Content, Message, Model, ModelError, ModelRequest, ModelResponse, Role, Stop, Usage,
};
use async_trait::async_trait;
use aws_sdk_bedrockruntime as br;
use aws_smithy_types::{Document, Number};
use br::types::{
    CachePointBlock, CachePointType, ContentBlock, ConversationRole, InferenceConfiguration,
    SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use serde_json::Value;
use std::collections::HashMap;

/// Bedrock Converse.
pub struct Bedrock {
    client: br::Client,
    model_id: String,
    caching: bool,
}

impl Bedrock {
    /// A client for `model_id` in `region` from the default credential chain (the endpoint
    /// honours `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
    pub async fn new(model_id: &str, region: &str, caching: bool) -> Self {
        let conf = crate::aws::sdk::loader(crate::aws::sdk::SdkUse::Bedrock)
            .region(aws_config::Region::new(region.to_string()))
            .retry_config(retry_config())
            .load()
            .await;
        Self {
            client: br::Client::new(&conf),
            model_id: model_id.to_string(),
            caching,
        }
    }

    /// A client for `model_id` at `endpoint` with fixed credentials (tests, proxies).
    pub fn for_endpoint(
        model_id: &str,
        region: &str,
        caching: bool,
        endpoint: &str,
        credentials: aws_credential_types::Credentials,
    ) -> Self {
        let conf = br::Config::builder()
            .behavior_version(br::config::BehaviorVersion::latest())
            .region(br::config::Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .retry_config(retry_config())
            .timeout_config(crate::aws::sdk::SdkUse::Bedrock.timeouts())
            .build();
        Self {
            client: br::Client::from_conf(conf),
            model_id: model_id.to_string(),
            caching,
        }
    }
}

/// Standard retries, four attempts: throttling and 5xx are retried with backoff.
fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(std::time::Duration::from_millis(200))
}

/// serde_json → smithy Document (there is no stable serde conversion).
pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(m) => Document::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// smithy Document → serde_json.
pub fn from_document(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(from_document).collect()),
        Document::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), from_document(v)))
                .collect(),
        ),
    }
}

fn invalid(e: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(e.to_string())
}

fn to_message(m: &Message) -> Result<br::types::Message, ModelError> {
    let mut content = Vec::new();
    for c in &m.content {
        content.push(match c {
            Content::Text(t) => ContentBlock::Text(t.clone()),
            Content::ToolUse { id, name, input } => ContentBlock::ToolUse(
                ToolUseBlock::builder()
                    .tool_use_id(id)
                    .name(name)
                    .input(to_document(input))
                    .build()
                    .map_err(invalid)?,
            ),
            Content::ToolResult {
                id,
                content,
                is_error,
            } => ContentBlock::ToolResult(
                ToolResultBlock::builder()
                    .tool_use_id(id)
                    .content(ToolResultContentBlock::Json(to_document(content)))
                    .status(if *is_error {
                        ToolResultStatus::Error
                    } else {
                        ToolResultStatus::Success
                    })
                    .build()
                    .map_err(invalid)?,
            ),
        });
    }
    br::types::Message::builder()
        .role(match m.role {
            Role::User => ConversationRole::User,
            Role::Assistant => ConversationRole::Assistant,
        })
        .set_content(Some(content))
        .build()
        .map_err(invalid)
}

fn from_message(m: &br::types::Message) -> Message {
    let content = m
        .content()
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(Content::Text(t.clone())),
            ContentBlock::ToolUse(u) => Some(Content::ToolUse {
                id: u.tool_use_id().to_string(),
                name: u.name().to_string(),
                input: from_document(u.input()),
            }),
            _ => None,
        })
        .collect();
    Message {
        role: match m.role() {
            ConversationRole::User => Role::User,
            _ => Role::Assistant,
        },
        content,
    }
}

fn cache_point() -> Result<CachePointBlock, ModelError> {
    CachePointBlock::builder()
        .r#type(CachePointType::Default)
        .build()
        .map_err(invalid)
}

#[async_trait]
impl Model for Bedrock {
    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let mut system = vec![SystemContentBlock::Text(request.system.clone())];
        let mut tools = Vec::new();
        for t in &request.tools {
            tools.push(Tool::ToolSpec(
                ToolSpecification::builder()
                    .name(&t.name)
                    .description(&t.description)
                    .input_schema(ToolInputSchema::Json(to_document(&t.schema)))
                    .build()
                    .map_err(invalid)?,
            ));
        }
        if self.caching {
            system.push(SystemContentBlock::CachePoint(cache_point()?));
            if !tools.is_empty() {
                tools.push(Tool::CachePoint(cache_point()?));
            }
        }
        let messages = request
            .messages
            .iter()
            .map(to_message)
            .collect::<Result<Vec<_>, _>>()?;
        let mut call = self
            .client
            .converse()
            .model_id(&self.model_id)
            .set_system(Some(system))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
                    .build(),
            );
        if !tools.is_empty() {
            call = call.tool_config(
                ToolConfiguration::builder()
                    .set_tools(Some(tools))
                    .build()
                    .map_err(invalid)?,
            );
        }
        let out = call.send().await.map_err(|e| {
            use br::error::SdkError;
            use br::operation::converse::ConverseError as E;
            match &e {
                SdkError::ServiceError(s) => match s.err() {
                    E::ThrottlingException(_) => ModelError::Throttled,
                    E::AccessDeniedException(x) => ModelError::Denied(x.to_string()),
                    E::ResourceNotFoundException(x) => ModelError::Denied(x.to_string()),
                    E::ValidationException(x) => ModelError::Invalid(x.to_string()),
                    E::ServiceUnavailableException(x) => ModelError::Unavailable(x.to_string()),
                    E::ModelNotReadyException(x) => ModelError::Unavailable(x.to_string()),
                    E::InternalServerException(x) => ModelError::Unavailable(x.to_string()),
                    E::ModelTimeoutException(x) => ModelError::Unavailable(x.to_string()),
                    other => ModelError::Unavailable(other.to_string()),
                },
                SdkError::TimeoutError(_) => ModelError::Transport("timed out".into()),
                other => ModelError::Transport(
                    aws_smithy_types::error::display::DisplayErrorContext(other)
                        .to_string()
                        .chars()
                        .take(300)
                        .collect(),
                ),
            }
        })?;
        let message = match out.output() {
            Some(br::types::ConverseOutput::Message(m)) => from_message(m),
            _ => return Err(ModelError::Invalid("Converse answered no message".into())),
        };
        let usage = out.usage().map_or(Usage::default(), |u| Usage {
            input: u.input_tokens().max(0) as u64,
            output: u.output_tokens().max(0) as u64,
            cache_read: u.cache_read_input_tokens().unwrap_or(0).max(0) as u64,
            cache_write: u.cache_write_input_tokens().unwrap_or(0).max(0) as u64,
        });
        let stop = match out.stop_reason().as_str() {
            "end_turn" | "stop_sequence" => Stop::EndTurn,
            "tool_use" => Stop::ToolUse,
            "max_tokens" => Stop::MaxTokens,
            other => Stop::Other(other.to_string()),
        };
        Ok(ModelResponse {
            message,
            stop,
            usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_round_trip() {
        let v = json!({"a": [1, -2, 2.5, "x", true, null, {"b": {}}], "c": u64::MAX});
        assert_eq!(from_document(&to_document(&v)), v);
    }
}
