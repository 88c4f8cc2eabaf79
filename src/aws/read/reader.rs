//! [`Reader`]: runs validated reads through the MCP server in as few requests as the server
//! allows. Reads are grouped per (account, endpoint Region): the unit the server's quota counts.
//! A group's reads go in `run_script` batches of at most `mcp.max_reads_per_script` (one
//! request per batch); a batch that fails as a whole (too big or too slow for the server's
//! undocumented script limits) is split in halves and tried again, down to single reads.
//! Reads of APIs with their own lower limit (CloudTrail `LookupEvents`) are never batched: each
//! page is its own request, paced per account and target Region. Servers with only `call_aws`
//! get one request per read. Every target's result is redacted and charged to the answer's
//! [`Budget`]; anything unfinished at the deadline becomes a per-target error.

use super::batch::{self, BatchRead, ReadOutcome};
use super::caps::Budget;
use super::fanout::{
    RUN_SCRIPT, Target, TargetError, TargetResult, cli_value, mcp_error, scope_error, script_value,
};
use super::guard::ReadCall;
use super::redact;
use super::script;
use crate::aws::mcp::client::{McpError, McpSession};
use crate::aws::mcp::pace::{PaceKey, PaceSettings, Pacer};
use crate::aws::mcp::pool::McpPool;
use crate::aws::scoped::ScopedAws;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// How reads are batched and paced (from `[mcp]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadSettings {
    /// Pages followed per read (`mcp.max_pages`).
    pub max_pages: u32,
    /// Reads per `run_script` request (`mcp.max_reads_per_script`).
    pub max_reads_per_script: usize,
    /// `service:Operation` → requests per second per account per target Region.
    pub api_limits: BTreeMap<String, f64>,
}

impl Default for ReadSettings {
    fn default() -> Self {
        Self {
            max_pages: 10,
            max_reads_per_script: 25,
            api_limits: BTreeMap::new(),
        }
    }
}

/// One read of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The validated call.
    pub call: ReadCall,
    /// Where it runs.
    pub target: Target,
}

/// Runs reads through the MCP server.
pub struct Reader {
    mcp: Arc<McpPool>,
    settings: ReadSettings,
    /// One pacer per limited API (`service:Operation`), keyed by account and target Region.
    api_pacers: HashMap<String, Pacer>,
}

/// Where a group's results go as they arrive.
struct Slots<'a> {
    reads: &'a [Read],
    results: Mutex<Vec<Option<TargetResult>>>,
    budget: &'a Budget,
    started: Instant,
    done: AtomicUsize,
    progress: &'a (dyn Fn(usize, usize) + Send + Sync),
}

impl Slots<'_> {
    /// Records read `i`'s outcome: redacted, charged to the budget, counted in progress.
    fn fill(&self, i: usize, outcome: Result<Value, TargetError>, truncated: bool) {
        let (outcome, redacted) = match outcome {
            Ok(mut v) => {
                let n = redact::redact(&mut v);
                match self.budget.hold(json_size(&v)) {
                    Ok(()) => (Ok(v), n),
                    Err(e) => (Err(e), n),
                }
            }
            Err(e) => (Err(e), 0),
        };
        let result = TargetResult {
            target: self.reads[i].target.clone(),
            outcome,
            truncated,
            redacted,
            elapsed: self.started.elapsed(),
        };
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        if results[i].is_none() {
            results[i] = Some(result);
            drop(results);
            let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
            (self.progress)(done, self.reads.len());
        }
    }

    fn fail_all(&self, indices: &[usize], e: &TargetError) {
        for &i in indices {
            self.fill(i, Err(e.clone()), false);
        }
    }
}

impl Reader {
    /// A reader over `mcp` with `settings`.
    pub fn new(mcp: Arc<McpPool>, settings: ReadSettings) -> Self {
        let api_pacers = settings
            .api_limits
            .iter()
            .map(|(api, rps)| {
                let pace = PaceSettings {
                    requests_per_second: *rps,
                    burst: 1,
                    in_flight: 27,
                };
                (api.clone(), Pacer::new(pace))
            })
            .collect();
        Self {
            mcp,
            settings,
            api_pacers,
        }
    }

    /// The MCP pool.
    pub fn mcp(&self) -> &Arc<McpPool> {
        &self.mcp
    }

    /// Runs `call` on every target; see [`Reader::run_all`].
    pub async fn run(
        &self,
        aws: &ScopedAws,
        call: &ReadCall,
        targets: &[Target],
        budget: &Budget,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Vec<TargetResult> {
        let reads: Vec<Read> = targets
            .iter()
            .map(|t| Read {
                call: call.clone(),
                target: t.clone(),
            })
            .collect();
        self.run_all(aws, &reads, budget, progress).await
    }

    /// Runs every read within `budget`, one group per (account, endpoint Region) concurrently;
    /// results in the order of `reads`. `progress(done, total)` after each read.
    pub async fn run_all(
        &self,
        aws: &ScopedAws,
        reads: &[Read],
        budget: &Budget,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Vec<TargetResult> {
        let slots = Slots {
            reads,
            results: Mutex::new(vec![None; reads.len()]),
            budget,
            started: Instant::now(),
            done: AtomicUsize::new(0),
            progress,
        };
        let endpoints = &self.mcp.server().endpoints;
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, r) in reads.iter().enumerate() {
            let endpoint = endpoints.for_region(&r.target.region);
            groups
                .entry((r.target.account.clone(), endpoint.region))
                .or_default()
                .push(i);
        }
        let runs = groups
            .into_values()
            .map(|indices| self.group(aws, &slots, indices));
        let _ =
            tokio::time::timeout_at(budget.deadline(), futures_util::future::join_all(runs)).await;
        let late = Budget::late();
        let results = slots
            .results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        results
            .into_iter()
            .zip(reads)
            .map(|(r, read)| {
                r.unwrap_or_else(|| TargetResult {
                    target: read.target.clone(),
                    outcome: Err(late.clone()),
                    truncated: false,
                    redacted: 0,
                    elapsed: slots.started.elapsed(),
                })
            })
            .collect()
    }

    /// One account through one endpoint: credentials, tools, then batches or single reads.
    async fn group(&self, aws: &ScopedAws, slots: &Slots<'_>, indices: Vec<usize>) {
        let first = &slots.reads[indices[0]].target;
        let deadline = slots.budget.deadline();
        let creds = match aws.credentials(&first.account).await {
            Ok(c) => c,
            Err(e) => return slots.fail_all(&indices, &scope_error(e)),
        };
        let endpoint = self.mcp.server().endpoints.for_region(&first.region);
        let session = self.mcp.session(&first.account, &endpoint, &creds).await;
        // The session is set up while the endpoint's tools are listed (once per endpoint, by
        // whoever asks first), not after: a cold read costs one set-up, not two in a row.
        let (tools, opened) = futures_util::future::join(
            self.mcp.tools(&first.account, &endpoint, &creds, deadline),
            session.open(deadline),
        )
        .await;
        let tools = match tools.and_then(|t| opened.map(|()| t)) {
            Ok(t) => t,
            Err(e) => return slots.fail_all(&indices, &mcp_error(e)),
        };
        let has = |n: &str| tools.iter().any(|t| t.name == n);
        if has(RUN_SCRIPT) {
            let (limited, batchable): (Vec<usize>, Vec<usize>) = indices
                .into_iter()
                .partition(|&i| self.api_pacer(&slots.reads[i].call).is_some());
            let size = self.settings.max_reads_per_script.max(1);
            let batches = batchable
                .chunks(size)
                .map(|chunk| self.batch(&session, slots, chunk.to_vec()));
            let singles = limited.iter().map(|&i| self.paged(&session, slots, i));
            futures_util::future::join(
                futures_util::future::join_all(batches),
                futures_util::future::join_all(singles),
            )
            .await;
        } else if let Some(tool) = ["aws___call_aws", "call_aws"].into_iter().find(|n| has(n)) {
            let runs = indices.iter().map(|&i| self.cli(&session, tool, slots, i));
            futures_util::future::join_all(runs).await;
        } else {
            let e = TargetError {
                code: "no_tool".into(),
                message:
                    "the MCP server offers neither aws___run_script nor call_aws; check [mcp] url"
                        .into(),
            };
            slots.fail_all(&indices, &e);
        }
    }

    /// One `run_script` request for `indices`; split in halves when it fails as a whole.
    fn batch<'a>(
        &'a self,
        session: &'a McpSession,
        slots: &'a Slots<'a>,
        indices: Vec<usize>,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            let reads: Vec<BatchRead<'_>> = indices
                .iter()
                .map(|&i| BatchRead {
                    call: &slots.reads[i].call,
                    region: &slots.reads[i].target.region,
                    max_pages: self.settings.max_pages,
                })
                .collect();
            let code = batch::render(&reads);
            let region = slots.reads[indices[0]].target.region.clone();
            let sent = session
                .call_tool(
                    RUN_SCRIPT,
                    json!({ "code": code }),
                    Some(&region),
                    slots.budget.deadline(),
                )
                .await;
            let failure = match sent {
                Ok(r) => match script_value(&r) {
                    Ok(v) => match batch::parse(&v, indices.len()) {
                        Some(outcomes) => {
                            for (&i, o) in indices.iter().zip(outcomes) {
                                let ReadOutcome { outcome, truncated, .. } = o;
                                slots.fill(i, outcome, truncated);
                            }
                            return;
                        }
                        None => TargetError {
                            code: "unreadable".into(),
                            message: "the MCP server's answer to a batch of reads was not the batch opsbot sent".into(),
                        },
                    },
                    Err(e) => e,
                },
                Err(e) if splittable(&e) => mcp_error(e),
                Err(e) => return slots.fail_all(&indices, &mcp_error(e)),
            };
            if indices.len() == 1 {
                return slots.fail_all(&indices, &failure);
            }
            tracing::info!(reads = indices.len(), error = %failure.message, "a batch of reads failed as a whole; splitting it");
            let (a, b) = indices.split_at(indices.len() / 2);
            futures_util::future::join(
                self.batch(session, slots, a.to_vec()),
                self.batch(session, slots, b.to_vec()),
            )
            .await;
        })
    }

    /// A read of a limited API: one page per request, each page paced by its API's limit.
    async fn paged(&self, session: &McpSession, slots: &Slots<'_>, i: usize) {
        let read = &slots.reads[i];
        let deadline = slots.budget.deadline();
        let Some(pacer) = self.api_pacer(&read.call) else {
            return;
        };
        let key = PaceKey {
            account: read.target.account.clone(),
            endpoint: read.target.region.clone(),
        };
        let mut call = read.call.clone();
        let mut pages = Vec::new();
        let mut truncated = false;
        for page in 0..self.settings.max_pages {
            if pacer.turn(&key, deadline).await.is_err() {
                truncated = !pages.is_empty();
                if pages.is_empty() {
                    return slots.fill(i, Err(Budget::late()), false);
                }
                break;
            }
            let code = batch::render(&[BatchRead {
                call: &call,
                region: &read.target.region,
                max_pages: 1,
            }]);
            let sent = session
                .call_tool(
                    RUN_SCRIPT,
                    json!({ "code": code }),
                    Some(&read.target.region),
                    deadline,
                )
                .await
                .map_err(mcp_error);
            let outcome = sent.and_then(|r| script_value(&r)).and_then(|v| {
                batch::parse(&v, 1)
                    .and_then(|mut o| o.pop())
                    .ok_or_else(|| TargetError {
                        code: "unreadable".into(),
                        message: "the MCP server's answer was not the script's result".into(),
                    })
            });
            match outcome {
                Err(e) if pages.is_empty() => return slots.fill(i, Err(e), false),
                Err(_) => {
                    truncated = true;
                    break;
                }
                Ok(o) => {
                    let next = o.next.clone();
                    match o.outcome {
                        Ok(v) => pages.push(v),
                        Err(e) if pages.is_empty() => return slots.fill(i, Err(e), false),
                        Err(_) => {
                            truncated = true;
                            break;
                        }
                    }
                    match next.and_then(|n| n.as_object().cloned()) {
                        Some(params) if o.truncated => {
                            call.params = params;
                            truncated = page + 1 == self.settings.max_pages;
                        }
                        _ => {
                            truncated = false;
                            break;
                        }
                    }
                }
            }
        }
        slots.fill(i, Ok(super::fanout::merge_pages(pages)), truncated);
    }

    /// One `call_aws` request for read `i` (older or self-hosted servers).
    async fn cli(&self, session: &McpSession, tool: &str, slots: &Slots<'_>, i: usize) {
        let read = &slots.reads[i];
        let cmd = match script::cli_command(
            &read.call,
            &read.target.region,
            script::CliStyle::for_tool(tool),
        ) {
            Ok(cmd) => cmd,
            Err(e) => {
                let refused = TargetError {
                    code: "refused".into(),
                    message: e.to_string(),
                };
                slots.fill(i, Err(refused), false);
                return;
            }
        };
        let outcome = session
            .call_tool(
                tool,
                json!({ "cli_command": cmd }),
                Some(&read.target.region),
                slots.budget.deadline(),
            )
            .await
            .map_err(mcp_error)
            .and_then(|r| cli_value(&r));
        slots.fill(i, outcome, false);
    }

    fn api_pacer(&self, call: &ReadCall) -> Option<&Pacer> {
        self.api_pacers
            .get(&format!("{}:{}", call.service, call.operation))
    }
}

/// Whether a failed batch request may succeed when split (size or time), as opposed to a
/// failure every smaller request would share (throttling to the deadline, auth).
fn splittable(e: &McpError) -> bool {
    match e {
        McpError::Transport(_) | McpError::Protocol(_) => true,
        McpError::Http { status, .. } => *status == 413 || *status >= 500,
        McpError::Rpc { .. } => true,
        _ => false,
    }
}

/// A value's JSON size, without building it.
fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}
