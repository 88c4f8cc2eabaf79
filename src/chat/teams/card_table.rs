//! [`Table`] → an Adaptive Card `Table` for [`super`], cut to what fits a card.

use super::markdown::{escape_md, plain_lines};
use super::{CELL_MAX, Cards, LINE_MAX, Style, element, json_size, text_block, truncate};
use crate::core::answer::{Answer, Table};
use serde_json::{Value, json};

fn table_row(cells: &[String], width: usize, header: bool) -> Value {
    let cells: Vec<Value> = (0..width)
        .map(|i| {
            let text = plain_lines(&truncate(cells.get(i).map_or("", String::as_str), CELL_MAX));
            let mut tb = text_block(text);
            if header {
                tb["weight"] = "Bolder".into();
            }
            json!({"type": "TableCell", "items": [tb]})
        })
        .collect();
    json!({"type": "TableRow", "cells": cells})
}

fn table_element(width: usize, rows: Vec<Value>) -> Value {
    json!({"type": "Table", "gridStyle": "accent", "firstRowAsHeaders": true,
        "showGridLines": true, "columns": vec![json!({"width": 1}); width], "rows": rows})
}

/// A table: whole in one card when it fits one, else the rows that fit, a note, and the
/// table's CSV added to `csvs` (unless an attachment already holds that CSV).
pub(super) fn table(
    cards: &mut Cards,
    t: &Table,
    answer: &Answer,
    names: &mut Vec<String>,
    csvs: &mut Vec<(String, String)>,
) {
    let caption = t.caption.as_deref().map(|c| {
        element(
            Style::Heading,
            escape_md(&truncate(c.trim(), LINE_MAX), true),
        )
    });
    let cap_size = caption.as_ref().map_or(0, |c| json_size(c) + 1);
    let width = t
        .rows
        .iter()
        .map(Vec::len)
        .fold(t.columns.len(), usize::max);
    if width == 0 {
        cards.extend_together(
            caption
                .into_iter()
                .chain([text_block("(empty table)".into())]),
        );
        return;
    }
    let header = table_row(&t.columns, width, true);
    let base = json_size(&table_element(width, vec![header.clone()]));
    let rows: Vec<Value> = t.rows.iter().map(|r| table_row(r, width, false)).collect();
    let sizes: Vec<usize> = rows.iter().map(|r| json_size(r) + 1).collect();
    if cap_size + base + sizes.iter().sum::<usize>() <= cards.fresh() {
        let mut all = vec![header];
        all.extend(rows);
        let mut els: Vec<Value> = caption.into_iter().collect();
        els.push(table_element(width, all));
        if t.rows.is_empty() {
            els.push(text_block("_(no rows)_".into()));
        }
        cards.extend_together(els);
        return;
    }
    let csv = t.to_csv();
    let name = match answer.attachments.iter().find(|a| a.content == csv) {
        Some(a) => a.filename.clone(),
        None => {
            let name = unique_name(t.caption.as_deref(), names);
            csvs.push((name.clone(), csv));
            name
        }
    };
    let total = t.rows.len();
    let cut_note = |n: usize| {
        text_block(format!(
            "Showing the first {n} of {total} rows; the full table follows as CSV ({}).",
            escape_md(&name, false)
        ))
    };
    let avail = cards
        .fresh()
        .saturating_sub(cap_size + json_size(&cut_note(total)) + 1);
    let mut els: Vec<Value> = caption.into_iter().collect();
    if base > avail {
        els.push(text_block(format!(
            "This table has {width} columns, too wide for a card; it follows as CSV ({}).",
            escape_md(&name, false)
        )));
    } else {
        let (mut used, mut shown) = (base, 0);
        for size in &sizes {
            if used + size > avail {
                break;
            }
            used += size;
            shown += 1;
        }
        let mut all = vec![header];
        all.extend(rows.into_iter().take(shown));
        els.push(table_element(width, all));
        els.push(cut_note(shown));
    }
    cards.next();
    cards.extend_together(els);
}

/// `caption` slugified plus `.csv` (else `table.csv`), numbered if already taken.
pub(super) fn unique_name(caption: Option<&str>, names: &mut Vec<String>) -> String {
    let mut slug = String::new();
    for c in caption.unwrap_or("").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(60).collect();
    let stem = if slug.is_empty() {
        "table"
    } else {
        slug.trim_end_matches('-')
    };
    let mut name = format!("{stem}.csv");
    let mut n = 1;
    while names.contains(&name) {
        n += 1;
        name = format!("{stem}-{n}.csv");
    }
    names.push(name.clone());
    name
}
