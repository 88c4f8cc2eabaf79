//! The work for one admitted item: commands, questions (access, the responder with its
//! deadline and progress, the turn recorded), and delivery through the platform's sink.
//!
//! Who is asking, and who else is listening:
//! - the responder sees only the asker's own earlier turns in the thread; refused questions
//!   (access, identity, a guarded `run`) are never recorded, so nobody plants instructions in
//!   someone else's thread;
//! - a refusal outside the bot's own DM goes to the person privately, with a one-line notice in
//!   the thread;
//! - links in answers are defanged unless they point at an allow-listed host
//!   ([`crate::core::links`]).

use super::{
    Core, HISTORY_SCAN, HISTORY_TURNS, REFUSAL_NOTICE, STORE_TIMEOUT, SUMMARY_CHARS,
    private_target, question_target,
};
use crate::access::Authorization;
use crate::aws::scoped::ScopedAws;
use crate::chat::{Asked, ProgressUpdate};
use crate::core::answer::{Answer, Target};
use crate::core::command::Command;
use crate::core::inbound::{ChatUser, Inbound, Place, PlaceKind, ThreadKey};
use crate::core::links;
use crate::core::respond::{AnswerError, AnswerRequest, Job, Progress};
use crate::store::Turn;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How one question ended.
enum Outcome {
    /// Answered (or failed on our side): delivered where it was asked and recorded as a turn.
    Answered(Answer),
    /// The responder declined it as asked (a guarded `run`, a spent budget): delivered, not
    /// recorded.
    Declined(Answer),
    /// Access refused (no account here, identity failure): delivered privately outside the
    /// bot's own DM, never recorded.
    Refused(Answer),
}

/// The newest `limit` of `turns` that `who` asked, oldest first.
pub(super) fn own_turns(turns: Vec<Turn>, who: &ChatUser, limit: usize) -> Vec<Turn> {
    let mut own: Vec<Turn> = turns.into_iter().filter(|t| &t.user == who).collect();
    let skip = own.len().saturating_sub(limit);
    own.drain(..skip);
    own
}

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
        let outcome = match self.access.decide(&inbound.who, &inbound.place).await {
            Err(e) => {
                self.metrics.error(e.kind());
                tracing::error!(user = %inbound.who.key(), error = %e, detail = ?e, "identity lookup failed; refusing (fail closed)");
                Outcome::Refused(self.access.identity_failure(&e))
            }
            Ok(auth) if !auth.may_query() => Outcome::Refused(self.access.refusal(&auth)),
            Ok(auth) => self.respond(inbound, text, auth, &asked, job).await,
        };
        match outcome {
            Outcome::Refused(details) => self.refuse(inbound, &details).await,
            Outcome::Declined(answer) => {
                self.deliver(&question_target(inbound), &answer).await;
            }
            Outcome::Answered(answer) => {
                self.deliver(&question_target(inbound), &answer).await;
                self.record(inbound, text, &answer).await;
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

    /// Delivers a refusal: in the bot's own DM as it is; elsewhere the details go to the
    /// person privately, after a one-line notice in the thread (unless the platform leaves
    /// its own notice with private replies). A slash command is only seen by its sender, so
    /// its refusal gets no notice at all.
    async fn refuse(&self, inbound: &Inbound, details: &Answer) {
        if inbound.place.kind == PlaceKind::Dm {
            self.deliver(&question_target(inbound), details).await;
            return;
        }
        let notices = self
            .sinks
            .get(inbound.place.platform)
            .is_some_and(|s| s.private_leaves_notice());
        if inbound.thread.is_some() && !notices {
            self.deliver(&question_target(inbound), &Answer::text(REFUSAL_NOTICE))
                .await;
        }
        self.deliver(&private_target(inbound), details).await;
    }

    /// Records an answered question as a turn of its thread (so a follow-up needs no
    /// mention and the responder sees it next time).
    async fn record(&self, inbound: &Inbound, text: &str, answer: &Answer) {
        let Some(thread) = &inbound.thread else {
            return;
        };
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
            Err(_) => {
                tracing::warn!(
                    "turn not recorded (store timed out); a follow-up will need a mention"
                )
            }
        }
    }

    /// Runs the responder with the deadline, forwarding its progress to the platform.
    async fn respond(
        &self,
        inbound: &Inbound,
        text: &str,
        auth: Authorization,
        asked: &Asked,
        job: Job,
    ) -> Outcome {
        let history = match &inbound.thread {
            Some(t) => self.history(t, &inbound.who).await,
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
            // Model-written text may carry links: only allow-listed hosts stay links.
            Ok(mut answer) => {
                links::sanitize(&mut answer);
                Outcome::Answered(answer)
            }
            Err(e) => {
                self.metrics.error(e.kind());
                match &e {
                    AnswerError::Internal { reference, detail } => {
                        tracing::error!(reference, detail, "answer failed")
                    }
                    other => tracing::warn!(error = %other, "no answer"),
                }
                let answer = Answer::text(e.to_string());
                match e {
                    // Refused as asked (a guarded `run`, a spent budget): not a turn to build on.
                    AnswerError::Unanswerable(_) => Outcome::Declined(answer),
                    // Our failure: the question stays the person's turn, so they can follow up.
                    _ => Outcome::Answered(answer),
                }
            }
        }
    }

    /// The thread's earlier turns *of this person*, oldest first: other people's messages
    /// never reach the responder as the asker's words.
    async fn history(&self, thread: &ThreadKey, who: &ChatUser) -> Vec<Turn> {
        let turns =
            match tokio::time::timeout(STORE_TIMEOUT, self.store.turns(thread, HISTORY_SCAN)).await
            {
                Ok(Ok(turns)) => turns,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "thread history unavailable; answering without it");
                    Vec::new()
                }
                Err(_) => {
                    tracing::warn!("thread history timed out; answering without it");
                    Vec::new()
                }
            };
        own_turns(turns, who, HISTORY_TURNS)
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
