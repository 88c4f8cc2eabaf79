//! The inventory post as an [`Answer`]: a compact summary (items per account × kind with the
//! change since the previous run, e.g. `12 (+2)`), the notable changes, the full inventory as a
//! CSV attachment (with a `change` column, removed items included), per-account notes for what
//! could not be read, and a footer with the run time.

use super::collect::Collected;
use super::diff::{self, Change};
use super::kinds::Kind;
use crate::core::answer::{AccountNote, Answer, Attachment, FileKind, Footer, NoteKind, Table};
use crate::store::runs::{Item, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// Most changes listed in the post (all of them are in the CSV).
pub const CHANGES_SHOWN: usize = 30;

fn name<'a>(names: &'a BTreeMap<String, String>, account: &'a str) -> &'a str {
    names.get(account).map_or(account, String::as_str)
}

fn label(i: &Item) -> String {
    if i.name.is_empty() || i.name == i.id {
        format!("`{}`", i.id)
    } else {
        format!("`{}` ({})", i.id, i.name)
    }
}

/// The post for `collected`, compared with `prev` (the previous run, if any).
pub fn answer(
    title: &str,
    collected: &Collected,
    prev: Option<&Snapshot>,
    kinds: &[Kind],
) -> Answer {
    let cur = &collected.snapshot;
    let names = &collected.names;
    let kind_label = |k: &str| {
        kinds
            .iter()
            .find(|x| x.name == k)
            .map_or(k.to_string(), |x| x.label.clone())
    };
    let mut text = format!("**{title}**");
    match prev {
        Some(p) => text.push_str(&format!(
            "\nCompared with the previous run ({}).",
            when(p.run)
        )),
        None => text.push_str("\nFirst run: nothing to compare with yet."),
    }
    let mut answer = Answer::text(text);

    // Summary: accounts × kinds.
    let counts = diff::counts(prev, cur);
    let failed: BTreeSet<(String, String)> = cur
        .failed
        .iter()
        .map(|f| (f.account.clone(), f.kind.clone()))
        .collect();
    let accounts: BTreeSet<&String> = names.keys().collect();
    let mut rows = Vec::new();
    for account in accounts {
        let mut row = vec![name(names, account).to_string()];
        for k in kinds {
            let key = (account.clone(), k.name.clone());
            let (n, delta) = counts.get(&key).copied().unwrap_or((0, prev.map(|_| 0)));
            let mut cell = n.to_string();
            match delta {
                Some(d) if d > 0 => cell.push_str(&format!(" (+{d})")),
                Some(d) if d < 0 => cell.push_str(&format!(" ({d})")),
                _ => {}
            }
            if failed.contains(&key) {
                cell = if n > 0 {
                    format!("{n}, partly failed")
                } else {
                    "failed".into()
                };
            }
            row.push(cell);
        }
        rows.push(row);
    }
    let mut columns = vec!["account".to_string()];
    columns.extend(kinds.iter().map(|k| k.label.clone()));
    answer = answer.table(Table {
        caption: Some("Inventory".into()),
        columns,
        rows,
    });

    // Notable changes.
    let changes = prev.map(|p| diff::diff(p, cur)).unwrap_or_default();
    if prev.is_some() {
        if changes.is_empty() {
            answer = answer.paragraph("**Changes:** none.");
        } else {
            let mut lines = vec![format!("**Changes** ({}):", changes.len())];
            for c in changes.iter().take(CHANGES_SHOWN) {
                let i = c.item();
                let at = format!(
                    "{} {} in {}",
                    name(names, &i.account),
                    kind_label(&i.kind),
                    i.region
                );
                lines.push(match c {
                    Change::Added(_) => format!("- added: {at}: {}", label(i)),
                    Change::Removed(_) => format!("- removed: {at}: {}", label(i)),
                    Change::Changed(_, fields) => format!(
                        "- changed: {at}: {}: {}",
                        label(i),
                        fields
                            .iter()
                            .map(|(f, a, b)| format!("{f} {} → {}", or_none(a), or_none(b)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            if changes.len() > CHANGES_SHOWN {
                lines.push(format!(
                    "_{} more in the CSV._",
                    changes.len() - CHANGES_SHOWN
                ));
            }
            answer = answer.paragraph(lines.join("\n"));
        }
    }

    // Notes, attachment, footer.
    for f in &cur.failed {
        answer.notes.push(AccountNote {
            account: format!("{} ({})", name(names, &f.account), f.account),
            kind: NoteKind::Failed,
            text: format!("{} in {}: {}", kind_label(&f.kind), f.region, f.error),
        });
    }
    for r in &collected.refused {
        answer.notes.push(AccountNote {
            account: r.what.clone(),
            kind: NoteKind::Refused,
            text: r.why.clone(),
        });
    }
    answer.attachments.push(Attachment {
        filename: "inventory.csv".into(),
        title: format!("{title}: full inventory"),
        kind: FileKind::Csv,
        content: csv(cur, &changes, names, &kind_label).to_csv(),
    });
    let regions: BTreeSet<String> = cur.items.iter().map(|i| i.region.clone()).collect();
    answer.footer = Some(Footer {
        accounts: names.values().cloned().collect(),
        regions: regions.into_iter().collect(),
        elapsed_ms: Some(collected.elapsed.as_millis() as u64),
    });
    answer
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

/// `YYYY-MM-DD HH:MM UTC` for a run time.
pub fn when(run: i64) -> String {
    chrono::DateTime::from_timestamp(run, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| run.to_string())
}

fn csv(
    cur: &Snapshot,
    changes: &[Change],
    names: &BTreeMap<String, String>,
    kind_label: &dyn Fn(&str) -> String,
) -> Table {
    let change_of = |i: &Item| {
        changes
            .iter()
            .find_map(|c| match c {
                Change::Added(x) if x == i => Some("added"),
                Change::Changed(x, _) if x == i => Some("changed"),
                _ => None,
            })
            .unwrap_or("")
    };
    let row = |i: &Item, change: &str| {
        vec![
            kind_label(&i.kind),
            name(names, &i.account).to_string(),
            i.account.clone(),
            i.region.clone(),
            i.id.clone(),
            i.name.clone(),
            i.state.clone(),
            i.size.clone(),
            i.tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
            change.to_string(),
        ]
    };
    let mut rows: Vec<Vec<String>> = cur.items.iter().map(|i| row(i, change_of(i))).collect();
    rows.extend(changes.iter().filter_map(|c| match c {
        Change::Removed(i) => Some(row(i, "removed")),
        _ => None,
    }));
    Table {
        caption: None,
        columns: [
            "kind",
            "account",
            "account_id",
            "region",
            "id",
            "name",
            "state",
            "type",
            "tags",
            "change",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}
