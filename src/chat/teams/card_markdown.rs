//! Markdown → TextBlock Markdown for [`super`]: paragraphs as runs of lines, code spans
//! unwrapped, plain text escaped where Teams would read Markdown into it.

use super::Style;

pub(super) type Lines = Vec<(&'static str, String)>;

/// A paragraph's Markdown as runs of lines to show in one style each.
pub(super) fn pieces(md: &str) -> Vec<(Style, Lines)> {
    let mut out = Vec::new();
    let mut text: Lines = Vec::new();
    let mut code: Option<Lines> = None;
    let mut prev_item = false;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match code.take() {
                Some(c) if !c.is_empty() => out.push((Style::Code, c)),
                Some(_) => {}
                None => {
                    if !text.is_empty() {
                        out.push((Style::Text, std::mem::take(&mut text)));
                    }
                    code = Some(Vec::new());
                }
            }
            prev_item = false;
            continue;
        }
        if let Some(c) = &mut code {
            c.push(("\n\n", code_line(line)));
            continue;
        }
        if trimmed.is_empty() {
            prev_item = false;
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let rest = &trimmed[hashes..];
        if (1..=6).contains(&hashes) && (rest.is_empty() || rest.starts_with(' ')) {
            if !text.is_empty() {
                out.push((Style::Text, std::mem::take(&mut text)));
            }
            let title = rest.trim().trim_end_matches('#').trim_end();
            out.push((Style::Heading, vec![("", inline(title))]));
            prev_item = false;
            continue;
        }
        match list_item(trimmed) {
            Some((marker, item)) => {
                let indent = &line[..line.len() - trimmed.len()];
                let sep = if prev_item { "\n" } else { "\n\n" };
                text.push((sep, format!("{indent}{marker} {}", inline(item))));
                prev_item = true;
            }
            None => {
                text.push(("\n\n", inline(trimmed.trim_end())));
                prev_item = false;
            }
        }
    }
    if let Some(c) = code.filter(|c| !c.is_empty()) {
        out.push((Style::Code, c));
    }
    if !text.is_empty() {
        out.push((Style::Text, text));
    }
    out
}

/// `- x`, `* x`, `+ x` → (`-`, `x`); `3. x`, `3) x` → (`3.`, `x`).
fn list_item(line: &str) -> Option<(String, &str)> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(item) = line.strip_prefix(bullet) {
            return Some(("-".into(), item));
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let rest = &line[digits..];
    ((1..=9).contains(&digits) && (rest.starts_with(". ") || rest.starts_with(") ")))
        .then(|| (format!("{}.", &line[..digits]), &rest[2..]))
}

/// A line of fenced code: escaped as plain text, indentation as no-break spaces (Markdown
/// would drop it), an empty line as one no-break space (Markdown would drop it too).
pub(super) fn code_line(line: &str) -> String {
    let escaped = escape_md(line.trim_end(), true);
    let body = escaped.trim_start_matches([' ', '\t']);
    let indent: String = escaped[..escaped.len() - body.len()]
        .chars()
        .map(|c| {
            if c == '\t' {
                "\u{a0}".repeat(4)
            } else {
                "\u{a0}".into()
            }
        })
        .collect();
    if body.is_empty() && indent.is_empty() {
        "\u{a0}".into()
    } else {
        format!("{indent}{body}")
    }
}

/// Inline Markdown for a TextBlock: `code` spans lose their backticks and their content is
/// escaped as plain text; an unmatched backtick stays; the rest passes through.
pub(super) fn inline(s: &str) -> String {
    let segs: Vec<&str> = s.split('`').collect();
    let mut out = String::new();
    for (i, seg) in segs.iter().enumerate() {
        let unmatched = segs.len().is_multiple_of(2) && i == segs.len() - 1;
        if i % 2 == 1 && !unmatched {
            out.push_str(&escape_md(seg, i == 1 && segs[0].is_empty()));
        } else {
            if unmatched {
                out.push('`');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Escapes one line of plain text so TextBlock Markdown shows it as is (see the module docs);
/// `at_start`: the line starts the TextBlock or a line of it, so a list marker would count.
pub(super) fn escape_md(s: &str, at_start: bool) -> String {
    let stars = s.matches('*').count() >= 2;
    let unders = s.matches('_').count() >= 2;
    let link = s.contains("](");
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let escape = match c {
            '\\' => chars.peek().is_some_and(char::is_ascii_punctuation),
            '*' => stars,
            '_' => unders,
            '[' | ']' => link,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    if at_start {
        escape_marker(&mut out);
    }
    out
}

/// Puts a backslash before a leading list, heading, quote or rule marker.
fn escape_marker(line: &mut String) {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    let blank_at = |i: usize| {
        body[i..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '\t')
    };
    let hashes = body.chars().take_while(|c| *c == '#').count();
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    let at = match body.chars().next() {
        Some('>') => Some(0),
        Some('-' | '+' | '*') if blank_at(1) => Some(0),
        Some('-')
            if body.chars().all(|c| c == '-' || c == ' ') && body.matches('-').count() >= 3 =>
        {
            Some(0)
        }
        Some('#') if hashes <= 6 && blank_at(hashes) => Some(0),
        Some('0'..='9')
            if digits <= 9 && body[digits..].starts_with(['.', ')']) && blank_at(digits + 1) =>
        {
            Some(digits)
        }
        _ => None,
    };
    if let Some(at) = at {
        line.insert(indent + at, '\\');
    }
}

/// Plain multi-line text (a cell) for a TextBlock: each line escaped, lines kept apart.
pub(super) fn plain_lines(s: &str) -> String {
    s.lines()
        .map(|l| escape_md(l.trim_end(), true))
        .collect::<Vec<_>>()
        .join("\n\n")
}
