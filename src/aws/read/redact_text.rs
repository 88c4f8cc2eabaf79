//! Text-level redaction, for what is not structured: AWS error messages, a server's raw answer
//! quoted when it is not JSON, audit lines. It removes presigned-URL query strings (and any word
//! carrying `X-Amz-Signature=` / `X-Amz-Credential=` / `X-Amz-Security-Token=`), AWS access key
//! ids (`AKIA…`, `ASIA…`), the value of `name=value` pairs whose name looks secret
//! (`token=`, `password=`, `Signature=`, `Credential=`), and the value of `"name": "value"`
//! JSON members whose name does.

use super::{REDACTED, secret_name};

/// Characters that end a word or a value in running text.
fn delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`')
}

/// Characters that end a `name=value` value.
fn value_end(b: u8) -> bool {
    delimiter(b) || matches!(b, b'&' | b',' | b';' | b')' | b']' | b'}')
}

/// Replaces secrets in `text` (see the module header).
pub fn redact_text(text: &str) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    presigned_queries(text, &mut spans);
    key_ids(text, &mut spans);
    secret_pairs(text, &mut spans);
    json_members(text, &mut spans);
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Words carrying presigned-URL parameters: from the `?` on (or the whole word without one).
fn presigned_queries(text: &str, spans: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if delimiter(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !delimiter(bytes[i]) {
            i += 1;
        }
        let word = text[start..i].to_ascii_lowercase();
        if [
            "x-amz-signature=",
            "x-amz-credential=",
            "x-amz-security-token=",
        ]
        .iter()
        .any(|m| word.contains(m))
        {
            let from = word.find('?').map_or(start, |q| start + q + 1);
            spans.push((from, i));
        }
    }
}

/// `AKIA` / `ASIA` followed by 16 upper-case letters or digits, as a whole word.
fn key_ids(text: &str, spans: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let id_char = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let mut i = 0;
    while i + 20 <= bytes.len() {
        let prefix = &bytes[i..i + 4];
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if before_ok
            && (prefix == b"AKIA" || prefix == b"ASIA")
            && bytes[i + 4..i + 20].iter().all(|b| id_char(*b))
            && bytes.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric())
        {
            spans.push((i, i + 20));
            i += 20;
        } else {
            i += 1;
        }
    }
}

/// `name=value` where the name looks secret: the value goes.
fn secret_pairs(text: &str, spans: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    for (eq, _) in text.match_indices('=') {
        let mut start = eq;
        while start > 0
            && matches!(bytes[start - 1], b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.')
        {
            start -= 1;
        }
        let name = &text[start..eq];
        if !secret_name(name) && !secret_word_in_pair(name) {
            continue;
        }
        let mut end = eq + 1;
        while end < bytes.len() && !value_end(bytes[end]) {
            end += 1;
        }
        if end > eq + 1 {
            spans.push((eq + 1, end));
        }
    }
}

/// Pair names that [`secret_name`] lets go as references but that carry secrets in a query
/// string or header (`Signature=`, `X-Amz-Credential=`).
fn secret_word_in_pair(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("signature") || n.ends_with("credential")
}

/// `"name": "value"` where the name looks secret: the string value goes.
fn json_members(text: &str, spans: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(q) = text[i..].find('"').map(|q| q + i) {
        let Some(close) = text[q + 1..].find('"').map(|c| c + q + 1) else {
            break;
        };
        let name = &text[q + 1..close];
        let mut j = close + 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b':' && secret_name(name) {
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'"' {
                let mut k = j + 1;
                while k < bytes.len() && bytes[k] != b'"' {
                    k += if bytes[k] == b'\\' { 2 } else { 1 };
                }
                let end = k.min(bytes.len());
                if end > j + 1 {
                    spans.push((j + 1, end));
                }
                i = (end + 1).min(bytes.len());
                continue;
            }
        }
        i = close + 1;
    }
}
