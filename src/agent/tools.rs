//! The tools the model sees, and what our code does when it calls them. The model never decides
//! authorization: `aws_read` is validated by the read guard, its accounts and regions resolved
//! within the person's authorization, and only then run with that person's credentials.
//!
//! - `list_accounts`: the accounts this person may query here. Nothing else exists for the model.
//! - `aws_read`: one structured read across accounts × regions.
//! - documentation tools of the MCP server, passed through under plain names (never
//!   `run_script`/`call_aws`).

use super::model::ToolSpec;
use super::present::{self, ReadRecord};
use crate::aws::mcp::client::ToolInfo;
use crate::aws::read::caps::Budget;
use crate::aws::read::fanout;
use crate::aws::read::guard;
use crate::aws::read::reader::Reader;
use crate::aws::scoped::ScopedAws;
use crate::core::respond::Progress;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// Lists the accounts the person may query.
pub const LIST_ACCOUNTS: &str = "list_accounts";
/// Runs one read.
pub const AWS_READ: &str = "aws_read";
/// Most items the model sees per read.
pub const ITEMS_FOR_MODEL: usize = 60;
/// Most characters of a documentation tool's answer passed to the model.
pub const DOC_CHARS: usize = 8_000;

/// Documentation tools passed through: (server name, name the model sees).
pub const DOC_TOOLS: &[(&str, &str)] = &[
    ("aws___search_documentation", "search_aws_documentation"),
    ("aws___read_documentation", "read_aws_documentation"),
    ("aws___list_regions", "list_aws_regions"),
    (
        "aws___get_regional_availability",
        "get_regional_availability",
    ),
    ("aws___recommend", "recommend_aws_documentation"),
];

/// The tool specs: ours, plus the documentation tools the server offers.
pub fn specs(server_tools: &[ToolInfo]) -> Vec<ToolSpec> {
    let mut specs = vec![
        ToolSpec {
            name: LIST_ACCOUNTS.into(),
            description: "The AWS accounts the person asking may query in this conversation: name, id, aliases, environment, regions. Accounts not listed do not exist for you.".into(),
            schema: json!({"type": "object", "properties": {}}),
        },
        ToolSpec {
            name: AWS_READ.into(),
            description: "Run one read-only AWS API call in several accounts and regions at once, as the person asking. Only operations starting with Describe, List, Get, Search, Lookup, BatchGet or Head; secrets and data contents are refused. Pagination is handled. The person sees every returned item as a table below your answer, so summarise (counts, highlights) instead of repeating rows.".into(),
            schema: json!({
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "boto3 service name: ec2, s3, lambda, rds, eks, iam, ..."},
                    "operation": {"type": "string", "description": "API operation in PascalCase, e.g. DescribeInstances, ListBuckets, ListFunctions, DescribeDBInstances, ListClusters"},
                    "params": {"type": "object", "description": "The operation's parameters with their API names, e.g. {\"Filters\": [{\"Name\": \"instance-state-name\", \"Values\": [\"stopped\"]}]}"},
                    "accounts": {"type": "array", "items": {"type": "string"}, "description": "Account names, ids, aliases or environments from list_accounts, or [\"all\"]"},
                    "regions": {"type": "array", "items": {"type": "string"}, "description": "Region codes; omit to use each account's regions"}
                },
                "required": ["service", "operation", "accounts"]
            }),
        },
    ];
    for (server_name, ours) in DOC_TOOLS {
        if let Some(t) = server_tools.iter().find(|t| t.name == *server_name) {
            specs.push(ToolSpec {
                name: (*ours).into(),
                description: t.description.chars().take(1000).collect(),
                schema: t.input_schema.clone(),
            });
        }
    }
    specs
}

/// Everything the tools need for one question, and what they did.
pub struct Tools<'a> {
    aws: &'a ScopedAws,
    reader: &'a Reader,
    progress: &'a Progress,
    budget: &'a Budget,
    max_calls: u32,
    calls: AtomicU32,
    /// Every read run, for the answer's tables and the audit.
    pub records: Mutex<Vec<ReadRecord>>,
    /// Every refused tool call, for the audit.
    pub refusals: Mutex<Vec<String>>,
}

impl<'a> Tools<'a> {
    /// Tools for one question, allowing `max_calls` calls in all, reads within `budget`.
    pub fn new(
        aws: &'a ScopedAws,
        reader: &'a Reader,
        progress: &'a Progress,
        budget: &'a Budget,
        max_calls: u32,
    ) -> Self {
        Self {
            aws,
            reader,
            progress,
            budget,
            max_calls,
            calls: AtomicU32::new(0),
            records: Mutex::new(Vec::new()),
            refusals: Mutex::new(Vec::new()),
        }
    }

    /// Calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Runs tool `name` with `input`; returns the result for the model and whether it failed.
    pub async fn run(&self, name: &str, input: &Value) -> (Value, bool) {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.max_calls {
            return (
                json!({"error": "tool call limit reached for this question; answer with what you have and say what is missing"}),
                true,
            );
        }
        match name {
            LIST_ACCOUNTS => (self.list_accounts(), false),
            AWS_READ => self.read(input).await,
            other => match DOC_TOOLS.iter().find(|(_, ours)| *ours == other) {
                Some((server_name, _)) => self.docs(server_name, input).await,
                None => (
                    json!({"error": format!("there is no tool called {other}")}),
                    true,
                ),
            },
        }
    }

    fn list_accounts(&self) -> Value {
        Value::Array(
            self.aws
                .accounts()
                .iter()
                .map(|a| {
                    json!({
                        "name": a.account.name, "id": a.account.id, "aliases": a.account.aliases,
                        "environment": a.account.environment, "regions": a.regions,
                    })
                })
                .collect(),
        )
    }

    fn refuse(&self, why: String) -> (Value, bool) {
        tracing::warn!(target: "audit", refusal = %why, "tool call refused");
        self.refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(why.clone());
        (json!({ "refused": why }), true)
    }

    async fn read(&self, input: &Value) -> (Value, bool) {
        let text = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or("");
        let list = |k: &str| -> Vec<String> {
            match input.get(k) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            }
        };
        let call = match guard::validate(
            text("service"),
            text("operation"),
            input.get("params").unwrap_or(&Value::Null),
        ) {
            Ok(c) => c,
            Err(refusal) => return self.refuse(refusal.to_string()),
        };
        let mut plan = fanout::plan(self.aws, &call, &list("accounts"), &list("regions"));
        plan.refused.extend(self.budget.take(&mut plan.targets));
        if plan.targets.is_empty() {
            let why = plan
                .refused
                .iter()
                .map(|r| r.why.clone())
                .collect::<Vec<_>>()
                .join(" ");
            return self.refuse(if why.is_empty() {
                "no account to query".into()
            } else {
                why
            });
        }
        for r in &plan.refused {
            self.refusals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{}: {}", r.what, r.why));
        }
        let names = plan
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ");
        let what = format!("{} {}", call.service, call.operation);
        self.progress.say(format!("Querying {names}: {what}…"));
        let progress = self.progress.clone();
        let report = move |done: usize, total: usize| {
            progress.say(format!("Querying {names}: {what}, {done} of {total} done"));
        };
        let results = self
            .reader
            .run(self.aws, &call, &plan.targets, self.budget, &report)
            .await;
        let record = ReadRecord {
            call,
            results,
            refused: plan.refused,
        };
        let for_model = present::for_model(&record, ITEMS_FOR_MODEL);
        let failed_all = record.results.iter().all(|r| r.outcome.is_err());
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
        (for_model, failed_all)
    }

    async fn docs(&self, server_name: &str, input: &Value) -> (Value, bool) {
        let Some(first) = self.aws.accounts().first() else {
            return (
                json!({"error": "no account to reach the documentation through"}),
                true,
            );
        };
        let creds = match self.aws.credentials(&first.account.id).await {
            Ok(c) => c,
            Err(e) => return (json!({"error": e.to_string()}), true),
        };
        let endpoint = self.reader.mcp().server().endpoints.default_endpoint();
        let session = self
            .reader
            .mcp()
            .session(&first.account.id, &endpoint, &creds)
            .await;
        match session
            .call_tool(server_name, input.clone(), None, self.budget.deadline())
            .await
        {
            Ok(r) => {
                let text: String = r.text.chars().take(DOC_CHARS).collect();
                (json!({ "text": text }), r.is_error)
            }
            Err(e) => (json!({"error": e.to_string()}), true),
        }
    }
}
