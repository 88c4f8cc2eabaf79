//! What changed between two snapshots: items added, removed, and changed (name, state, type,
//! tags), per account and kind. Targets that failed in either run are left out, so an account
//! that could not be read never looks as if everything in it was deleted.

use crate::store::runs::{Item, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New since the previous run.
    Added(Item),
    /// Gone since the previous run.
    Removed(Item),
    /// Still there, but different: (field, before, after).
    Changed(Item, Vec<(String, String, String)>),
}

impl Change {
    /// The item (as it is now, or as it was when removed).
    pub fn item(&self) -> &Item {
        match self {
            Self::Added(i) | Self::Removed(i) | Self::Changed(i, _) => i,
        }
    }
}

type Target = (String, String, String);

fn target(i: &Item) -> Target {
    (i.kind.clone(), i.account.clone(), i.region.clone())
}

fn failed(s: &Snapshot) -> BTreeSet<Target> {
    s.failed
        .iter()
        .map(|f| (f.kind.clone(), f.account.clone(), f.region.clone()))
        .collect()
}

/// The targets read in `s` (with at least one item or explicitly empty): every target of the
/// current run that did not fail.
fn compared(prev: &Snapshot, cur: &Snapshot) -> impl Fn(&Item) -> bool {
    let skip: BTreeSet<Target> = failed(prev).union(&failed(cur)).cloned().collect();
    move |i: &Item| !skip.contains(&target(i))
}

/// The changes from `prev` to `cur`, sorted by kind, account, region and id.
pub fn diff(prev: &Snapshot, cur: &Snapshot) -> Vec<Change> {
    let keep = compared(prev, cur);
    let key = |i: &Item| {
        (
            i.kind.clone(),
            i.account.clone(),
            i.region.clone(),
            i.id.clone(),
        )
    };
    let before: BTreeMap<_, &Item> = prev
        .items
        .iter()
        .filter(|i| keep(i))
        .map(|i| (key(i), i))
        .collect();
    let after: BTreeMap<_, &Item> = cur
        .items
        .iter()
        .filter(|i| keep(i))
        .map(|i| (key(i), i))
        .collect();
    let mut out = Vec::new();
    for (k, now) in &after {
        match before.get(k) {
            None => out.push(Change::Added((*now).clone())),
            Some(was) => {
                let mut fields = Vec::new();
                for (name, a, b) in [
                    ("name", &was.name, &now.name),
                    ("state", &was.state, &now.state),
                    ("type", &was.size, &now.size),
                ] {
                    if a != b {
                        fields.push((name.to_string(), a.clone(), b.clone()));
                    }
                }
                let tag_keys: BTreeSet<&String> = was.tags.keys().chain(now.tags.keys()).collect();
                for t in tag_keys {
                    let (a, b) = (was.tags.get(t), now.tags.get(t));
                    if a != b {
                        fields.push((
                            format!("tag {t}"),
                            a.cloned().unwrap_or_default(),
                            b.cloned().unwrap_or_default(),
                        ));
                    }
                }
                if !fields.is_empty() {
                    out.push(Change::Changed((*now).clone(), fields));
                }
            }
        }
    }
    for (k, was) in &before {
        if !after.contains_key(k) {
            out.push(Change::Removed((*was).clone()));
        }
    }
    out.sort_by_key(|c| {
        let i = c.item();
        (
            i.kind.clone(),
            i.account.clone(),
            i.region.clone(),
            i.id.clone(),
        )
    });
    out
}

/// Items per (account, kind) in `cur`, and how many more (or fewer) than in `prev` where both
/// runs read every region of that account and kind.
pub fn counts(
    prev: Option<&Snapshot>,
    cur: &Snapshot,
) -> BTreeMap<(String, String), (usize, Option<i64>)> {
    let mut out: BTreeMap<(String, String), (usize, Option<i64>)> = BTreeMap::new();
    let failed_any: BTreeSet<(String, String)> = cur
        .failed
        .iter()
        .chain(prev.map(|p| p.failed.iter()).into_iter().flatten())
        .map(|f| (f.account.clone(), f.kind.clone()))
        .collect();
    for i in &cur.items {
        out.entry((i.account.clone(), i.kind.clone()))
            .or_default()
            .0 += 1;
    }
    if let Some(p) = prev {
        let mut before: BTreeMap<(String, String), usize> = BTreeMap::new();
        for i in &p.items {
            *before
                .entry((i.account.clone(), i.kind.clone()))
                .or_default() += 1;
        }
        let keys: BTreeSet<_> = out.keys().chain(before.keys()).cloned().collect();
        for k in keys {
            let now = out.get(&k).map_or(0, |v| v.0);
            let delta = (!failed_any.contains(&k))
                .then(|| now as i64 - before.get(&k).copied().unwrap_or(0) as i64);
            out.insert(k, (now, delta));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::runs::Failed;

    fn item(kind: &str, account: &str, id: &str, state: &str) -> Item {
        Item {
            kind: kind.into(),
            account: account.into(),
            region: "us-east-1".into(),
            id: id.into(),
            name: String::new(),
            state: state.into(),
            size: String::new(),
            tags: Default::default(),
        }
    }

    fn snap(items: Vec<Item>, failed: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            run: 0,
            items,
            failed: failed
                .iter()
                .map(|(k, a)| Failed {
                    kind: k.to_string(),
                    account: a.to_string(),
                    region: "us-east-1".into(),
                    error: "AccessDenied".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn added_removed_changed() {
        let prev = snap(
            vec![
                item("ec2", "1", "i-1", "running"),
                item("ec2", "1", "i-2", "running"),
            ],
            &[],
        );
        let mut tagged = item("ec2", "1", "i-2", "stopped");
        tagged.tags.insert("owner".into(), "ana".into());
        let cur = snap(vec![tagged, item("ec2", "1", "i-3", "running")], &[]);
        let d = diff(&prev, &cur);
        assert_eq!(d.len(), 3);
        assert!(matches!(&d[0], Change::Removed(i) if i.id == "i-1"));
        match &d[1] {
            Change::Changed(i, f) => {
                assert_eq!(i.id, "i-2");
                assert_eq!(f[0], ("state".into(), "running".into(), "stopped".into()));
                assert_eq!(f[1], ("tag owner".into(), String::new(), "ana".into()));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&d[2], Change::Added(i) if i.id == "i-3"));
        let c = counts(Some(&prev), &cur);
        assert_eq!(c[&("1".to_string(), "ec2".to_string())], (2, Some(0)));
    }

    #[test]
    fn a_failed_target_is_not_a_mass_deletion() {
        let prev = snap(
            vec![item("ec2", "1", "i-1", "running"), item("s3", "2", "b", "")],
            &[],
        );
        let cur = snap(vec![item("s3", "2", "b", "")], &[("ec2", "1")]);
        assert!(diff(&prev, &cur).is_empty());
        let c = counts(Some(&prev), &cur);
        assert_eq!(
            c[&("1".to_string(), "ec2".to_string())],
            (0, None),
            "no delta for a failed read"
        );
        assert_eq!(c[&("2".to_string(), "s3".to_string())], (1, Some(0)));
    }
}
