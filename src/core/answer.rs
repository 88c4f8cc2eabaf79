//! The [`Answer`] document: what the core says, as data. Adapters render it (Slack Block Kit,
//! terminal text, later Adaptive Cards) within their own limits; nothing here knows any
//! platform's markup. Text is plain Markdown: `**bold**`, `_italic_`, `` `code` ``, fenced code
//! blocks, `- ` lists, `[text](url)`.

use super::inbound::{ChatUser, Place, ThreadKey};
use serde::{Deserialize, Serialize};

/// One reply from the bot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The body, in order.
    pub blocks: Vec<Block>,
    /// What happened per account when not everything went well (failed, refused, partial).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<AccountNote>,
    /// Files that belong with the answer (full tables as CSV, long text as Markdown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Where the answer came from and how long it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<Footer>,
    /// Identifies a scheduled post (`schedule/run`); platforms that can carry it invisibly
    /// (Slack message metadata) attach it, so a replica taking over a run can find the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// A piece of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Block {
    /// A paragraph (or several lines, or a list) of Markdown.
    Paragraph {
        /// The Markdown.
        text: String,
    },
    /// A table; adapters show what fits and attach the rest.
    Table(Table),
}

/// Columns and rows of plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// An optional caption, e.g. `EC2 instances in production (111111111111)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows; each as long as `columns`.
    pub rows: Vec<Vec<String>>,
}

/// How one account fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The calls failed (credentials, throttling, the service).
    Failed,
    /// Not allowed for this person here.
    Refused,
    /// Some regions or pages answered, others did not.
    Partial,
}

/// A per-account note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountNote {
    /// The account as people know it, e.g. `production (111111111111)`.
    pub account: String,
    /// What happened.
    pub kind: NoteKind,
    /// Why, and what to do.
    pub text: String,
}

/// The kind of an attached file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Comma-separated values.
    Csv,
    /// Markdown text.
    Markdown,
}

/// A file that goes with an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name, e.g. `ec2-instances.csv`.
    pub filename: String,
    /// Title shown with the file.
    pub title: String,
    /// CSV or Markdown.
    pub kind: FileKind,
    /// The content.
    pub content: String,
}

/// Where an answer came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footer {
    /// Accounts queried, as labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Regions queried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Time taken, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

impl Answer {
    /// An answer of one Markdown paragraph.
    pub fn text(markdown: impl Into<String>) -> Self {
        Self {
            blocks: vec![Block::Paragraph {
                text: markdown.into(),
            }],
            ..Self::default()
        }
    }

    /// Appends a Markdown paragraph.
    pub fn paragraph(mut self, markdown: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph {
            text: markdown.into(),
        });
        self
    }

    /// Appends a table.
    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The whole answer as Markdown (tables as pipe tables): for logs, summaries and
    /// platforms without richer rendering.
    pub fn to_markdown(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for b in &self.blocks {
            match b {
                Block::Paragraph { text } => parts.push(text.clone()),
                Block::Table(t) => parts.push(t.to_markdown()),
            }
        }
        for n in &self.notes {
            parts.push(format!(
                "- **{}**: {} — {}",
                n.account,
                n.kind.label(),
                n.text
            ));
        }
        parts.join("\n\n")
    }

    /// A short plain summary (first paragraph, at most `max` characters) for thread history.
    pub fn summary(&self, max: usize) -> String {
        let text = self.to_markdown();
        let mut s: String = text.chars().take(max).collect();
        if text.chars().count() > max {
            s.push('…');
        }
        s
    }
}

impl NoteKind {
    /// `failed`, `refused`, `partial`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Partial => "partial",
        }
    }
}

impl Table {
    /// A pipe table (GitHub Markdown).
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = String::new();
        if let Some(c) = &self.caption {
            out.push_str(&format!("**{c}**\n"));
        }
        out.push_str(&format!(
            "| {} |\n|{}|\n",
            self.columns
                .iter()
                .map(|c| esc(c))
                .collect::<Vec<_>>()
                .join(" | "),
            self.columns
                .iter()
                .map(|_| "---")
                .collect::<Vec<_>>()
                .join("|")
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out.trim_end().to_string()
    }

    /// The table as CSV (RFC 4180 quoting). A cell a spreadsheet would run as a formula (it
    /// starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not simply a number)
    /// is prefixed with `'`, as OWASP's CSV injection guidance says: AWS values such as tags are
    /// written by anyone who may tag a resource.
    pub fn to_csv(&self) -> String {
        let cell = |s: &str| {
            let s = neutralise_formula(s);
            let s = s.as_str();
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let line = |r: &[String]| r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
        let mut out = line(&self.columns);
        out.push_str("\r\n");
        for r in &self.rows {
            out.push_str(&line(r));
            out.push_str("\r\n");
        }
        out
    }
}

/// `s` with a leading `'` when a spreadsheet would read it as a formula.
fn neutralise_formula(s: &str) -> String {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = s.trim().parse::<f64>().is_ok_and(f64::is_finite)
        && s.trim()
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if risky && !number {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Where a reply goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The thread of a question.
    Thread(ThreadKey),
    /// Only the asker sees it: through the command's reply handle when there is one (Slack
    /// `response_url`, ephemeral), else privately in the place (and thread) they asked in.
    Private {
        /// Where they asked.
        place: Place,
        /// Who sees it.
        user: ChatUser,
        /// The thread they asked in, if any.
        thread: Option<ThreadKey>,
        /// The platform's reply handle for commands.
        handle: Option<String>,
    },
    /// A new top-level message in a channel, for everyone there (through the command's reply
    /// handle when there is one).
    Channel {
        /// The channel.
        place: Place,
        /// The platform's reply handle for commands.
        handle: Option<String>,
    },
}

impl Target {
    /// The place the reply goes to.
    pub fn place(&self) -> &Place {
        match self {
            Self::Thread(t) => &t.place,
            Self::Private { place, .. } | Self::Channel { place, .. } => place,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let t = Table {
            caption: None,
            columns: vec!["name".into(), "note".into()],
            rows: vec![
                vec!["web".into(), "a, b".into()],
                vec!["db".into(), "say \"hi\"".into()],
            ],
        };
        assert_eq!(
            t.to_csv(),
            "name,note\r\nweb,\"a, b\"\r\ndb,\"say \"\"hi\"\"\"\r\n"
        );
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        let cells = [
            (
                "=HYPERLINK(\"http://evil\",\"x\")",
                "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"",
            ),
            ("=1+1", "'=1+1"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            ("-5", "-5"),
            ("+3.25", "+3.25"),
            ("-1e3", "-1e3"),
            ("-", "'-"),
            ("-inf", "'-inf"),
            ("web-1", "web-1"),
            ("a=b", "a=b"),
            ("", ""),
        ];
        let t = Table {
            caption: None,
            columns: vec!["tag".into()],
            rows: cells.iter().map(|(c, _)| vec![c.to_string()]).collect(),
        };
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        for (i, (cell, want)) in cells.iter().enumerate() {
            assert_eq!(lines[i + 1], *want, "{cell:?}");
        }
    }

    #[test]
    fn markdown_and_json_round_trip() {
        let a = Answer::text("**3** instances")
            .table(Table {
                caption: Some("EC2".into()),
                columns: vec!["id".into(), "state".into()],
                rows: vec![vec!["i-1".into(), "running|ok".into()]],
            })
            .paragraph("done");
        let md = a.to_markdown();
        assert!(md.contains("| id | state |"), "{md}");
        assert!(md.contains("running\\|ok"), "{md}");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Answer>(&json).unwrap(), a);
        assert_eq!(a.summary(5), "**3**…");
    }
}
