//! The answer contract: a [`Responder`] gets an [`AnswerRequest`] (the question, the thread's
//! earlier turns, the person's authorization, a scoped AWS handle, a deadline and a progress
//! handle) and returns an [`Answer`] or an [`AnswerError`] that becomes a clear reply. The agent
//! plugs in here; until it exists, [`NotConfigured`] says so honestly.

use super::answer::Answer;
use crate::access::Authorization;
use crate::aws::scoped::ScopedAws;
use crate::store::Turn;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::Instant;

/// Everything an answerer may use for one question.
pub struct AnswerRequest {
    /// The question, in the asker's words.
    pub question: String,
    /// Earlier turns in the same thread, oldest first (empty for a new thread).
    pub history: Vec<Turn>,
    /// Who asks, their groups, and what they may query here, with reasons.
    pub authorization: Arc<Authorization>,
    /// The only way to AWS credentials: refuses accounts outside the authorization.
    pub aws: ScopedAws,
    /// When the answer must be ready; the core gives up shortly after.
    pub deadline: Instant,
    /// Say what is happening ("Querying production, staging…").
    pub progress: Progress,
}

/// Why there is no answer; each becomes a reply that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The deadline passed.
    #[error(
        "I ran out of time before I could finish. Try a narrower question (one account, one region, or one kind of resource)."
    )]
    Deadline,
    /// A service the answer depends on is unavailable (throttled, down).
    #[error("{0} Please try again in a minute.")]
    Unavailable(String),
    /// The question cannot be answered as asked; the text says why and what to ask instead.
    #[error("{0}")]
    Unanswerable(String),
    /// A fault on our side; `reference` is in the log line with the details.
    #[error(
        "Something went wrong on my side (ref {reference}). The platform team can look it up in the logs."
    )]
    Internal {
        /// A short id to find the log line.
        reference: String,
        /// What happened (logged, never shown).
        detail: String,
    },
}

impl AnswerError {
    /// An internal error with a fresh reference.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Internal {
            reference: format!("{:08x}", fastrand::u32(..)),
            detail: detail.into(),
        }
    }

    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deadline => "answer_deadline",
            Self::Unavailable(_) => "answer_unavailable",
            Self::Unanswerable(_) => "answer_unanswerable",
            Self::Internal { .. } => "answer_internal",
        }
    }
}

/// One read without the model (`run <accounts> <service> <Operation> [params]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Account names, ids, aliases, environments or `all`.
    pub accounts: Vec<String>,
    /// Regions; empty means each account's regions.
    pub regions: Vec<String>,
    /// Service name.
    pub service: String,
    /// Operation name.
    pub operation: String,
    /// Parameters (a JSON object, or null).
    pub params: serde_json::Value,
}

/// What is asked of the responder.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Answer a question in plain words.
    Answer,
    /// One read without the model.
    Run(RunSpec),
    /// An inventory of these accounts (names, ids, aliases, environments or `all`).
    Inventory(Vec<String>),
}

/// Produces answers (the agent plugs in here). Called only after access was decided and the
/// person may query at least one account here.
#[async_trait]
pub trait Responder: Send + Sync + 'static {
    /// The answer to `request`.
    async fn answer(&self, request: AnswerRequest) -> Result<Answer, AnswerError>;

    /// One validated read across accounts, no model (`run`). `request.question` holds the
    /// command as typed.
    async fn run(&self, request: AnswerRequest, spec: RunSpec) -> Result<Answer, AnswerError> {
        let _ = (request, spec);
        Err(AnswerError::Unanswerable(
            "`run` needs AWS access, which this opsbot has not set up.".into(),
        ))
    }

    /// An inventory of `accounts` (`inventory`), no model.
    async fn inventory(
        &self,
        request: AnswerRequest,
        accounts: Vec<String>,
    ) -> Result<Answer, AnswerError> {
        let _ = (request, accounts);
        Err(AnswerError::Unanswerable(
            "`inventory` needs AWS access, which this opsbot has not set up.".into(),
        ))
    }
}

/// The responder used until an agent is configured: says so plainly, and what the person could
/// query once it is.
pub struct NotConfigured;

#[async_trait]
impl Responder for NotConfigured {
    async fn answer(&self, request: AnswerRequest) -> Result<Answer, AnswerError> {
        let accounts: Vec<&str> = request
            .authorization
            .decision
            .allowed
            .iter()
            .map(|a| a.label.as_str())
            .collect();
        Ok(Answer::text(format!(
            "I can't answer questions about AWS yet: no agent is configured in this opsbot. \
             Here you may query {}. Ask me `help` to see what works today.",
            accounts.join(", ")
        )))
    }
}

/// A handle to say what the answerer is doing; cheap to clone, never blocks. The core shows
/// the latest status through the platform (Slack assistant status, terminal stderr).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<watch::Sender<Option<String>>>>);

impl Progress {
    /// A handle and the receiver the core watches.
    pub fn channel() -> (Self, watch::Receiver<Option<String>>) {
        let (tx, rx) = watch::channel(None);
        (Self(Some(Arc::new(tx))), rx)
    }

    /// A handle that shows nothing.
    pub fn none() -> Self {
        Self(None)
    }

    /// Replaces the status shown, e.g. `Querying production, staging…`.
    pub fn say(&self, status: impl Into<String>) {
        if let Some(tx) = &self.0 {
            tx.send_replace(Some(status.into()));
        }
    }
}
