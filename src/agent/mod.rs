//! The agent: answers AWS questions with a model (Bedrock Converse) whose only ways to AWS are
//! our tools, validated and run in code with the person's own credentials; and `run`, the same
//! validated fan-out with no model at all.
//!
//! - [`model`]: the model seam; [`bedrock`]: Converse through `aws-sdk-bedrockruntime`.
//! - [`tools`]: `list_accounts`, `aws_read`, documentation pass-through.
//! - [`present`]: tables, notes and the compact results the model reads.
//! - [`prompt`], [`budget`], [`audit`], [`settings`].

pub mod audit;
pub mod bedrock;
pub mod budget;
pub mod model;
pub mod present;
pub mod prompt;
pub mod settings;
pub mod tools;

use crate::aws::mcp::client::RunsAs;
use crate::aws::mcp::settings::SELF_HOSTED_LOSS;
use crate::aws::read::caps::{Budget, Caps};
use crate::aws::read::fanout;
use crate::aws::read::guard;
use crate::aws::read::reader::Reader;
use crate::core::answer::{Answer, Footer};
use crate::core::respond::{AnswerError, AnswerRequest, Responder, RunSpec};
use async_trait::async_trait;
use model::{Content, Message, Model, ModelError, ModelRequest, Role, Stop, Usage};
use present::ReadRecord;
use serde_json::{Value, json};
use settings::AgentSettings;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::time::Instant;

/// The agent and the model-free `run`.
pub struct Agent {
    /// The model; `None` without an `[agent]` section (questions get the honest "not
    /// configured" reply, `run` still works).
    model: Option<Arc<dyn Model>>,
    reader: Arc<Reader>,
    settings: Option<AgentSettings>,
    budget: budget::Budget,
    audit: audit::Audit,
    /// Inventories for `inventory` (absent in tests that don't need it).
    inventory: Option<Arc<crate::inventory::Inventory>>,
    /// What one answer may read and hold.
    caps: Caps,
}

/// What one audit line says besides who asked.
struct Audited<'a> {
    kind: &'a str,
    records: &'a [ReadRecord],
    refusals: &'a [String],
    usage: Usage,
    outcome: &'a str,
    started: Instant,
}

/// Why the loop stopped before the model finished.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Limit {
    Turns,
    Deadline,
    Model(String),
}

impl Agent {
    /// An agent answering with `model` (when configured) and reading through `reader`.
    /// Must be created inside a tokio runtime.
    pub fn new(
        model: Option<Arc<dyn Model>>,
        reader: Arc<Reader>,
        settings: Option<AgentSettings>,
    ) -> Self {
        let audit = audit::Audit::new(settings.as_ref().and_then(|s| s.audit_file.clone()));
        Self {
            budget: budget::Budget::new(settings.as_ref().and_then(|s| s.daily_tokens_per_person)),
            model,
            reader,
            settings,
            audit,
            inventory: None,
            caps: Caps::default(),
        }
    }

    /// Bounds every answer's reads by `caps` (`[work]`).
    pub fn with_caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }

    /// Answers `inventory` with `inventory`.
    pub fn with_inventory(mut self, inventory: Arc<crate::inventory::Inventory>) -> Self {
        self.inventory = Some(inventory);
        self
    }

    fn audit_line(&self, req: &AnswerRequest, what: Audited<'_>) {
        let Audited {
            kind,
            records,
            refusals,
            usage,
            outcome,
            started,
        } = what;
        let auth = &req.authorization;
        let p = &auth.identity.person;
        let calls: Vec<Value> = records
            .iter()
            .flat_map(|r| {
                r.results.iter().map(move |t| {
                    json!({
                        "service": r.call.service, "operation": r.call.operation,
                        "params": audit::params(&r.call.params),
                        "account": t.target.account, "region": t.target.region,
                        "outcome": match &t.outcome { Ok(_) => "ok".to_string(), Err(e) => e.code.clone() },
                        "duration_ms": t.elapsed.as_millis() as u64,
                        "redacted": t.redacted,
                    })
                })
            })
            .collect();
        let asked: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.results.iter().map(|t| t.target.account.as_str()))
            .collect();
        let question: String = req.question.chars().take(500).collect();
        self.audit.record(&json!({
            "kind": kind,
            "user": p.user.key(),
            "email": p.email,
            "groups": auth.identity.groups,
            "place": auth.place.key(),
            "question": question,
            "accounts_allowed": auth.decision.account_ids(),
            "accounts_queried": asked,
            "refused": refusals,
            "calls": calls,
            "tokens": {"input": usage.input, "output": usage.output,
                       "cache_read": usage.cache_read, "cache_write": usage.cache_write},
            "outcome": outcome,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }));
    }
}

impl Agent {
    /// Adds, to an answer built from reads through a self-hosted MCP server, that those reads
    /// did not run as the person (`mcp.server = "self_hosted"`): never silent.
    fn disclose(&self, answer: Answer, records: &[ReadRecord]) -> Answer {
        if records.is_empty() || self.reader.mcp().server().runs_as != RunsAs::Server {
            return answer;
        }
        answer.paragraph(format!(
            "_Note: these results came through {SELF_HOSTED_LOSS}._"
        ))
    }
}

/// `YYYY-MM-DD` for today (UTC).
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The answer's body from what the reads returned: counts and tables per call, notes.
fn assemble(text: String, records: &[ReadRecord], started: Instant) -> Answer {
    let mut answer = Answer::text(text);
    let mut seen = Vec::new();
    let mut accounts = BTreeSet::new();
    let mut regions = BTreeSet::new();
    for r in records {
        let key = (
            r.call.clone(),
            r.results
                .iter()
                .map(|t| t.target.clone())
                .collect::<Vec<_>>(),
        );
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        for t in &r.results {
            accounts.insert(t.target.name.clone());
            regions.insert(t.target.region.clone());
        }
        if let Some(c) = present::counts(r) {
            answer = answer.table(c);
        }
        answer = answer.table(present::table(r));
        answer.notes.extend(present::notes(r));
    }
    answer.footer = Some(Footer {
        accounts: accounts.into_iter().collect(),
        regions: regions.into_iter().collect(),
        elapsed_ms: Some(started.elapsed().as_millis() as u64),
    });
    answer
}

fn model_error(e: &ModelError) -> AnswerError {
    match e {
        ModelError::Throttled | ModelError::Unavailable(_) | ModelError::Transport(_) => {
            AnswerError::Unavailable(format!("I couldn't reach the model ({e})."))
        }
        ModelError::Denied(_) | ModelError::Invalid(_) => AnswerError::internal(e.to_string()),
    }
}

#[async_trait]
impl Responder for Agent {
    async fn answer(&self, req: AnswerRequest) -> Result<Answer, AnswerError> {
        let (Some(model), Some(settings)) = (&self.model, &self.settings) else {
            return crate::core::respond::NotConfigured.answer(req).await;
        };
        let started = Instant::now();
        let person = req.authorization.identity.person.user.key();
        if self.budget.left(&person) == Some(0) {
            return Err(AnswerError::Unanswerable(
                "You have used today's token budget for questions (agent.daily_tokens_per_person); it resets at midnight UTC. `run` works without the model.".into(),
            ));
        }
        let deadline = req.deadline.min(started + settings.deadline);
        let server_tools = self.reader.mcp().cached_tools().await.unwrap_or_default();
        let budget = Budget::new(self.caps, deadline);
        let tools = tools::Tools::new(
            &req.aws,
            &self.reader,
            &req.progress,
            &budget,
            settings.max_tool_calls,
        );
        // Only the asker's own turns, earlier answers labelled as data (see `prompt`).
        let mut messages = prompt::history(&req.history, &req.authorization.identity.person.user);
        messages.push(Message::user(req.question.clone()));
        let mut request = ModelRequest {
            system: prompt::system(&req.authorization, &today()),
            messages,
            tools: tools::specs(&server_tools),
            max_tokens: settings.max_output_tokens,
        };
        let mut usage = Usage::default();
        let mut limit = None;
        let mut text = String::new();
        let mut turns = 0;
        loop {
            if turns >= settings.max_turns {
                limit = Some(Limit::Turns);
                break;
            }
            turns += 1;
            req.progress.say(if turns == 1 {
                "Thinking…".to_string()
            } else {
                format!("Thinking (step {turns})…")
            });
            let response = match tokio::time::timeout_at(deadline, model.converse(&request)).await {
                Err(_) => {
                    limit = Some(Limit::Deadline);
                    break;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "model call failed");
                    if tools
                        .records
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_empty()
                    {
                        self.audit_line(
                            &req,
                            Audited {
                                kind: "question",
                                records: &[],
                                refusals: &[],
                                usage,
                                outcome: "model_error",
                                started,
                            },
                        );
                        return Err(model_error(&e));
                    }
                    limit = Some(Limit::Model(e.to_string()));
                    break;
                }
                Ok(Ok(r)) => r,
            };
            usage.add(response.usage);
            self.budget.charge(&person, response.usage.total());
            let uses: Vec<(String, String, Value)> = response
                .message
                .content
                .iter()
                .filter_map(|c| match c {
                    Content::ToolUse { id, name, input } => {
                        Some((id.clone(), name.clone(), input.clone()))
                    }
                    _ => None,
                })
                .collect();
            text = response.message.text();
            request.messages.push(response.message);
            if response.stop != Stop::ToolUse || uses.is_empty() {
                if response.stop == Stop::MaxTokens {
                    text.push_str("\n\n_(cut short: the answer reached agent.max_output_tokens)_");
                }
                break;
            }
            // Several tool uses in one turn run concurrently; all results go back together.
            // Reads stop at the deadline on their own (late targets become errors); anything
            // else still running then ends the loop.
            let running = futures_util::future::join_all(
                uses.iter().map(|(_, name, input)| tools.run(name, input)),
            );
            let Ok(results) = tokio::time::timeout_at(deadline, running).await else {
                limit = Some(Limit::Deadline);
                break;
            };
            if Instant::now() >= deadline {
                limit = Some(Limit::Deadline);
                break;
            }
            request.messages.push(Message {
                role: Role::User,
                content: uses
                    .into_iter()
                    .zip(results)
                    .map(|((id, _, _), (content, is_error))| Content::ToolResult {
                        id,
                        content,
                        is_error,
                    })
                    .collect(),
            });
        }
        let records = tools
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let refusals = tools
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(l) = &limit {
            let why = match l {
                Limit::Turns => format!(
                    "I reached the limit of {} steps (agent.max_turns)",
                    settings.max_turns
                ),
                Limit::Deadline => "I ran out of time".to_string(),
                Limit::Model(e) => format!("the model stopped answering ({e})"),
            };
            text = if records.is_empty() {
                format!("{why} before I could query anything. Try a narrower question.")
            } else {
                format!(
                    "_{why}, so this answer may be incomplete: here is what I found._\n\n{text}"
                )
            };
        }
        if text.trim().is_empty() {
            text = "Here is what I found.".into();
        }
        let outcome = match &limit {
            None => "answered",
            Some(Limit::Turns) => "partial_turns",
            Some(Limit::Deadline) => "partial_deadline",
            Some(Limit::Model(_)) => "partial_model_error",
        };
        self.audit_line(
            &req,
            Audited {
                kind: "question",
                records: &records,
                refusals: &refusals,
                usage,
                outcome,
                started,
            },
        );
        tracing::info!(
            turns,
            tool_calls = tools.calls(),
            input_tokens = usage.input,
            output_tokens = usage.output,
            cache_read = usage.cache_read,
            "answered"
        );
        Ok(self.disclose(assemble(text, &records, started), &records))
    }

    async fn inventory(
        &self,
        req: AnswerRequest,
        accounts: Vec<String>,
    ) -> Result<Answer, AnswerError> {
        let Some(inventory) = &self.inventory else {
            return Err(AnswerError::Unanswerable(
                "inventory is not set up in this opsbot.".into(),
            ));
        };
        req.progress.say("Counting resources…");
        let answer = inventory
            .on_demand(&req.aws, &req.authorization, &accounts)
            .await;
        tracing::info!(target: "audit", user = %req.authorization.identity.person.user.key(), place = %req.authorization.place.key(), accounts = ?accounts, "inventory on demand");
        Ok(answer)
    }

    async fn run(&self, req: AnswerRequest, spec: RunSpec) -> Result<Answer, AnswerError> {
        let started = Instant::now();
        let call = match guard::validate(&spec.service, &spec.operation, &spec.params) {
            Ok(c) => c,
            Err(refusal) => {
                self.audit_line(
                    &req,
                    Audited {
                        kind: "run",
                        records: &[],
                        refusals: &[refusal.to_string()],
                        usage: Usage::default(),
                        outcome: "refused",
                        started,
                    },
                );
                return Err(AnswerError::Unanswerable(refusal.to_string()));
            }
        };
        let budget = Budget::new(self.caps, req.deadline);
        let mut plan = fanout::plan(&req.aws, &call, &spec.accounts, &spec.regions);
        plan.refused.extend(budget.take(&mut plan.targets));
        if plan.targets.is_empty() {
            let why: Vec<String> = plan.refused.iter().map(|r| r.why.clone()).collect();
            self.audit_line(
                &req,
                Audited {
                    kind: "run",
                    records: &[],
                    refusals: &why,
                    usage: Usage::default(),
                    outcome: "refused",
                    started,
                },
            );
            return Err(AnswerError::Unanswerable(why.join(" ")));
        }
        req.progress
            .say(format!("Running {} {}…", call.service, call.operation));
        let progress = req.progress.clone();
        let report =
            move |done: usize, total: usize| progress.say(format!("{done} of {total} done"));
        let results = self
            .reader
            .run(&req.aws, &call, &plan.targets, &budget, &report)
            .await;
        let record = ReadRecord {
            call,
            results,
            refused: plan.refused,
        };
        let ok = record.results.iter().filter(|r| r.outcome.is_ok()).count();
        let text = format!(
            "`{} {}` in {} of {} account-region target{}.",
            record.call.service,
            record.call.operation,
            ok,
            record.results.len(),
            if record.results.len() == 1 { "" } else { "s" }
        );
        let records = vec![record];
        self.audit_line(
            &req,
            Audited {
                kind: "run",
                records: &records,
                refusals: &[],
                usage: Usage::default(),
                outcome: "answered",
                started,
            },
        );
        Ok(self.disclose(assemble(text, &records, started), &records))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_a_date() {
        let t = super::today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"));
        assert_eq!(&t[4..5], "-");
    }
}
