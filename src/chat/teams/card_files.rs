//! Files → `xml` text messages for [`super`], split on lines within Teams' message size.

use super::{MAX_CSV_PARTS, TEXT_MAX_UTF16, cut, notice, truncate, utf16_len};
use crate::core::answer::FileKind;
use serde_json::{Value, json};

/// Escapes `& < > "` for Teams' `xml` text format.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// UTF-16 units `c` takes once HTML-escaped.
fn html_char_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        '"' => 6,
        c => c.len_utf16(),
    }
}

/// `content` as lines (CSV: records, so quoted newlines stay inside), each with its `\n`.
fn units(content: &str, kind: FileKind) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in content.bytes().enumerate() {
        match b {
            b'"' if kind == FileKind::Csv => quoted = !quoted,
            b'\n' if !quoted => {
                out.push(&content[start..=i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < content.len() {
        out.push(&content[start..]);
    }
    out
}

/// A file as text messages of at most [`TEXT_MAX_UTF16`] units each, split on lines; past
/// [`MAX_CSV_PARTS`] parts, a notice saying what was cut and what to do instead.
pub(super) fn file(name: &str, kind: FileKind, content: &str) -> Vec<Value> {
    let name = truncate(name, 200);
    let name_html = html(&name);
    let longest = format!(
        "<b>{name_html}</b> (part {0} of {0})<pre></pre>",
        usize::MAX
    );
    let budget = TEXT_MAX_UTF16 - utf16_len(&longest);
    let lines = units(content, kind);
    // Each part: its raw text and how many whole lines end in it.
    let mut parts: Vec<(String, usize)> = Vec::new();
    let (mut cur, mut cost, mut ended) = (String::new(), 0, 0);
    for line in &lines {
        let c: usize = line.chars().map(html_char_len).sum();
        if cost + c > budget && !cur.is_empty() {
            parts.push((std::mem::take(&mut cur), std::mem::take(&mut ended)));
            cost = 0;
        }
        let mut rest = *line;
        while cost + rest.chars().map(html_char_len).sum::<usize>() > budget {
            let at = cut(rest, budget - cost, html_char_len);
            cur.push_str(&rest[..at]);
            rest = &rest[at..];
            parts.push((std::mem::take(&mut cur), std::mem::take(&mut ended)));
            cost = 0;
        }
        cur.push_str(rest);
        cost += rest.chars().map(html_char_len).sum::<usize>();
        ended += 1;
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push((cur, ended));
    }
    let n = parts.len();
    let mut out: Vec<Value> = parts
        .iter()
        .take(MAX_CSV_PARTS)
        .enumerate()
        .map(|(i, (text, _))| {
            let part = if n > 1 {
                format!(" (part {} of {n})", i + 1)
            } else {
                String::new()
            };
            json!({"type": "message", "textFormat": "xml",
                "text": format!("<b>{name_html}</b>{part}<pre>{}</pre>", html(text))})
        })
        .collect();
    if n > MAX_CSV_PARTS {
        let header = usize::from(kind == FileKind::Csv);
        let total = lines.len().saturating_sub(header);
        let shown: usize = parts[..MAX_CSV_PARTS].iter().map(|p| p.1).sum();
        let unit = if kind == FileKind::Csv {
            "rows"
        } else {
            "lines"
        };
        out.push(notice(&format!(
            "{name} is too long to show in Teams ({total} {unit}); the first {} {unit} are \
             above. Narrow the question (one account or region), or get it all from a terminal \
             with opsbot ask … --json (opsbot run … --json for a single API call).",
            shown.saturating_sub(header)
        )));
    }
    out
}
