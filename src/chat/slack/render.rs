//! Block Kit rendering within Slack's limits.
//!
//! An answer (Slack mrkdwn) becomes one message of section blocks when it fits, several
//! messages when it is a little long, and a short message plus a file when it is longer.
//! Limits (Slack docs): 3,000 characters per section text, 50 blocks per message, about 13k
//! characters of blocks per message in practice (`msg_blocks_too_long`), 40,000 characters of
//! `text`. Code fences split across sections are closed and reopened so each part renders.

use crate::chat::{OutFile, OutMessage};
use serde_json::json;

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

/// How an answer will be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Messages to post, in order.
    pub messages: Vec<OutMessage>,
    /// A file to upload after them, for long answers.
    pub file: Option<OutFile>,
}

/// Renders `answer` (mrkdwn) into messages or a file.
pub fn plan(answer: &str) -> Plan {
    let answer = if answer.trim().is_empty() {
        "(empty answer)"
    } else {
        answer
    };
    let sections = split_sections(answer, SECTION_MAX);
    let mut messages: Vec<Vec<String>> = vec![Vec::new()];
    let mut used = 0;
    for s in sections {
        let current = messages.last_mut().expect("non-empty");
        if !current.is_empty()
            && (used + s.chars().count() > MESSAGE_BUDGET || current.len() >= BLOCKS_MAX)
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
            file: None,
        };
    }
    let preview: String = split_sections(answer, 1500)
        .into_iter()
        .next()
        .unwrap_or_default();
    let total = answer.chars().count();
    Plan {
        messages: Vec::new(),
        file: Some(OutFile {
            filename: "answer.md".into(),
            title: "opsbot answer".into(),
            content: answer.to_string(),
            comment: format!(
                "{preview}\n\n_The full answer ({total} characters) is in the attached file._"
            ),
        }),
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

/// A plain one-section message, for short notices.
pub fn notice(text: &str) -> OutMessage {
    message(&split_sections(text, SECTION_MAX))
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
mod tests {
    use super::*;

    fn block_chars(m: &OutMessage) -> usize {
        m.blocks
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap().chars().count())
            .sum()
    }

    fn check_limits(p: &Plan) {
        for m in &p.messages {
            assert!(m.blocks.len() <= BLOCKS_MAX);
            assert!(m.text.chars().count() <= FALLBACK_MAX);
            assert!(block_chars(m) <= 13_000);
            for b in &m.blocks {
                assert!(b["text"]["text"].as_str().unwrap().chars().count() <= SECTION_MAX);
            }
        }
    }

    #[test]
    fn short_answer_is_one_block() {
        let p = plan("*3 instances* in `prod`");
        assert_eq!(p.messages.len(), 1);
        assert_eq!(p.messages[0].blocks.len(), 1);
        assert!(p.file.is_none());
    }

    #[test]
    fn sizes_move_from_blocks_to_parts_to_file() {
        let line = "i-0123456789abcdef0  running  t3.micro  eu-west-1a  web-server\n";
        for (lines, parts, file) in [
            (10, 1, false),
            (150, 1, false),
            (400, 3, false),
            (2000, 0, true),
        ] {
            let text = line.repeat(lines);
            let p = plan(&text);
            check_limits(&p);
            assert_eq!(p.messages.len(), parts, "{lines} lines");
            assert_eq!(p.file.is_some(), file, "{lines} lines");
            if let Some(f) = &p.file {
                assert_eq!(f.content, text);
                assert!(f.comment.chars().count() < 3000);
            } else {
                let joined: String = p
                    .messages
                    .iter()
                    .flat_map(|m| &m.blocks)
                    .map(|b| b["text"]["text"].as_str().unwrap().to_string() + "\n")
                    .collect();
                assert_eq!(
                    joined.replace('\n', ""),
                    text.replace('\n', ""),
                    "nothing lost"
                );
            }
        }
    }

    #[test]
    fn long_line_without_breaks_is_cut_and_nothing_lost() {
        let text = "x".repeat(7000);
        let parts = split_sections(&text, SECTION_MAX);
        assert!(parts.iter().all(|p| p.chars().count() <= SECTION_MAX));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn code_fences_stay_balanced() {
        let text = format!(
            "Result:\n```\n{}```\ndone",
            "row of a table that is long enough\n".repeat(200)
        );
        for part in split_sections(&text, SECTION_MAX) {
            assert!(part.chars().count() <= SECTION_MAX);
            assert_eq!(part.matches("```").count() % 2, 0, "unbalanced: {part}");
        }
    }

    #[test]
    fn multibyte_text_is_split_on_char_boundaries() {
        let text = "é".repeat(5000) + "\n" + &"日本".repeat(3000);
        let parts = split_sections(&text, SECTION_MAX);
        assert!(parts.iter().all(|p| p.chars().count() <= SECTION_MAX));
        assert_eq!(parts.concat().replace('\n', ""), text.replace('\n', ""));
    }

    #[test]
    fn empty_answer_still_says_something() {
        assert_eq!(plan("  ").messages[0].text, "(empty answer)");
    }
}
