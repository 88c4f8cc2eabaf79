use super::*;
use crate::core::answer::{AccountNote, Attachment, FileKind, Footer};

fn block_chars(m: &OutMessage) -> usize {
    m.blocks
        .iter()
        .map(|b| {
            b["text"]["text"]
                .as_str()
                .or(b["elements"][0]["text"].as_str())
                .unwrap()
                .chars()
                .count()
        })
        .sum()
}

fn check_limits(p: &Plan) {
    for m in &p.messages {
        assert!(m.blocks.len() <= BLOCKS_MAX);
        assert!(m.text.chars().count() <= FALLBACK_MAX);
        assert!(block_chars(m) <= 13_000);
        for b in &m.blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= SECTION_MAX);
            }
        }
    }
}

fn texts(p: &Plan) -> String {
    p.messages
        .iter()
        .flat_map(|m| &m.blocks)
        .filter_map(|b| b["text"]["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn short_answer_is_one_block() {
    let p = plan(&Answer::text("**3 instances** in `prod`"));
    assert_eq!(p.messages.len(), 1);
    assert_eq!(p.messages[0].blocks.len(), 1);
    assert_eq!(p.messages[0].text, "*3 instances* in `prod`");
    assert!(p.files.is_empty());
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
        let p = plan_text(&text);
        check_limits(&p);
        assert_eq!(p.messages.len(), parts, "{lines} lines");
        assert_eq!(!p.files.is_empty(), file, "{lines} lines");
        if let Some(f) = p.files.first() {
            assert_eq!(f.content, text);
            assert!(f.comment.as_ref().unwrap().chars().count() < 3000);
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
    assert_eq!(plan(&Answer::default()).messages[0].text, "(empty answer)");
}

#[test]
fn markdown_becomes_mrkdwn() {
    let cases = [
        ("**bold** and _it_", "*bold* and _it_"),
        ("*it* and 2 * 3", "_it_ and 2 * 3"),
        ("~~gone~~ here", "~gone~ here"),
        ("- one\n  - two", "• one\n  • two"),
        ("## Title", "*Title*"),
        (
            "see [the docs](https://aws.amazon.com/ec2/)",
            "see <https://aws.amazon.com/ec2/|the docs>",
        ),
        ("[not a link](javascript:x)", "[not a link](javascript:x)"),
        (
            "hxxps://evil[.]example and [console](https://console.aws.amazon.com/)",
            "hxxps://evil[.]example and <https://console.aws.amazon.com/|console>",
        ),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<@U123> <!channel>", "&lt;@U123&gt; &lt;!channel&gt;"),
        ("`**raw** <x>`", "`**raw** &lt;x&gt;`"),
        ("```\n**raw**\n- x\n```", "```\n**raw**\n- x\n```"),
    ];
    for (md, want) in cases {
        assert_eq!(mrkdwn(md), want, "{md}");
    }
}

fn table(rows: usize) -> Table {
    Table {
        caption: Some("EC2 instances in production".into()),
        columns: vec!["id".into(), "state".into()],
        rows: (0..rows)
            .map(|i| vec![format!("i-{i:04}"), "running".into()])
            .collect(),
    }
}

#[test]
fn small_tables_are_aligned_inline() {
    let p = plan(&Answer::default().table(table(3)));
    let t = texts(&p);
    assert!(t.contains("*EC2 instances in production*"), "{t}");
    assert!(t.contains("```\nid      state\ni-0000  running\n"), "{t}");
    assert!(p.files.is_empty());
}

#[test]
fn long_tables_are_cut_and_attached_whole_as_csv() {
    let p = plan(&Answer::default().table(table(100)));
    check_limits(&p);
    let t = texts(&p);
    assert!(t.contains("Showing 30 of 100 rows"), "{t}");
    assert!(!t.contains("i-0030"), "{t}");
    assert_eq!(p.files.len(), 1);
    let f = &p.files[0];
    assert_eq!(f.filename, "ec2-instances-in-production.csv");
    assert_eq!(f.mime, "text/csv");
    assert_eq!(f.content.lines().count(), 101, "header plus every row");
}

#[test]
fn notes_footer_and_attachments_are_rendered() {
    let mut a = Answer::text("Buckets:");
    a.notes.push(AccountNote {
        account: "staging (222222222222)".into(),
        kind: NoteKind::Failed,
        text: "AccessDenied: the role's trust policy does not allow opsbot".into(),
    });
    a.footer = Some(Footer {
        accounts: vec!["production".into(), "staging".into()],
        regions: vec!["us-east-1".into()],
        elapsed_ms: Some(2300),
    });
    a.attachments.push(Attachment {
        filename: "buckets.csv".into(),
        title: "S3 buckets".into(),
        kind: FileKind::Csv,
        content: "name\r\nb1\r\n".into(),
    });
    let p = plan(&a);
    let t = texts(&p);
    assert!(
        t.contains(":x: *staging (222222222222)*: failed — AccessDenied"),
        "{t}"
    );
    let last = p.messages[0].blocks.last().unwrap();
    assert_eq!(last["type"], "context");
    assert_eq!(
        last["elements"][0]["text"],
        "accounts: production, staging · regions: us-east-1 · 2.3 s"
    );
    assert_eq!(p.files[0].filename, "buckets.csv");
}
