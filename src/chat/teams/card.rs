//! [`Answer`] → Microsoft Teams bot messages: Adaptive Cards (schema 1.5) for the body, then
//! files as preformatted text messages.
//!
//! Teams' TextBlock Markdown knows **bold**, _italic_, lists and links, nothing else, and a
//! single `\n` is only a soft break. So a paragraph becomes TextBlocks line by line: lines stay
//! apart (`\n\n`), consecutive list items stay one list (`\n`), `#` headings become bold
//! TextBlocks, fenced code becomes a Monospace TextBlock in an emphasis Container (indentation
//! kept as no-break spaces), and inline `code` spans lose their backticks (their content is
//! escaped as plain text). Plain text — table cells, code, captions, the footer — is escaped
//! with backslashes only where Markdown would act on it: a leading list, heading or quote
//! marker, `*` and `_` when there are two or more (one alone makes no emphasis), `[`/`]` when a
//! link could form, and `\` before punctuation. Few escapes, because some mobile clients show
//! the backslashes.
//!
//! Tables become Adaptive Card `Table`s (cells cut at 300 characters; the CSV keeps them). Per-account
//! notes follow the body in Attention/Warning colours, the footer comes last, small and subtle.
//! Every card activity serializes to at most [`CARD_MAX`] bytes, measured exactly (compact
//! JSON is additive: an array's length is its items' plus commas): what does not fit goes to a
//! continuation card, a long paragraph is split on lines (on characters if one line is too
//! long), and a table too big for a card shows the rows that fit and follows as CSV. Files are
//! `xml` text messages (`<b>name</b><pre>…</pre>`) of at most [`TEXT_MAX_UTF16`] UTF-16 units,
//! split on lines (CSV: on records), at most [`MAX_CSV_PARTS`] per file, then a notice.

#[path = "card_files.rs"]
mod files;
#[path = "card_markdown.rs"]
mod markdown;
#[path = "card_table.rs"]
mod table;

use crate::core::answer::{AccountNote, Answer, Block, FileKind, Footer, NoteKind};
use files::file;
use markdown::{escape_md, inline, pieces};
use serde_json::{Value, json};
use table::table;

/// Largest serialized Adaptive Card JSON we send (bytes). Teams allows ~28 KB; stay under.
pub const CARD_MAX: usize = 24_000;
/// Largest text message we send, counted in UTF-16 code units (Teams: ~100 KB per message;
/// stay well under). Used for file parts.
pub const TEXT_MAX_UTF16: usize = 20_000;
/// Most text parts sent for one file before saying what to do instead.
pub const MAX_CSV_PARTS: usize = 5;
/// Longest table cell shown in a card, in characters; the CSV keeps everything.
const CELL_MAX: usize = 300;
/// Longest caption, note or footer text shown, in characters (so each fits a card).
const LINE_MAX: usize = 1_000;
/// The attachment content type of an Adaptive Card.
const CARD_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// Renders `answer` as the activities to send, in order: one or more Adaptive Card messages,
/// then the files (the answer's attachments, then the CSVs of tables too big for a card) as
/// text messages. Each value is a complete Bot Framework message activity body without
/// conversation/replyToId/from fields (the client adds those).
pub fn render(answer: &Answer) -> Vec<Value> {
    let mut cards = Cards::new();
    let mut names: Vec<String> = answer
        .attachments
        .iter()
        .map(|a| a.filename.clone())
        .collect();
    let mut csvs = Vec::new();
    for block in &answer.blocks {
        match block {
            Block::Paragraph { text } => {
                for (style, lines) in pieces(text) {
                    cards.push_lines(style, lines);
                }
            }
            Block::Table(t) => table(&mut cards, t, answer, &mut names, &mut csvs),
        }
    }
    for (i, n) in answer.notes.iter().enumerate() {
        cards.push(note(n, i == 0));
    }
    if cards.is_empty() {
        cards.push(text_block("(no answer)".into()));
    }
    if let Some(f) = answer.footer.as_ref().and_then(footer) {
        cards.push(f);
    }
    let mut out = cards.finish();
    for a in &answer.attachments {
        out.extend(file(&a.filename, a.kind, &a.content));
    }
    for (name, csv) in csvs {
        out.extend(file(&name, FileKind::Csv, &csv));
    }
    out
}

/// A progress/status message ("Working on it…") as a small Adaptive Card with one wrapped
/// TextBlock — a card, so that updating it with PUT into the answer's first card (or another
/// status) replaces a card with a card. The text is shown as plain text.
pub fn status(text: &str) -> Value {
    activity(vec![text_block(escape_md(&truncate(text, LINE_MAX), true))])
}

/// A short plain-text notice message (`textFormat` `plain`), e.g. "I've sent you the details
/// in a chat with me."
pub fn notice(text: &str) -> Value {
    json!({"type": "message", "textFormat": "plain", "text": text})
}

/// Length of `s` in UTF-16 code units (how Teams counts message size).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// One card message around `body`.
fn activity(body: Vec<Value>) -> Value {
    json!({"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": body,
    }}]})
}

fn json_size(v: &Value) -> usize {
    serde_json::to_string(v).expect("a Value serializes").len()
}

/// Bytes `c` takes inside a JSON string as serde_json writes it.
fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

fn json_len(s: &str) -> usize {
    s.chars().map(json_char_len).sum()
}

/// The longest char-boundary prefix of `s` (as a byte index) whose cost is at most `room`,
/// but at least one character.
fn cut(s: &str, room: usize, cost: fn(char) -> usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += cost(c);
        if used > room {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    s.len()
}

/// Cards being filled, each body within [`CARD_MAX`] once wrapped in its activity.
struct Cards {
    done: Vec<Vec<Value>>,
    body: Vec<Value>,
    /// Bytes of `body` serialized, commas included.
    used: usize,
    /// Bytes of an activity with an empty body.
    base: usize,
}

impl Cards {
    fn new() -> Self {
        let base = json_size(&activity(Vec::new()));
        Self {
            done: Vec::new(),
            body: Vec::new(),
            used: 0,
            base,
        }
    }

    fn is_empty(&self) -> bool {
        self.done.is_empty() && self.body.is_empty()
    }

    /// Bytes one more element may take in the current card (its comma counted).
    fn room(&self) -> usize {
        let comma = usize::from(!self.body.is_empty());
        CARD_MAX.saturating_sub(self.base + self.used + comma)
    }

    /// Bytes an element may take in an empty card.
    fn fresh(&self) -> usize {
        CARD_MAX - self.base
    }

    /// Starts a continuation card unless the current one is empty.
    fn next(&mut self) {
        if !self.body.is_empty() {
            self.done.push(std::mem::take(&mut self.body));
            self.used = 0;
        }
    }

    /// Makes room for `size` bytes of elements (commas between them counted).
    fn reserve(&mut self, size: usize) {
        if size > self.room() {
            self.next();
        }
    }

    /// Adds an element no bigger than [`Self::fresh`].
    fn push(&mut self, el: Value) {
        let size = json_size(&el);
        self.reserve(size);
        debug_assert!(
            size <= self.room(),
            "element of {size} bytes too big for a card"
        );
        self.used += size + usize::from(!self.body.is_empty());
        self.body.push(el);
    }

    /// Adds elements that belong together (a caption and its table) to one card.
    fn extend_together(&mut self, els: impl IntoIterator<Item = Value>) {
        let els: Vec<Value> = els.into_iter().collect();
        let size = els
            .iter()
            .map(|e| json_size(e) + 1)
            .sum::<usize>()
            .saturating_sub(1);
        self.reserve(size);
        for e in els {
            self.push(e);
        }
    }

    /// Adds `lines` (each with the separator that joins it to the previous line) as elements
    /// of `style`: as many lines per element as fit, a line cut on characters when it alone
    /// is too big for a card.
    fn push_lines(&mut self, style: Style, lines: Vec<(&'static str, String)>) {
        let base = json_size(&element(style, String::new()));
        let mut queue = std::collections::VecDeque::from(lines);
        while !queue.is_empty() {
            let room = self.room();
            let fresh = self.body.is_empty();
            let mut text = String::new();
            let mut used = base;
            while let Some((sep, line)) = queue.front_mut() {
                let sep = if text.is_empty() { "" } else { *sep };
                let add = json_len(sep) + json_len(line);
                if used + add <= room {
                    text.push_str(sep);
                    text.push_str(line);
                    used += add;
                    queue.pop_front();
                    continue;
                }
                if text.is_empty() && fresh {
                    let at = cut(line, room.saturating_sub(base), json_char_len);
                    text.push_str(&line[..at]);
                    *line = line[at..].to_string();
                }
                break;
            }
            if text.is_empty() {
                self.next();
            } else {
                self.push(element(style, text));
            }
        }
    }

    fn finish(mut self) -> Vec<Value> {
        self.next();
        self.done.into_iter().map(activity).collect()
    }
}

/// How a run of paragraph lines is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Text,
    Heading,
    Code,
}

fn text_block(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

fn element(style: Style, text: String) -> Value {
    match style {
        Style::Text => text_block(text),
        Style::Heading => {
            json!({"type": "TextBlock", "text": text, "wrap": true, "weight": "Bolder"})
        }
        Style::Code => json!({"type": "Container", "style": "emphasis", "items": [
            {"type": "TextBlock", "text": text, "wrap": true, "fontType": "Monospace"}
        ]}),
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

fn note(n: &AccountNote, first: bool) -> Value {
    let color = match n.kind {
        NoteKind::Failed => "Attention",
        NoteKind::Refused | NoteKind::Partial => "Warning",
    };
    let text = truncate(&n.text, LINE_MAX)
        .lines()
        .map(|l| inline(l.trim()))
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut v = text_block(format!(
        "**{}** — {}: {text}",
        escape_md(&truncate(&n.account, LINE_MAX), false),
        n.kind.label()
    ));
    v["color"] = color.into();
    if first {
        v["separator"] = true.into();
    }
    v
}

fn footer(f: &Footer) -> Option<Value> {
    let mut bits = Vec::new();
    if !f.accounts.is_empty() {
        bits.push(f.accounts.join(", "));
    }
    if !f.regions.is_empty() {
        bits.push(f.regions.join(", "));
    }
    match f.elapsed_ms {
        Some(ms) if ms < 1000 => bits.push(format!("{ms} ms")),
        Some(ms) => bits.push(format!("{:.1} s", ms as f64 / 1000.0)),
        None => {}
    }
    (!bits.is_empty()).then(|| {
        let text = escape_md(&truncate(&bits.join(" · "), LINE_MAX), true);
        json!({"type": "TextBlock", "text": text, "size": "Small", "isSubtle": true, "wrap": true})
    })
}

#[cfg(test)]
#[path = "card_tests.rs"]
mod tests;
