//! Snapshots as DynamoDB items: JSON, deflate-compressed (flate2), cut into chunks well under
//! the 400 KB item limit. All chunks and the `latest` pointer are written in one
//! `TransactWriteItems` (at most 100 items and 4 MB), so the chunks bound that: a snapshot is
//! at most [`MAX_CHUNKS`] × [`CHUNK_BYTES`] compressed (inventories compress about 10:1, so
//! tens of thousands of items fit).

use crate::store::StoreError;
use crate::store::runs::Snapshot;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

/// Bytes of compressed snapshot per item (the item limit is 400 KB including keys).
pub const CHUNK_BYTES: usize = 350_000;
/// Most chunks per snapshot (with the pointer, within one transaction's 4 MB).
pub const MAX_CHUNKS: usize = 10;
/// Largest decompressed snapshot accepted when reading (guards against a corrupt item).
pub const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

/// Compresses `snapshot` into chunks.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<Vec<u8>>, StoreError> {
    let json = serde_json::to_vec(snapshot).map_err(|e| StoreError(format!("snapshot: {e}")))?;
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(&json)
        .and_then(|_| enc.finish())
        .map_err(|e| StoreError(format!("snapshot compression: {e}")))
        .and_then(|packed| {
            let chunks: Vec<Vec<u8>> = packed.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect();
            if chunks.len() > MAX_CHUNKS {
                return Err(StoreError(format!(
                    "snapshot of {} items is {} KB compressed, more than one DynamoDB transaction holds ({} KB); narrow the schedule's accounts or kinds",
                    snapshot.items.len(),
                    packed.len() / 1024,
                    MAX_CHUNKS * CHUNK_BYTES / 1024
                )));
            }
            Ok(chunks)
        })
}

/// Joins and decompresses `chunks` (in order).
pub fn decode(chunks: &[Vec<u8>]) -> Result<Snapshot, StoreError> {
    let packed: Vec<u8> = chunks.concat();
    let mut json = Vec::new();
    DeflateDecoder::new(packed.as_slice())
        .take(MAX_JSON_BYTES)
        .read_to_end(&mut json)
        .map_err(|e| StoreError(format!("snapshot decompression: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError(format!("snapshot: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::runs::Item;
    use std::collections::BTreeMap;

    fn snapshot(n: usize) -> Snapshot {
        Snapshot {
            run: 7,
            items: (0..n)
                .map(|i| Item {
                    kind: "ec2".into(),
                    account: "111111111111".into(),
                    region: "us-east-1".into(),
                    id: format!("i-{i:017x}"),
                    name: format!("web-{i}"),
                    state: "running".into(),
                    size: format!("t3.{}", ["micro", "large"][i % 2]),
                    tags: BTreeMap::from([("team".into(), format!("t{}", i % 7))]),
                })
                .collect(),
            failed: vec![],
        }
    }

    #[test]
    fn a_large_inventory_round_trips_in_chunks_under_the_item_limit() {
        let big = snapshot(60_000);
        let chunks = encode(&big).unwrap();
        assert!(chunks.len() > 1, "{} chunk(s)", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
        assert_eq!(decode(&chunks).unwrap(), big);
        assert!(decode(&[b"garbage".to_vec()]).is_err());
    }
}
