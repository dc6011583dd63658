//! Which versions of a key no reader can see any more: the rule that compactions and
//! flushes share.
//!
//! Entries arrive in internal-key order: by user key, newest version first. A version
//! is *shadowed* when a newer version of the same user key has a sequence number at or
//! below the oldest live snapshot: every reader, present or future, sees that newer
//! version (or something newer still) instead, so the older one can be dropped.
//! Tombstones are not special here; whether a tombstone itself can go is the caller's
//! decision (a compaction drops it only where nothing older can lie below).

use crate::key::SequenceNumber;

/// Tracks the previous entry's user key and sequence number while a sorted run of
/// internal keys is written.
pub(crate) struct ShadowFilter {
    smallest_snapshot: SequenceNumber,
    user_key: Vec<u8>,
    /// The sequence number of the previous entry of `user_key`; `MAX` before the first.
    newer_seq: SequenceNumber,
}

/// What [`ShadowFilter::observe`] found about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observed {
    /// The entry starts a new user key (it is the newest version of its key).
    pub new_user_key: bool,
    /// A newer version of the key is visible to every snapshot.
    pub shadowed: bool,
}

impl ShadowFilter {
    /// A filter for readers no older than `smallest_snapshot`.
    pub(crate) fn new(smallest_snapshot: SequenceNumber) -> Self {
        ShadowFilter {
            smallest_snapshot,
            user_key: Vec::new(),
            newer_seq: SequenceNumber::MAX,
        }
    }

    /// Takes the next entry in internal-key order.
    pub(crate) fn observe(&mut self, user_key: &[u8], seq: SequenceNumber) -> Observed {
        let new_user_key = self.newer_seq == SequenceNumber::MAX || self.user_key != user_key;
        if new_user_key {
            self.user_key.clear();
            self.user_key.extend_from_slice(user_key);
            self.newer_seq = SequenceNumber::MAX;
        }
        let shadowed = self.newer_seq <= self.smallest_snapshot;
        self.newer_seq = seq;
        Observed {
            new_user_key,
            shadowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_versions_behind_one_every_snapshot_sees_are_shadowed() {
        // Key "a" at 9, 7, 4, 2; key "b" at 8; the oldest snapshot reads at 6.
        let mut f = ShadowFilter::new(6);
        let seen: Vec<Observed> = [(&b"a"[..], 9), (b"a", 7), (b"a", 4), (b"a", 2), (b"b", 8)]
            .iter()
            .map(|&(k, s)| f.observe(k, s))
            .collect();
        let shadowed: Vec<bool> = seen.iter().map(|o| o.shadowed).collect();
        let new_key: Vec<bool> = seen.iter().map(|o| o.new_user_key).collect();
        // 7 is newer than the snapshot, so 4 (what the snapshot reads) stays; 2 is
        // behind 4, which every reader sees.
        assert_eq!(shadowed, [false, false, false, true, false]);
        assert_eq!(new_key, [true, false, false, false, true]);
    }

    #[test]
    fn an_empty_user_key_is_a_key_like_any_other() {
        let mut f = ShadowFilter::new(100);
        assert!(!f.observe(b"", 5).shadowed);
        assert!(f.observe(b"", 3).shadowed);
        assert!(f.observe(b"x", 4).new_user_key);
    }
}
