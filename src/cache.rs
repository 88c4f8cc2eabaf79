//! A small TTL cache on tokio's clock, so expiry is testable with paused time.
//! Only successful lookups are stored: a failing provider is asked again next time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Values by string key, each kept for `ttl`.
pub struct TtlCache<V> {
    ttl: Duration,
    max: usize,
    map: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    /// A cache keeping entries for `ttl`, at most `max` of them.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            map: Mutex::default(),
        }
    }

    /// The value for `key` if present and younger than the TTL.
    pub fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Stores `value` for `key`, dropping expired entries when full.
    pub fn insert(&self, key: &str, value: V) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(key.to_string(), (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_ttl() {
        let c = TtlCache::new(Duration::from_secs(300), 10);
        c.insert("a", 1);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(c.get("a"), Some(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(c.get("a"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn full_cache_drops_expired_first() {
        let c = TtlCache::new(Duration::from_secs(10), 2);
        c.insert("old", 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        c.insert("b", 2);
        c.insert("c", 3);
        assert_eq!(
            (c.get("b"), c.get("c"), c.get("old")),
            (Some(2), Some(3), None)
        );
    }
}
