//! The work for one admitted item: commands, questions (access, the responder with its
//! deadline and progress, the turn recorded), and delivery through the platform's sink.

use super::{Core, HISTORY_TURNS, STORE_TIMEOUT, SUMMARY_CHARS, private_target, question_target};
use crate::access::Authorization;
use crate::aws::scoped::ScopedAws;
use crate::chat::{Asked, ProgressUpdate};
use crate::core::answer::{Answer, Target};
use crate::core::command::Command;
use crate::core::inbound::{Inbound, Place, ThreadKey};
use crate::core::respond::{AnswerError, AnswerRequest, Job, Progress};
use crate::store::Turn;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

impl Core {
    pub(super) async fn command(&self, inbound: &Inbound, c: Command) {
        let answer = match c {
            Command::Help => self.help(inbound.place.platform, None),
            Command::Unclear(problem) => self.help(inbound.place.platform, Some(&problem)),
            Command::Whoami | Command::Accounts { .. } => {
                match self.access.decide(&inbound.who, &inbound.place).await {
                    Err(e) => {
                        self.metrics.error(e.kind());
                        tracing::error!(user = %inbound.who.key(), error = %e, detail = ?e, "identity lookup failed; refusing (fail closed)");
                        self.access.identity_failure(&e)
                    }
                    Ok(auth) => match &c {
                        Command::Whoami => self.access.whoami(&auth),
                        Command::Accounts { name } if !name.is_empty() => {
                            self.access.named_accounts(&auth, &Command::name_text(name))
                        }
                        _ => self.access.accounts(&auth),
                    },
                }
            }
            Command::Ask { .. } | Command::Run { .. } | Command::Inventory { .. } => return,
        };
        self.deliver(&private_target(inbound), &answer).await;
    }

    /// Does `job` for `text` (the question, or the command as typed) where it was asked.
    pub(super) async fn question(&self, inbound: &Inbound, text: &str, job: Job) {
        let asked = Asked {
            place: inbound.place.clone(),
            thread: inbound.thread.clone(),
            message: inbound.message.clone(),
        };
        let show_progress = asked.message.is_some() || asked.thread.is_some();
        if show_progress {
            self.progress(&asked, ProgressUpdate::Started).await;
        }
        let started = tokio::time::Instant::now();
        let answer = match self.access.decide(&inbound.who, &inbound.place).await {
            Err(e) => {
                self.metrics.error(e.kind());
                tracing::error!(user = %inbound.who.key(), error = %e, detail = ?e, "identity lookup failed; refusing (fail closed)");
                self.access.identity_failure(&e)
            }
            Ok(auth) if !auth.may_query() => self.access.refusal(&auth),
            Ok(auth) => self.respond(inbound, text, auth, &asked, job).await,
        };
        self.deliver(&question_target(inbound), &answer).await;
        if let Some(thread) = &inbound.thread {
            let turn = Turn {
                user: inbound.who.clone(),
                question: text.to_string(),
                answer: answer.summary(SUMMARY_CHARS),
                at: SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            };
            match tokio::time::timeout(STORE_TIMEOUT, self.store.add_turn(thread, turn)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "turn not recorded; a follow-up will need a mention")
                }
                Err(_) => tracing::warn!(
                    "turn not recorded (store timed out); a follow-up will need a mention"
                ),
            }
        }
        if show_progress {
            self.progress(&asked, ProgressUpdate::Done).await;
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "question handled"
        );
    }

    /// Runs the responder with the deadline, forwarding its progress to the platform.
    async fn respond(
        &self,
        inbound: &Inbound,
        text: &str,
        auth: Authorization,
        asked: &Asked,
        job: Job,
    ) -> Answer {
        let history = match &inbound.thread {
            Some(t) => self.history(t).await,
            None => Vec::new(),
        };
        let aws = ScopedAws::new(self.credentials.clone(), self.access.book(), &auth);
        let (progress, mut status) = Progress::channel();
        let deadline = tokio::time::Instant::now() + self.settings.work.answer_timeout;
        let request = AnswerRequest {
            question: text.to_string(),
            history,
            authorization: Arc::new(auth),
            aws,
            deadline,
            progress,
        };
        // A little grace past the deadline for the responder to wrap up on its own.
        let answering = tokio::time::timeout_at(deadline + Duration::from_secs(5), async {
            match job {
                Job::Answer => self.responder.answer(request).await,
                Job::Run(spec) => self.responder.run(request, spec).await,
                Job::Inventory(accounts) => self.responder.inventory(request, accounts).await,
            }
        });
        tokio::pin!(answering);
        let mut watching = true;
        let result = loop {
            tokio::select! {
                biased;
                changed = status.changed(), if watching => {
                    if changed.is_err() {
                        watching = false;
                        continue;
                    }
                    let now = status.borrow_and_update().clone();
                    if let Some(s) = now {
                        self.progress(asked, ProgressUpdate::Status(s)).await;
                    }
                }
                r = &mut answering => break r.unwrap_or(Err(AnswerError::Deadline)),
            }
        };
        match result {
            Ok(answer) => answer,
            Err(e) => {
                self.metrics.error(e.kind());
                match &e {
                    AnswerError::Internal { reference, detail } => {
                        tracing::error!(reference, detail, "answer failed")
                    }
                    other => tracing::warn!(error = %other, "no answer"),
                }
                Answer::text(e.to_string())
            }
        }
    }

    async fn history(&self, thread: &ThreadKey) -> Vec<Turn> {
        match tokio::time::timeout(STORE_TIMEOUT, self.store.turns(thread, HISTORY_TURNS)).await {
            Ok(Ok(turns)) => turns,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "thread history unavailable; answering without it");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("thread history timed out; answering without it");
                Vec::new()
            }
        }
    }

    async fn progress(&self, asked: &Asked, update: ProgressUpdate) {
        if let Some(sink) = self.sinks.get(asked.place.platform)
            && let Err(e) = sink.progress(asked, update).await
        {
            tracing::debug!(error = %e, "progress not shown");
        }
    }

    /// The post in `place` carrying `marker` since `since`, if the platform can find it
    /// (errors are logged and count as not found).
    pub async fn find_post(&self, place: &Place, marker: &str, since: i64) -> Option<String> {
        let sink = self.sinks.get(place.platform)?;
        match sink.find_post(place, marker, since).await {
            Ok(found) => found,
            Err(e) => {
                self.metrics.error(e.kind());
                tracing::warn!(error = %e, marker, "cannot look for an earlier post");
                None
            }
        }
    }

    /// Sends `answer` to `target` through the platform's sink; failures are counted and logged.
    /// `Some(first message id, if the platform gave one)` when delivered.
    pub async fn deliver(&self, target: &Target, answer: &Answer) -> Option<Option<String>> {
        let Some(sink) = self.sinks.get(target.place().platform) else {
            tracing::error!(platform = %target.place().platform, "no reply path for this platform");
            return None;
        };
        match sink.send(target, answer).await {
            Ok(id) => {
                self.metrics.reply(match target {
                    Target::Thread(_) => "thread",
                    Target::Private { .. } => "private",
                    Target::Channel { .. } => "channel",
                });
                Some(id)
            }
            Err(e) => {
                self.metrics.error(e.kind());
                tracing::error!(error = %e, "reply not delivered");
                None
            }
        }
    }
}
