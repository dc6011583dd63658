//! What the harness knows about the current database since it was created: the user
//! bytes written to it, the process's write counter when it was created, and which keys
//! are present (one bit per key number, so live data is counted exactly whatever the
//! engine reports).
//!
//! Concurrency: shared by reference between a benchmark's threads; all updates are
//! atomic.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::keys::KEY_SIZE;
use crate::system::process_bytes_written;

/// One bit per key number in `[0, num)`.
#[derive(Debug)]
pub struct LiveKeys {
    words: Vec<AtomicU64>,
    present: AtomicU64,
}

impl LiveKeys {
    /// No key present, room for `num` keys.
    pub fn new(num: u64) -> Self {
        let words = num.div_ceil(64);
        LiveKeys {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            present: AtomicU64::new(0),
        }
    }

    fn slot(&self, k: u64) -> Option<(&AtomicU64, u64)> {
        // Key numbers index words; `k / 64` of a key below `num` fits in usize
        // because the vector of that many words was allocated.
        let word = self.words.get(usize::try_from(k / 64).ok()?)?;
        Some((word, 1u64 << (k % 64)))
    }

    /// Marks key `k` present.
    pub fn insert(&self, k: u64) {
        if let Some((word, bit)) = self.slot(k) {
            if word.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                self.present.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Marks key `k` absent.
    pub fn remove(&self, k: u64) {
        if let Some((word, bit)) = self.slot(k) {
            if word.fetch_and(!bit, Ordering::Relaxed) & bit != 0 {
                self.present.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Keys present.
    pub fn count(&self) -> u64 {
        self.present.load(Ordering::Relaxed)
    }
}

/// The current database's history, from its creation by the harness.
#[derive(Debug)]
pub struct DbLifetime {
    /// `None` when the harness did not create the database (`--use-existing-db`).
    live: Option<LiveKeys>,
    user_bytes_written: AtomicU64,
    value_size: AtomicU64,
    process_bytes_at_start: Option<u64>,
}

impl DbLifetime {
    /// A database the harness just created empty, for keys in `[0, num)`.
    pub fn fresh(num: u64) -> Self {
        DbLifetime {
            live: Some(LiveKeys::new(num)),
            ..Self::existing()
        }
    }

    /// A database found on disk, whose contents the harness does not know.
    pub fn existing() -> Self {
        DbLifetime {
            live: None,
            user_bytes_written: AtomicU64::new(0),
            value_size: AtomicU64::new(0),
            process_bytes_at_start: process_bytes_written(),
        }
    }

    /// The present keys, if known.
    pub fn live(&self) -> Option<&LiveKeys> {
        self.live.as_ref()
    }

    /// Records that a benchmark handed `bytes` to the engine, writing values of
    /// `value_size` bytes (`None` for deletes).
    pub fn add_written(&self, bytes: u64, value_size: Option<usize>) {
        self.user_bytes_written.fetch_add(bytes, Ordering::Relaxed);
        if let Some(size) = value_size.filter(|_| bytes > 0) {
            // usize to u64 cannot truncate on any supported target.
            self.value_size.store(size as u64, Ordering::Relaxed);
        }
    }

    /// User bytes written since creation.
    pub fn user_bytes_written(&self) -> u64 {
        self.user_bytes_written.load(Ordering::Relaxed)
    }

    /// Process bytes written since creation.
    pub fn process_bytes_written(&self) -> Option<u64> {
        Some(process_bytes_written()?.saturating_sub(self.process_bytes_at_start?))
    }

    /// Key and value bytes of the present keys, if known (values all of the size most
    /// recently written: every database the harness creates holds one value size).
    pub fn logical_live_bytes(&self) -> Option<u64> {
        let live = self.live.as_ref()?;
        // KEY_SIZE is 16; the cast cannot truncate.
        Some(live.count() * (KEY_SIZE as u64 + self.value_size.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_keys_count_distinct_present_keys() {
        let live = LiveKeys::new(130);
        assert_eq!(live.count(), 0);
        for k in [0, 5, 5, 64, 129, 129] {
            live.insert(k);
        }
        assert_eq!(live.count(), 4);
        live.remove(5);
        live.remove(5);
        live.remove(7);
        assert_eq!(live.count(), 3);
        live.insert(100_000); // out of range: ignored
        assert_eq!(live.count(), 3);
    }

    #[test]
    fn lifetime_counts_logical_bytes() {
        let life = DbLifetime::fresh(10);
        life.live().expect("fresh db tracks keys").insert(3);
        life.add_written(116, Some(100));
        life.add_written(16, None);
        assert_eq!(life.user_bytes_written(), 132);
        assert_eq!(life.logical_live_bytes(), Some(116));
        assert_eq!(DbLifetime::existing().logical_live_bytes(), None);
    }
}
