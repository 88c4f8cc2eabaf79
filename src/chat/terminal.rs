//! The terminal front door: `opsbot ask`, `opsbot whoami`, `opsbot accounts`.
//!
//! The same core, identity, policy and responder as Slack; only the adapter differs. The
//! person is given with `--as` (a Slack user id, or an email: looked up in Slack when a bot
//! token is set, else taken as is for the static groups file), the place with `--channel`
//! (default: a private conversation, so the DM guardrail applies). Whoever runs this already
//! holds the bot's configuration and AWS credentials, so `--as` is trusted; every AWS call is
//! still made with that person's session name and SourceIdentity. Answers print as text
//! (tables aligned) or, with `--json`, as the raw [`Answer`] document.

use crate::app::{App, AppError};
use crate::chat::{Asked, ChatError, ChatSink, ProgressUpdate};
use crate::config::Config;
use crate::core::answer::{Answer, Block, Table, Target};
use crate::core::inbound::{ChatUser, Inbound, Place, PlaceKind, Platform, What};
use crate::identity::IdentityError;
use crate::identity::slack::SlackDirectory;
use async_trait::async_trait;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Why a terminal command could not run.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The app could not be wired.
    #[error(transparent)]
    App(#[from] AppError),
    /// `--as` names nobody we can look up.
    #[error("--as {0:?}: give an email (ana@example.com) or a Slack user id (U0123ABCD)")]
    BadUser(String),
    /// A Slack user id without a Slack token.
    #[error("--as {0}: looking up a Slack user needs SLACK_BOT_TOKEN; set it, or use --as EMAIL")]
    NoSlack(String),
    /// `--channel` is not a place.
    #[error("--channel {0:?}: give a place like slack:C0123ABCD (or a Slack channel id C0123ABCD)")]
    BadChannel(String),
    /// No such schedule.
    #[error("there is no schedule called {0:?}; `opsbot check` lists them")]
    NoSchedule(String),
    /// Posting needs a Slack token.
    #[error("--post needs SLACK_BOT_TOKEN (the bot token) to post to {0}")]
    NoToken(String),
    /// The post did not happen.
    #[error("the inventory was not posted: {0}")]
    NotPosted(String),
    /// Slack could not be asked who the email belongs to.
    #[error("looking up {email} in Slack failed: {source}")]
    Lookup {
        /// The email.
        email: String,
        /// What went wrong.
        source: IdentityError,
    },
}

/// Prints answers to stdout (text or JSON) and progress to stderr.
pub struct TerminalSink {
    json: bool,
    answers: Mutex<Vec<Answer>>,
}

impl TerminalSink {
    /// A sink printing text, or JSON with `json`.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            answers: Mutex::new(Vec::new()),
        }
    }

    /// Every answer printed so far.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl ChatSink for TerminalSink {
    async fn send(&self, _target: &Target, answer: &Answer) -> Result<Option<String>, ChatError> {
        let text = if self.json {
            serde_json::to_string_pretty(answer).map_err(|e| ChatError::Transport {
                method: "stdout",
                detail: e.to_string(),
            })? + "\n"
        } else {
            render(answer)
        };
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| ChatError::Transport {
                method: "stdout",
                detail: e.to_string(),
            })?;
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(answer.clone());
        Ok(None)
    }

    async fn progress(&self, _asked: &Asked, update: ProgressUpdate) -> Result<(), ChatError> {
        if let ProgressUpdate::Status(s) = update {
            let _ = writeln!(std::io::stderr().lock(), "… {s}");
        }
        Ok(())
    }
}

/// An answer as terminal text: Markdown paragraphs as written, tables aligned in full.
pub fn render(answer: &Answer) -> String {
    let mut parts = Vec::new();
    for b in &answer.blocks {
        match b {
            Block::Paragraph { text } => parts.push(text.clone()),
            Block::Table(t) => parts.push(table(t)),
        }
    }
    for n in &answer.notes {
        parts.push(format!("! {}: {} — {}", n.account, n.kind.label(), n.text));
    }
    for a in &answer.attachments {
        parts.push(format!(
            "(attached: {} — {}, {} bytes; --json includes it)",
            a.filename,
            a.title,
            a.content.len()
        ));
    }
    if let Some(f) = &answer.footer {
        let mut bits = Vec::new();
        if !f.accounts.is_empty() {
            bits.push(format!("accounts: {}", f.accounts.join(", ")));
        }
        if !f.regions.is_empty() {
            bits.push(format!("regions: {}", f.regions.join(", ")));
        }
        if let Some(ms) = f.elapsed_ms {
            bits.push(format!("{:.1} s", ms as f64 / 1000.0));
        }
        if !bits.is_empty() {
            parts.push(format!("-- {}", bits.join(" · ")));
        }
    }
    parts.join("\n\n") + "\n"
}

fn table(t: &Table) -> String {
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
    for r in &t.rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |r: &[String]| {
        r.iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count())))
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    if let Some(c) = &t.caption {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&line(&t.columns));
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for r in &t.rows {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}

/// The place named by `--channel` (default: a private terminal conversation).
pub fn place(channel: Option<&str>) -> Result<Place, TerminalError> {
    let Some(c) = channel.map(str::trim) else {
        return Ok(Place::new(Platform::Terminal, "terminal", PlaceKind::Dm));
    };
    let bad = || TerminalError::BadChannel(c.to_string());
    let (platform, id) = match c.split_once(':') {
        Some((p, id)) => (Platform::parse(p).ok_or_else(bad)?, id),
        None => (Platform::Slack, c),
    };
    if id.is_empty() || platform == Platform::Terminal {
        return Err(bad());
    }
    let kind = match platform {
        Platform::Slack if id.starts_with('D') => PlaceKind::Dm,
        Platform::Slack if id.starts_with(['C', 'G']) => PlaceKind::Channel,
        Platform::Slack => return Err(bad()),
        _ => PlaceKind::Channel,
    };
    Ok(Place::new(platform, id, kind))
}

fn is_slack_id(s: &str) -> bool {
    s.len() >= 3
        && s.starts_with(['U', 'W'])
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The person named by `--as`: a Slack user when Slack can say who it is, else the email as
/// given (the static groups file and email-keyed providers decide their groups).
pub async fn who(as_user: &str, slack: Option<&SlackDirectory>) -> Result<ChatUser, TerminalError> {
    let as_user = as_user.trim();
    if is_slack_id(as_user) {
        return match slack {
            Some(_) => Ok(ChatUser::new(Platform::Slack, as_user)),
            None => Err(TerminalError::NoSlack(as_user.to_string())),
        };
    }
    if !as_user.contains('@') {
        return Err(TerminalError::BadUser(as_user.to_string()));
    }
    if let Some(slack) = slack {
        match slack.lookup_by_email(as_user).await {
            Ok(Some(user)) => return Ok(user),
            Ok(None) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "note: Slack has no user with {as_user}; using the email as given"
                );
            }
            Err(source) => {
                return Err(TerminalError::Lookup {
                    email: as_user.to_string(),
                    source,
                });
            }
        }
    }
    Ok(ChatUser::new(Platform::Terminal, as_user.to_lowercase()))
}

/// Runs one terminal command (`what`) as `as_user` at `channel`, printing the answer.
pub async fn run(
    config: Config,
    as_user: &str,
    channel: Option<&str>,
    json: bool,
    what: What,
) -> Result<(), TerminalError> {
    let place = place(channel)?;
    let sink = Arc::new(TerminalSink::new(json));
    let app = App::builder(config)
        .sink(Platform::Slack, sink.clone())
        .sink(Platform::Teams, sink.clone())
        .sink(Platform::Terminal, sink.clone())
        .build()
        .await?;
    let slack = app.slack_directory();
    let who = who(as_user, slack.as_ref()).await?;
    let inbound = Inbound {
        delivery: None,
        who,
        place,
        message: None,
        thread: None,
        handle: None,
        what,
    };
    app.core.run_now(inbound).await;
    Ok(())
}

/// `opsbot inventory --schedule NAME --once [--post]`: the schedule's inventory now, acting as
/// the schedule; printed, or posted and recorded as a run.
pub async fn inventory(
    config: Config,
    name: &str,
    post: bool,
    json: bool,
) -> Result<(), TerminalError> {
    let Some(schedule) = config
        .inventory
        .schedules
        .iter()
        .find(|s| s.name == name)
        .cloned()
    else {
        return Err(TerminalError::NoSchedule(name.to_string()));
    };
    if post && !config.slack.has_token() {
        return Err(TerminalError::NoToken(schedule.post_to.key()));
    }
    let sink = Arc::new(TerminalSink::new(json));
    let mut builder = App::builder(config).sink(Platform::Terminal, sink.clone());
    if !post {
        builder = builder
            .sink(Platform::Slack, sink.clone())
            .sink(Platform::Teams, sink.clone());
    }
    let app = builder.build().await?;
    let now = crate::inventory::schedule::Clock::system().now();
    if post {
        let scheduler = crate::inventory::Scheduler::new(
            app.inventory.clone(),
            app.core.clone(),
            crate::inventory::schedule::Clock::system(),
            format!("opsbot-cli-{}", std::process::id()),
        );
        match scheduler.fire(&schedule, now).await {
            crate::inventory::Fired::Posted(_) => {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "posted to {}",
                    schedule.post_to.key()
                );
                Ok(())
            }
            other => Err(TerminalError::NotPosted(format!("{other:?}"))),
        }
    } else {
        let report = app.inventory.report(&schedule, now.timestamp()).await;
        sink.send(
            &Target::Channel {
                place: schedule.post_to.clone(),
                handle: None,
            },
            &report.answer,
        )
        .await
        .map_err(|e| TerminalError::NotPosted(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::answer::{AccountNote, Footer, NoteKind};

    #[test]
    fn places_from_channel_flags() {
        assert_eq!(place(None).unwrap().platform, Platform::Terminal);
        assert!(place(None).unwrap().is_dm());
        assert_eq!(
            place(Some("C0OPS")).unwrap(),
            Place::new(Platform::Slack, "C0OPS", PlaceKind::Channel)
        );
        assert_eq!(place(Some("slack:D0DM")).unwrap().kind, PlaceKind::Dm);
        assert_eq!(
            place(Some("teams:19:abc@thread.tacv2")).unwrap().platform,
            Platform::Teams
        );
        for bad in ["general", "irc:#ops", "slack:", "terminal:x"] {
            assert!(place(Some(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn who_takes_emails_and_needs_slack_for_slack_ids() {
        assert_eq!(
            who("Ana@Example.com", None).await.unwrap(),
            ChatUser::new(Platform::Terminal, "ana@example.com")
        );
        assert!(matches!(
            who("U0123ABCD", None).await,
            Err(TerminalError::NoSlack(_))
        ));
        assert!(matches!(
            who("ana", None).await,
            Err(TerminalError::BadUser(_))
        ));
    }

    #[test]
    fn renders_tables_aligned_and_notes_and_footer() {
        let mut a = Answer::text("**2** instances").table(Table {
            caption: Some("EC2".into()),
            columns: vec!["id".into(), "state".into()],
            rows: vec![
                vec!["i-1".into(), "running".into()],
                vec!["i-22222".into(), "stopped".into()],
            ],
        });
        a.notes.push(AccountNote {
            account: "staging".into(),
            kind: NoteKind::Failed,
            text: "AccessDenied".into(),
        });
        a.footer = Some(Footer {
            accounts: vec!["production".into()],
            regions: vec![],
            elapsed_ms: Some(1500),
        });
        let text = render(&a);
        assert_eq!(
            text,
            "**2** instances\n\nEC2\nid       state\n-------  -------\ni-1      running\ni-22222  stopped\n\n! staging: failed — AccessDenied\n\n-- accounts: production · 1.5 s\n"
        );
    }
}
