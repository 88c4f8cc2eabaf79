//! [`SqliteRuns`]: the embedded [`RunStore`] — one SQLite file (`rusqlite` with SQLite bundled,
//! so nothing to install), written in WAL mode from a blocking thread. Snapshots and
//! conversation references are JSON.

use super::StoreError;
use super::runs::{Claim, RunStore, Snapshot, unix_now};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs and snapshots in a SQLite file.
#[derive(Clone)]
pub struct SqliteRuns {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

impl SqliteRuns {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError(format!(
                    "cannot create {}: {e}; check inventory.database",
                    dir.display()
                ))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| {
            StoreError(format!(
                "cannot open {}: {e}; check inventory.database",
                path.display()
            ))
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS runs (
                 schedule TEXT NOT NULL, run INTEGER NOT NULL, owner TEXT NOT NULL,
                 posted INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL,
                 post TEXT, PRIMARY KEY (schedule, run));
             CREATE TABLE IF NOT EXISTS snapshots (
                 schedule TEXT NOT NULL, run INTEGER NOT NULL, body TEXT NOT NULL,
                 PRIMARY KEY (schedule, run));
             CREATE TABLE IF NOT EXISTS refs (
                 place TEXT PRIMARY KEY, body TEXT NOT NULL, updated INTEGER NOT NULL);",
        )
        .map_err(err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut c)
        })
        .await
        .map_err(err)?
    }
}

#[async_trait]
impl RunStore for SqliteRuns {
    async fn claim(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let (schedule, owner) = (schedule.to_string(), owner.to_string());
        self.with(move |c| {
            let tx = c.transaction().map_err(err)?;
            let now = unix_now();
            let until = now + lease.as_secs() as i64;
            let existing: Option<(String, bool, i64)> = tx
                .query_row(
                    "SELECT owner, posted, lease_until FROM runs WHERE schedule = ?1 AND run = ?2",
                    params![schedule, run],
                    |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?)),
                )
                .optional()
                .map_err(err)?;
            let claim = match existing {
                Some((_, true, _)) => Claim::Posted,
                Some((o, false, lease_until)) if o != owner && lease_until > now => Claim::Held,
                Some((previous, _, _)) => {
                    tx.execute(
                        "UPDATE runs SET owner = ?3, lease_until = ?4 WHERE schedule = ?1 AND run = ?2",
                        params![schedule, run, owner, until],
                    )
                    .map_err(err)?;
                    if previous == owner {
                        Claim::Won
                    } else {
                        Claim::TakenOver
                    }
                }
                None => {
                    tx.execute(
                        "INSERT INTO runs (schedule, run, owner, lease_until) VALUES (?1, ?2, ?3, ?4)",
                        params![schedule, run, owner, until],
                    )
                    .map_err(err)?;
                    Claim::Won
                }
            };
            tx.commit().map_err(err)?;
            Ok(claim)
        })
        .await
    }

    async fn mark_posted(
        &self,
        schedule: &str,
        run: i64,
        owner: &str,
        post: Option<&str>,
    ) -> Result<(), StoreError> {
        let (schedule, owner, post) = (
            schedule.to_string(),
            owner.to_string(),
            post.map(str::to_string),
        );
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE runs SET posted = 1, post = ?4 WHERE schedule = ?1 AND run = ?2 AND owner = ?3",
                    params![schedule, run, owner, post],
                )
                .map_err(err)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError(format!("run {run} of {schedule} is not claimed by {owner}")))
            }
        })
        .await
    }

    async fn last_posted(&self, schedule: &str) -> Result<Option<i64>, StoreError> {
        let schedule = schedule.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT MAX(run) FROM runs WHERE schedule = ?1 AND posted = 1",
                params![schedule],
                |r| r.get(0),
            )
            .map_err(err)
        })
        .await
    }

    async fn save(&self, schedule: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        let schedule = schedule.to_string();
        let run = snapshot.run;
        let body = serde_json::to_string(snapshot).map_err(err)?;
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO snapshots (schedule, run, body) VALUES (?1, ?2, ?3)",
                params![schedule, run, body],
            )
            .map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn previous(&self, schedule: &str, run: i64) -> Result<Option<Snapshot>, StoreError> {
        let schedule = schedule.to_string();
        let body: Option<String> = self
            .with(move |c| {
                c.query_row(
                    "SELECT body FROM snapshots WHERE schedule = ?1 AND run < ?2 ORDER BY run DESC LIMIT 1",
                    params![schedule, run],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)
            })
            .await?;
        body.map(|b| serde_json::from_str(&b).map_err(err))
            .transpose()
    }

    async fn put_reference(&self, place: &str, reference: &str) -> Result<(), StoreError> {
        let (place, body) = (place.to_string(), reference.to_string());
        self.with(move |c| {
            c.execute(
                "INSERT INTO refs (place, body, updated) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(place) DO UPDATE SET body = excluded.body, updated = excluded.updated",
                params![place, body, unix_now()],
            )
            .map(|_| ())
            .map_err(err)
        })
        .await
    }

    async fn reference(&self, place: &str) -> Result<Option<String>, StoreError> {
        let place = place.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT body FROM refs WHERE place = ?1",
                params![place],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
        })
        .await
    }

    async fn prune(&self, schedule: &str, keep: usize) -> Result<(), StoreError> {
        let schedule = schedule.to_string();
        let keep = keep as i64;
        self.with(move |c| {
            for table in ["snapshots", "runs"] {
                c.execute(
                    &format!(
                        "DELETE FROM {table} WHERE schedule = ?1 AND run NOT IN \
                         (SELECT run FROM {table} WHERE schedule = ?1 ORDER BY run DESC LIMIT ?2)"
                    ),
                    params![schedule, keep],
                )
                .map_err(err)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_runs_keep_the_contract_and_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("opsbot-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("runs.db");
        let store = SqliteRuns::open(&path).unwrap();
        super::super::runs::contract::check(&store).await;
        drop(store);
        let reopened = SqliteRuns::open(&path).unwrap();
        assert_eq!(reopened.last_posted("weekly").await.unwrap(), Some(100));
        assert_eq!(
            reopened
                .claim("weekly", 100, "c", Duration::from_secs(60))
                .await
                .unwrap(),
            Claim::Posted,
            "a restart never posts a run twice"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
