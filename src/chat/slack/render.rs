//! [`Answer`] → Block Kit, within Slack's limits.
//!
//! Markdown becomes Slack mrkdwn (`**b**` → `*b*`, `~~s~~` → `~s~`, `- ` → `• `, links
//! `<url|text>`, `&`, `<`, `>` escaped). Tables become aligned monospace blocks; a table too
//! long to show is cut with a note and attached in full as CSV. Per-account notes follow the
//! body, the footer is a context block. The body is one message of section blocks when it
//! fits, several messages when it is a little long, and a short message plus `answer.md` when
//! it is longer. Limits (Slack docs): 3,000 characters per section text, 50 blocks per message,
//! about 13k characters of blocks per message in practice (`msg_blocks_too_long`), 40,000
//! characters of `text`. Code fences split across sections are closed and reopened.

use crate::core::answer::{Answer, Attachment, Block, FileKind, Footer, NoteKind, Table};
use serde_json::{Value, json};

/// Most characters in one section block's text.
pub const SECTION_MAX: usize = 3000;
/// Most blocks in one message.
pub const BLOCKS_MAX: usize = 50;
/// Budget of block text per message, below the ~13k where Slack starts refusing.
pub const MESSAGE_BUDGET: usize = 12_000;
/// Most messages an answer is split into before it becomes a file.
pub const MAX_PARTS: usize = 3;
/// Most characters of the fallback `text` field (notifications).
pub const FALLBACK_MAX: usize = 300;
/// Most table rows shown in a message; longer tables are cut and attached as CSV.
pub const TABLE_ROWS: usize = 30;
/// Widest cell shown in a message table.
pub const CELL_MAX: usize = 48;

/// One message ready to send: fallback text plus Block Kit blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    /// Plain text used for notifications and clients without blocks.
    pub text: String,
    /// Block Kit blocks; may be empty.
    pub blocks: Vec<Value>,
}

/// A file to share with the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutFile {
    /// File name shown in Slack, e.g. `answer.md`.
    pub filename: String,
    /// Title shown above the file.
    pub title: String,
    /// MIME type for the upload.
    pub mime: &'static str,
    /// The content.
    pub content: String,
    /// Message posted with the file, if any.
    pub comment: Option<String>,
}

/// How an answer will be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Messages to post, in order.
    pub messages: Vec<OutMessage>,
    /// Files to upload after them.
    pub files: Vec<OutFile>,
}

/// Renders `answer` into messages and files.
pub fn plan(answer: &Answer) -> Plan {
    let mut files = Vec::new();
    let mut parts = Vec::new();
    let mut table_no = 0;
    for b in &answer.blocks {
        match b {
            Block::Paragraph { text } => parts.push(mrkdwn(text)),
            Block::Table(t) => {
                table_no += 1;
                let (text, file) = table(t, table_no);
                parts.push(text);
                files.extend(file);
            }
        }
    }
    if !answer.notes.is_empty() {
        let lines: Vec<String> = answer
            .notes
            .iter()
            .map(|n| {
                let icon = match n.kind {
                    NoteKind::Failed => ":x:",
                    NoteKind::Refused => ":no_entry:",
                    NoteKind::Partial => ":warning:",
                };
                format!(
                    "{icon} *{}*: {} — {}",
                    escape(&n.account),
                    n.kind.label(),
                    inline(&n.text)
                )
            })
            .collect();
        parts.push(lines.join("\n"));
    }
    let body = parts.join("\n\n");
    let mut plan = plan_text(&body);
    if let Some(f) = answer.footer.as_ref().and_then(footer) {
        match plan.messages.last_mut() {
            Some(m) if m.blocks.len() < BLOCKS_MAX => m.blocks.push(f),
            _ => {}
        }
    }
    files.extend(answer.attachments.iter().map(attachment));
    plan.files.extend(files);
    plan
}

fn attachment(a: &Attachment) -> OutFile {
    OutFile {
        filename: a.filename.clone(),
        title: a.title.clone(),
        mime: match a.kind {
            FileKind::Csv => "text/csv",
            FileKind::Markdown => "text/markdown",
        },
        content: a.content.clone(),
        comment: None,
    }
}

fn footer(f: &Footer) -> Option<Value> {
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
    if bits.is_empty() {
        return None;
    }
    Some(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": truncate(&escape(&bits.join(" · ")), FALLBACK_MAX)}
    ]}))
}

/// A table as an aligned monospace block (cut at [`TABLE_ROWS`] rows, with the full table
/// attached as CSV when cut).
fn table(t: &Table, n: usize) -> (String, Option<OutFile>) {
    let shown = &t.rows[..t.rows.len().min(TABLE_ROWS)];
    let cell = |s: &str| truncate(&s.replace('\n', " "), CELL_MAX);
    let header: Vec<String> = t.columns.iter().map(|c| cell(c)).collect();
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
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
        out.push_str(&format!("*{}*\n", inline(c)));
    }
    out.push_str("```\n");
    out.push_str(&escape(&line(&header)));
    out.push('\n');
    for r in &rows {
        out.push_str(&escape(&line(r)));
        out.push('\n');
    }
    out.push_str("```");
    if t.rows.is_empty() {
        out.push_str("\n_(no rows)_");
    }
    if t.rows.len() <= TABLE_ROWS {
        return (out, None);
    }
    let name = t
        .caption
        .as_deref()
        .map(slug)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("table-{n}"));
    let filename = format!("{name}.csv");
    out.push_str(&format!(
        "\n_Showing {} of {} rows; all of them are in `{filename}`._",
        TABLE_ROWS,
        t.rows.len()
    ));
    let file = OutFile {
        filename,
        title: t.caption.clone().unwrap_or_else(|| format!("Table {n}")),
        mime: "text/csv",
        content: t.to_csv(),
        comment: None,
    };
    (out, Some(file))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

/// Escapes the three characters Slack reserves in text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown → Slack mrkdwn (see the module docs), line by line, leaving code alone.
pub fn mrkdwn(md: &str) -> String {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            out.push(escape(line));
            continue;
        }
        if in_fence {
            out.push(escape(line));
            continue;
        }
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            out.push(format!("{indent}*{}*", inline(trimmed[hashes..].trim())));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("+ "))
        {
            out.push(format!("{indent}• {}", inline(item)));
        } else {
            out.push(inline(line));
        }
    }
    out.join("\n")
}

/// Inline Markdown → mrkdwn outside `code` spans.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, seg) in s.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&escape(seg));
        } else {
            out.push_str(&emphasis(&links(seg)));
        }
    }
    out
}

/// `[text](http…)` → `<url|text>`; everything else escaped.
fn links(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let text = &after[..close];
            // A label holds no brackets: `evil[.]example … [x](url)` is not one link.
            if text.contains(['[', ']', '\n']) {
                return None;
            }
            let tail = &after[close + 2..];
            let end = tail.find(')')?;
            let url = &tail[..end];
            (url.starts_with("https://") || url.starts_with("http://")).then_some((
                text,
                url,
                open + 1 + close + 2 + end + 1,
            ))
        });
        match parsed {
            Some((text, url, consumed)) => {
                out.push_str(&escape(&rest[..open]));
                out.push_str(&format!(
                    "\u{1}{}|{}\u{2}",
                    escape(url).replace('|', "%7C"),
                    escape(text)
                ));
                rest = &rest[consumed..];
            }
            None => {
                out.push_str(&escape(&rest[..=open]));
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(&escape(rest));
    // The link brackets were kept out of escaping with placeholders.
    out.replace('\u{1}', "<").replace('\u{2}', ">")
}

/// `**b**`/`__b__` → `*b*`, `*i*` → `_i_`, `~~s~~` → `~s~`.
fn emphasis(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match (c, next) {
            ('*', Some('*')) | ('_', Some('_')) => {
                out.push('*');
                i += 2;
            }
            ('~', Some('~')) => {
                out.push('~');
                i += 2;
            }
            ('*', Some(n)) if !n.is_whitespace() => {
                // Single-star emphasis is italic in Markdown, bold in mrkdwn.
                let close = (i + 2..chars.len())
                    .find(|&j| chars[j] == '*' && !chars[j - 1].is_whitespace());
                match close {
                    Some(j) if chars.get(j + 1) != Some(&'*') => {
                        out.push('_');
                        out.extend(&chars[i + 1..j]);
                        out.push('_');
                        i = j + 1;
                    }
                    _ => {
                        out.push('*');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Renders mrkdwn `text` into messages, or a file when it is too long.
pub fn plan_text(text: &str) -> Plan {
    let text = if text.trim().is_empty() {
        "(empty answer)"
    } else {
        text
    };
    let sections = split_sections(text, SECTION_MAX);
    let mut messages: Vec<Vec<String>> = vec![Vec::new()];
    let mut used = 0;
    for s in sections {
        let current = messages.last_mut().expect("non-empty");
        if !current.is_empty()
            && (used + s.chars().count() > MESSAGE_BUDGET || current.len() >= BLOCKS_MAX - 1)
        {
            messages.push(Vec::new());
            used = 0;
        }
        used += s.chars().count();
        messages.last_mut().expect("non-empty").push(s);
    }
    if messages.len() <= MAX_PARTS {
        return Plan {
            messages: messages.into_iter().map(|m| message(&m)).collect(),
            files: Vec::new(),
        };
    }
    let preview: String = split_sections(text, 1500)
        .into_iter()
        .next()
        .unwrap_or_default();
    let total = text.chars().count();
    Plan {
        messages: Vec::new(),
        files: vec![OutFile {
            filename: "answer.md".into(),
            title: "opsbot answer".into(),
            mime: "text/markdown",
            content: text.to_string(),
            comment: Some(format!(
                "{preview}\n\n_The full answer ({total} characters) is in the attached file._"
            )),
        }],
    }
}

/// One message of section blocks with a short fallback text.
pub fn message(sections: &[String]) -> OutMessage {
    let blocks = sections
        .iter()
        .map(|s| json!({"type": "section", "text": {"type": "mrkdwn", "text": s}}))
        .collect();
    let first = sections.first().map(String::as_str).unwrap_or("");
    OutMessage {
        text: truncate(first, FALLBACK_MAX),
        blocks,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Splits `text` into chunks of at most `max` characters, preferring line breaks, and keeps
/// ``` code fences balanced in every chunk.
pub fn split_sections(text: &str, max: usize) -> Vec<String> {
    const FENCE: &str = "```";
    let reserve = FENCE.len() + 1;
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    let mut in_fence = false;
    let flush = |cur: &mut String, cur_len: &mut usize, in_fence: bool, out: &mut Vec<String>| {
        if in_fence {
            cur.push_str("\n```");
        }
        if !cur.trim().is_empty() {
            out.push(std::mem::take(cur));
        }
        cur.clear();
        *cur_len = 0;
        if in_fence {
            cur.push_str("```\n");
            *cur_len = 4;
        }
    };
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        while !rest.is_empty() {
            let room = max.saturating_sub(cur_len + reserve).max(1);
            let n = rest.chars().count();
            if n <= room {
                cur.push_str(rest);
                cur_len += n;
                break;
            }
            if cur_len > 4 && n <= max - 2 * reserve {
                flush(&mut cur, &mut cur_len, in_fence, &mut out);
                continue;
            }
            let cut = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
            cur.push_str(&rest[..cut]);
            rest = &rest[cut..];
            flush(&mut cur, &mut cur_len, in_fence, &mut out);
        }
        if line.trim_start().starts_with(FENCE) {
            in_fence = !in_fence;
        }
    }
    if !cur.trim().is_empty() && cur.trim() != FENCE {
        out.push(cur.trim_end_matches('\n').to_string());
    }
    for s in &mut out {
        let trimmed = s.trim_end_matches('\n').len();
        s.truncate(trimmed);
    }
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
