use super::markdown::code_line;
use super::table::unique_name;
use super::*;
use crate::core::answer::{Attachment, Footer, Table};

fn is_card(v: &Value) -> bool {
    v["attachments"][0]["contentType"] == CARD_TYPE
}

/// The body elements of each card activity, checking the card's envelope and size.
fn bodies(out: &[Value]) -> Vec<Vec<Value>> {
    out.iter()
        .filter(|v| is_card(v))
        .map(|v| {
            let size = serde_json::to_string(v).unwrap().len();
            assert!(size <= CARD_MAX, "card of {size} bytes");
            assert_eq!(v["type"], "message");
            let card = &v["attachments"][0]["content"];
            assert_eq!(card["type"], "AdaptiveCard");
            assert_eq!(card["version"], "1.5");
            assert_eq!(card["msteams"]["width"], "Full");
            card["body"].as_array().unwrap().clone()
        })
        .collect()
}

/// The text activities (files and notices), checking their size.
fn texts(out: &[Value]) -> Vec<(String, String)> {
    out.iter()
        .filter(|v| !is_card(v))
        .map(|v| {
            let text = v["text"].as_str().unwrap().to_string();
            assert!(
                utf16_len(&text) <= TEXT_MAX_UTF16,
                "{} units",
                utf16_len(&text)
            );
            (v["textFormat"].as_str().unwrap().to_string(), text)
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The unescaped `<pre>` content of a file part.
fn pre(text: &str) -> String {
    let start = text.find("<pre>").unwrap() + 5;
    unescape(&text[start..text.rfind("</pre>").unwrap()])
}

fn table(caption: Option<&str>, rows: usize) -> Table {
    Table {
        caption: caption.map(String::from),
        columns: vec!["id".into(), "state".into(), "name".into()],
        rows: (0..rows)
            .map(|i| vec![format!("i-{i:05}"), "running".into(), format!("web&{i}")])
            .collect(),
    }
}

#[test]
fn paragraph_with_bold_list_and_link_stays_text() {
    let md = "Found **3** instances:\n- web\n* db\n\nSee [the console](https://example.com) \
              for _more_.\n1. one\n2) two";
    let b = bodies(&render(&Answer::text(md)));
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0][0],
        json!({"type": "TextBlock", "wrap": true, "text": "Found **3** instances:\n\n- web\n- db\
            \n\nSee [the console](https://example.com) for _more_.\n\n1. one\n2. two"})
    );
}

#[test]
fn fenced_code_becomes_monospace_in_an_emphasis_container() {
    let md = "Run this:\n```sh\naws s3 ls\n\n  --recursive my_bucket_name\n# all\n```\ndone";
    let b = &bodies(&render(&Answer::text(md)))[0];
    assert_eq!(b.len(), 3);
    assert_eq!(b[0]["text"], "Run this:");
    assert_eq!(b[1]["type"], "Container");
    assert_eq!(b[1]["style"], "emphasis");
    let code = &b[1]["items"][0];
    assert_eq!(code["fontType"], "Monospace");
    assert_eq!(
        code["text"],
        "aws s3 ls\n\n\u{a0}\n\n\u{a0}\u{a0}--recursive my\\_bucket\\_name\n\n\\# all"
    );
    assert_eq!(b[2]["text"], "done");
}

#[test]
fn code_spans_lose_backticks_and_headings_are_bold() {
    let md = "## Summary ##\nUse `my_fn_name` or `a*b*c`, not `this";
    let b = &bodies(&render(&Answer::text(md)))[0];
    assert_eq!(b[0]["text"], "Summary");
    assert_eq!(b[0]["weight"], "Bolder");
    assert_eq!(b[1]["text"], "Use my\\_fn\\_name or a\\*b\\*c, not `this");
    assert_eq!(inline("`- x` y"), "\\- x y");
    assert_eq!(inline("a `1. b`"), "a 1. b");
}

#[test]
fn table_becomes_a_table_element_with_a_header_row() {
    let out = render(&Answer::default().table(table(Some("EC2 instances"), 2)));
    let b = &bodies(&out)[0];
    assert_eq!(b[0]["text"], "EC2 instances");
    assert_eq!(b[0]["weight"], "Bolder");
    let t = &b[1];
    assert_eq!(t["type"], "Table");
    assert_eq!(t["gridStyle"], "accent");
    assert_eq!(t["firstRowAsHeaders"], true);
    assert_eq!(t["showGridLines"], true);
    assert_eq!(
        t["columns"],
        json!([{"width": 1}, {"width": 1}, {"width": 1}])
    );
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let cell = |r: usize, c: usize| &rows[r]["cells"][c]["items"][0];
    assert_eq!(rows[0]["type"], "TableRow");
    assert_eq!(rows[0]["cells"][0]["type"], "TableCell");
    assert_eq!(cell(0, 0)["text"], "id");
    assert_eq!(cell(0, 0)["weight"], "Bolder");
    assert_eq!(cell(2, 0)["text"], "i-00001");
    assert_eq!(cell(2, 2)["text"], "web&1");
    assert!(cell(2, 0).get("weight").is_none());
    assert_eq!(texts(&out), vec![], "a table that fits has no file");
}

#[test]
fn cells_do_not_turn_into_markdown() {
    let cases = [
        ("- not a list", "\\- not a list"),
        ("* star", "\\* star"),
        ("1. first", "1\\. first"),
        ("2) second", "2\\) second"),
        ("# tag", "\\# tag"),
        ("> quote", "\\> quote"),
        ("---", "\\---"),
        ("a_b_c", "a\\_b\\_c"),
        ("2*3*4", "2\\*3\\*4"),
        ("[x](https://e.com)", "\\[x\\](https://e.com)"),
        ("C:\\*", "C:\\\\*"),
        ("-5", "-5"),
        ("snake_case", "snake_case"),
        ("3 * 4", "3 * 4"),
        ("10.0.0.1", "10.0.0.1"),
        ("[prod]", "[prod]"),
        ("two\n- lines", "two\n\n\\- lines"),
    ];
    for (raw, want) in cases {
        let t = Table {
            caption: None,
            columns: vec!["c".into()],
            rows: vec![vec![raw.into()]],
        };
        let b = &bodies(&render(&Answer::default().table(t)))[0];
        assert_eq!(
            b[0]["rows"][1]["cells"][0]["items"][0]["text"], want,
            "{raw:?}"
        );
    }
}

#[test]
fn notes_and_footer_follow_the_body_with_colours() {
    let mut a = Answer::text("Done.");
    a.notes = vec![
        AccountNote {
            account: "production (111111111111)".into(),
            kind: NoteKind::Failed,
            text: "AccessDenied on `sts:AssumeRole`".into(),
        },
        AccountNote {
            account: "audit (222222222222)".into(),
            kind: NoteKind::Refused,
            text: "not for this channel".into(),
        },
        AccountNote {
            account: "staging (333333333333)".into(),
            kind: NoteKind::Partial,
            text: "eu-west-1 timed out".into(),
        },
    ];
    a.footer = Some(Footer {
        accounts: vec!["production".into(), "staging".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        elapsed_ms: Some(2345),
    });
    let b = &bodies(&render(&a))[0];
    assert_eq!(b.len(), 5);
    assert_eq!(
        b[1]["text"],
        "**production (111111111111)** — failed: AccessDenied on sts:AssumeRole"
    );
    assert_eq!(b[1]["color"], "Attention");
    assert_eq!(b[1]["separator"], true);
    assert_eq!(
        b[2]["text"],
        "**audit (222222222222)** — refused: not for this channel"
    );
    assert_eq!(b[2]["color"], "Warning");
    assert_eq!(b[3]["color"], "Warning");
    assert_eq!(
        b[4],
        json!({"type": "TextBlock", "text": "production, staging · us-east-1, eu-west-1 · 2.3 s",
            "size": "Small", "isSubtle": true, "wrap": true})
    );
}

#[test]
fn an_empty_answer_still_gives_one_card() {
    let b = bodies(&render(&Answer::default()));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0], vec![text_block("(no answer)".into())]);
    let a = Answer {
        footer: Some(Footer {
            elapsed_ms: Some(40),
            ..Footer::default()
        }),
        ..Answer::text(" \n\n")
    };
    let b = bodies(&render(&a));
    assert_eq!(b[0].len(), 2);
    assert_eq!(b[0][0]["text"], "(no answer)");
    assert_eq!(b[0][1]["text"], "40 ms");
}

#[test]
fn a_2000_row_table_shows_what_fits_and_follows_as_csv() {
    let t = table(Some("EC2 instances in production (111111111111)"), 2000);
    let out = render(&Answer::text("Here they are.").table(t.clone()));
    let b = bodies(&out);
    assert_eq!(b.len(), 2, "the table starts a card of its own");
    let shown = b[1][1]["rows"].as_array().unwrap().len() - 1;
    assert!(shown > 50 && shown < 2000, "{shown}");
    let size = serde_json::to_string(&out[1]).unwrap().len();
    assert!(size > CARD_MAX - 400, "as many rows as fit: {size} bytes");
    assert_eq!(
        b[1][2]["text"],
        format!(
            "Showing the first {shown} of 2000 rows; the full table follows as CSV \
             (ec2-instances-in-production-111111111111.csv)."
        )
    );
    let files = texts(&out);
    assert!(
        files.len() > 1 && files.len() <= MAX_CSV_PARTS,
        "{}",
        files.len()
    );
    let n = files.len();
    for (i, (format, text)) in files.iter().enumerate() {
        assert_eq!(format, "xml");
        let head = format!(
            "<b>ec2-instances-in-production-111111111111.csv</b> (part {} of {n})<pre>",
            i + 1
        );
        assert!(text.starts_with(&head), "{}", &text[..80]);
        assert!(text.ends_with("\r\n</pre>"), "split on lines");
    }
    let csv: String = files.iter().map(|(_, t)| pre(t)).collect();
    assert_eq!(csv, t.to_csv());
}

#[test]
fn a_cut_table_already_attached_is_not_sent_twice() {
    let t = table(None, 2000);
    let mut a = Answer::default().table(t.clone());
    a.attachments.push(Attachment {
        filename: "all.csv".into(),
        title: "All".into(),
        kind: FileKind::Csv,
        content: t.to_csv(),
    });
    let out = render(&a);
    let note = bodies(&out)[0].last().unwrap()["text"].clone();
    assert!(
        note.as_str()
            .unwrap()
            .ends_with("follows as CSV (all.csv)."),
        "{note}"
    );
    assert!(
        texts(&out)
            .iter()
            .all(|(_, t)| t.starts_with("<b>all.csv</b>"))
    );
}

#[test]
fn a_table_too_wide_for_a_card_follows_as_csv() {
    let t = Table {
        caption: None,
        columns: (0..400).map(|i| format!("column number {i}")).collect(),
        rows: vec![vec!["x".into(); 400]],
    };
    let out = render(&Answer::default().table(t.clone()).table(table(None, 1)));
    let b = bodies(&out);
    assert_eq!(
        b[0][0]["text"],
        "This table has 400 columns, too wide for a card; it follows as CSV (table.csv)."
    );
    assert_eq!(b[0][1]["type"], "Table", "the next table still shows");
    let files = texts(&out);
    assert_eq!(pre(&files[0].1), t.to_csv());
    assert_eq!(
        unique_name(None, &mut vec!["table.csv".into()]),
        "table-2.csv"
    );
}

#[test]
fn a_huge_file_is_cut_at_max_parts_with_a_notice() {
    let content: String = std::iter::once("id,name\r\n".to_string())
        .chain((0..20_000).map(|i| format!("i-{i:08},server number {i}\r\n")))
        .collect();
    let mut a = Answer::text("ok");
    a.attachments.push(Attachment {
        filename: "ec2.csv".into(),
        title: "EC2".into(),
        kind: FileKind::Csv,
        content: content.clone(),
    });
    let files = texts(&render(&a));
    assert_eq!(files.len(), MAX_CSV_PARTS + 1);
    let shown: String = files[..MAX_CSV_PARTS].iter().map(|(_, t)| pre(t)).collect();
    assert!(content.starts_with(&shown));
    assert!(files[0].1.contains("(part 1 of "));
    let rows = shown.matches('\n').count() - 1;
    let (format, notice) = &files[MAX_CSV_PARTS];
    assert_eq!(format, "plain");
    assert!(
        notice.starts_with(&format!(
            "ec2.csv is too long to show in Teams (20000 rows); the first {rows} rows are above."
        )),
        "{notice}"
    );
    assert!(notice.contains("Narrow the question") && notice.contains("--json"));
}

#[test]
fn utf16_counts_surrogate_pairs_and_parts_stay_under_the_limit() {
    assert_eq!(utf16_len("abc"), 3);
    assert_eq!(utf16_len("é日本"), 3);
    assert_eq!(utf16_len("😀"), 2);
    assert_eq!(utf16_len("👩‍💻"), 5);
    // One line far over a part, of 4-byte and 3-byte characters: cut on characters.
    let content = format!("{}\n{}\n", "😀日".repeat(9_000), "本".repeat(30));
    let a = Answer {
        attachments: vec![Attachment {
            filename: "notes.md".into(),
            title: "Notes".into(),
            kind: FileKind::Markdown,
            content: content.clone(),
        }],
        ..Answer::text("ok")
    };
    let files = texts(&render(&a));
    assert_eq!(files.len(), 2);
    let joined: String = files.iter().map(|(_, t)| pre(t)).collect();
    assert_eq!(joined, content);
}

#[test]
fn files_are_html_escaped() {
    let a = Answer {
        attachments: vec![Attachment {
            filename: "a&b.md".into(),
            title: "t".into(),
            kind: FileKind::Markdown,
            content: "x < y && \"z\" > 0\n".into(),
        }],
        ..Answer::default()
    };
    let files = texts(&render(&a));
    assert_eq!(
        files,
        vec![(
            "xml".to_string(),
            "<b>a&amp;b.md</b><pre>x &lt; y &amp;&amp; &quot;z&quot; &gt; 0\n</pre>".to_string()
        )]
    );
}

#[test]
fn long_paragraphs_split_across_cards_on_lines_then_characters() {
    let lines: Vec<String> = (0..3000)
        .map(|i| format!("line {i} of the answer"))
        .collect();
    let b = bodies(&render(&Answer::text(lines.join("\n"))));
    assert!(b.len() > 2);
    let all: Vec<String> = b
        .iter()
        .flatten()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.join("\n\n"), lines.join("\n\n"));
    // One line bigger than a card, with characters JSON escapes and multi-byte ones.
    let line = "é😀\"\\ ".repeat(6000);
    let b = bodies(&render(&Answer::text(format!("```\n{line}\n```"))));
    assert!(b.len() > 1);
    let all: String = b
        .iter()
        .flatten()
        .map(|e| e["items"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(all, code_line(&line));
}

#[test]
fn many_tables_fill_continuation_cards_with_captions_kept_with_tables() {
    let mut a = Answer::default();
    for i in 0..30 {
        a = a.table(table(Some(&format!("Table {i}")), 40));
    }
    let b = bodies(&render(&a));
    assert!(b.len() > 3);
    let mut seen = 0;
    for body in &b {
        assert_eq!(body.len() % 2, 0);
        for pair in body.chunks(2) {
            assert_eq!(pair[0]["text"], format!("Table {seen}"));
            assert_eq!(pair[1]["rows"].as_array().unwrap().len(), 41);
            seen += 1;
        }
    }
    assert_eq!(seen, 30);
}

#[test]
fn json_len_matches_serde() {
    let s = "a\"b\\c\nd\te\u{1}f\u{7f}é😀\u{8}\u{c}\r";
    assert_eq!(json_len(s), serde_json::to_string(s).unwrap().len() - 2);
}

#[test]
fn status_is_a_small_card_and_notice_is_plain_text() {
    let s = status("Querying production_eu_1…");
    let b = bodies(std::slice::from_ref(&s));
    assert_eq!(
        b[0],
        vec![text_block("Querying production\\_eu\\_1…".into())]
    );
    assert_eq!(
        notice("I've sent you the details in a chat with me."),
        json!({"type": "message", "textFormat": "plain",
            "text": "I've sent you the details in a chat with me."})
    );
}
