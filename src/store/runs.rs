//! Scheduled runs and their snapshots behind one seam ([`RunStore`]): a run is claimed with a
//! lease before it posts and marked posted after, so a restart or a retry never posts twice;
//! each successful run stores its items, and the next run is diffed against the previous one.
//! [`MemoryRuns`] for tests and one-off use; [`super::sqlite::SqliteRuns`] is the embedded
//! default (one file, no server); a shared store (DynamoDB) only needs another impl.

use super::StoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One resource in an inventory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Item {
    /// Kind (`ec2`, `s3`, ...).
    pub kind: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// What identifies it (instance id, bucket name, ...).
    pub id: String,
    /// Its name, when it has one apart from the id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// State or status (`running`, `available`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// Type or class (`t3.micro`, `db.t3.micro`, runtime, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub size: String,
    /// Tags kept for the diff.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A target (kind × account × region) that could not be read in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// Kind.
    pub kind: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Why.
    pub error: String,
}

/// The outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The run: its scheduled time, seconds since the Unix epoch.
    pub run: i64,
    /// Everything read.
    pub items: Vec<Item>,
    /// What could not be read (kept out of the next diff).
    pub failed: Vec<Failed>,
}

/// What claiming a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This owner may run and post it.
    Won,
    /// It was posted already.
    Posted,
    /// Someone else holds an unexpired claim on it.
    Held,
    /// This owner may run and post it, but took it over from another owner whose lease
    /// expired: that owner may have posted before it stopped, so check before posting.
    TakenOver,
}

/// Scheduled runs and snapshots.
#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// Claims `run` of `schedule` for `owner` for `lease` (first claimer wins; an expired claim
    /// may be taken over; a posted run never again).
    async fn claim(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError>;
    /// Marks `run` posted (by its owner), with the post's id.
    async fn mark_posted(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        post: Option<&str>,
    ) -> Result<(), StoreError>;
    /// The newest posted run of `schedule`.
    async fn last_posted(&self, schedule: &str) -> Result<Option<i64>, StoreError>;
    /// Stores the snapshot of a run.
    async fn save(&self, schedule: &str, snapshot: &Snapshot) -> Result<(), StoreError>;
    /// The newest snapshot of `schedule` strictly before `run`.
    async fn previous(&self, schedule: &str, run: i64) -> Result<Option<Snapshot>, StoreError>;
    /// Keeps the newest `keep` snapshots and run records of `schedule`.
    async fn prune(&self, schedule: &str, keep: usize) -> Result<(), StoreError>;
    /// Remembers how to post to `place` (a place key such as `teams:19:…`) without being asked
    /// first: the platform's conversation reference, opaque JSON. Replaces an older one.
    async fn put_reference(&self, place: &str, reference: &str) -> Result<(), StoreError>;
    /// The reference stored for `place`.
    async fn reference(&self, place: &str) -> Result<Option<String>, StoreError>;
}

/// Most conversation references [`MemoryRuns`] keeps (one per conversation the bot is in).
pub const MEMORY_REFERENCES: usize = 10_000;

/// Seconds since the Unix epoch, on the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Default)]
struct RunRecord {
    owner: String,
    posted: bool,
    lease_until: i64,
}

/// Runs in this process (tests, `opsbot inventory --once`).
#[derive(Default)]
pub struct MemoryRuns {
    runs: Mutex<BTreeMap<(String, i64), RunRecord>>,
    snapshots: Mutex<BTreeMap<(String, i64), Snapshot>>,
    references: Mutex<BTreeMap<String, String>>,
}

#[async_trait]
impl RunStore for MemoryRuns {
    async fn claim(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let now = unix_now();
        let r = runs.entry((schedule.to_string(), run)).or_default();
        if r.posted {
            return Ok(Claim::Posted);
        }
        if !r.owner.is_empty() && r.owner != owner && r.lease_until > now {
            return Ok(Claim::Held);
        }
        let taken = !r.owner.is_empty() && r.owner != owner;
        r.owner = owner.to_string();
        r.lease_until = now + lease.as_secs() as i64;
        Ok(if taken { Claim::TakenOver } else { Claim::Won })
    }

    async fn mark_posted(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        _post: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        match runs.get_mut(&(schedule.to_string(), run)) {
            Some(r) if r.owner == owner => {
                r.posted = true;
                Ok(())
            }
            _ => Err(StoreError(format!(
                "run {run} of {schedule} is not claimed by {owner}"
            ))),
        }
    }

    async fn last_posted(&self, schedule: &str) -> Result<Option<i64>, StoreError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(runs
            .iter()
            .filter(|((s, _), r)| s == schedule && r.posted)
            .map(|((_, run), _)| *run)
            .max())
    }

    async fn save(&self, schedule: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((schedule.to_string(), snapshot.run), snapshot.clone());
        Ok(())
    }

    async fn previous(&self, schedule: &str, run: i64) -> Result<Option<Snapshot>, StoreError> {
        let snaps = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        Ok(snaps
            .range((schedule.to_string(), i64::MIN)..(schedule.to_string(), run))
            .next_back()
            .map(|(_, s)| s.clone()))
    }

    async fn put_reference(&self, place: &str, reference: &str) -> Result<(), StoreError> {
        let mut refs = self.references.lock().unwrap_or_else(|e| e.into_inner());
        if refs.len() >= MEMORY_REFERENCES && !refs.contains_key(place) {
            refs.pop_first();
        }
        refs.insert(place.to_string(), reference.to_string());
        Ok(())
    }

    async fn reference(&self, place: &str) -> Result<Option<String>, StoreError> {
        let refs = self.references.lock().unwrap_or_else(|e| e.into_inner());
        Ok(refs.get(place).cloned())
    }

    async fn prune(&self, schedule: &str, keep: usize) -> Result<(), StoreError> {
        let mut snaps = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let mine: Vec<i64> = snaps
            .keys()
            .filter(|(s, _)| s == schedule)
            .map(|(_, r)| *r)
            .collect();
        for run in mine.iter().take(mine.len().saturating_sub(keep)) {
            snaps.remove(&(schedule.to_string(), *run));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every [`RunStore`] must have; each implementation runs these.
    use super::*;

    fn item(id: &str) -> Item {
        Item {
            kind: "ec2".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            id: id.into(),
            name: String::new(),
            state: "running".into(),
            size: String::new(),
            tags: BTreeMap::new(),
        }
    }

    /// Claims, leases, posting and snapshots.
    pub async fn check(store: &dyn RunStore) {
        let lease = Duration::from_secs(600);
        assert_eq!(
            store.claim("weekly", 100, "a", lease).await.unwrap(),
            Claim::Won
        );
        assert_eq!(
            store.claim("weekly", 100, "b", lease).await.unwrap(),
            Claim::Held
        );
        assert_eq!(
            store.claim("weekly", 100, "a", lease).await.unwrap(),
            Claim::Won,
            "the owner may renew"
        );
        assert!(store.mark_posted("weekly", 100, "b", None).await.is_err());
        store
            .mark_posted("weekly", 100, "a", Some("ts-1"))
            .await
            .unwrap();
        assert_eq!(
            store.claim("weekly", 100, "b", lease).await.unwrap(),
            Claim::Posted
        );
        assert_eq!(store.last_posted("weekly").await.unwrap(), Some(100));
        assert_eq!(store.last_posted("daily").await.unwrap(), None);
        // An expired claim may be taken over.
        assert_eq!(
            store
                .claim("weekly", 200, "a", Duration::ZERO)
                .await
                .unwrap(),
            Claim::Won
        );
        assert_eq!(
            store.claim("weekly", 200, "b", lease).await.unwrap(),
            Claim::TakenOver,
            "b must check whether a posted before it stopped"
        );

        for run in [100, 200, 300] {
            let snap = Snapshot {
                run,
                items: vec![item(&format!("i-{run}"))],
                failed: vec![],
            };
            store.save("weekly", &snap).await.unwrap();
        }
        let prev = store.previous("weekly", 300).await.unwrap().unwrap();
        assert_eq!(prev.run, 200);
        assert_eq!(prev.items[0].id, "i-200");
        assert!(store.previous("weekly", 100).await.unwrap().is_none());
        assert!(store.previous("daily", 300).await.unwrap().is_none());
        store.prune("weekly", 2).await.unwrap();
        assert!(
            store.previous("weekly", 200).await.unwrap().is_none(),
            "pruned"
        );
        assert_eq!(
            store.previous("weekly", 301).await.unwrap().unwrap().run,
            300
        );

        assert_eq!(
            store.reference("teams:19:a@thread.tacv2").await.unwrap(),
            None
        );
        store
            .put_reference("teams:19:a@thread.tacv2", r#"{"v":1}"#)
            .await
            .unwrap();
        store
            .put_reference("teams:19:a@thread.tacv2", r#"{"v":2}"#)
            .await
            .unwrap();
        assert_eq!(
            store
                .reference("teams:19:a@thread.tacv2")
                .await
                .unwrap()
                .as_deref(),
            Some(r#"{"v":2}"#)
        );
    }

    #[tokio::test]
    async fn memory_runs_keep_the_contract() {
        check(&MemoryRuns::default()).await;
    }
}
