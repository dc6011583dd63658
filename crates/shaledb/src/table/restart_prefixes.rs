//! A compact copy of an index block's restart keys, for a binary search that stays in
//! the CPU cache.
//!
//! A seek in a block binary-searches its restart points. Each probe reads a restart
//! offset and then decodes the key it points at: two cache misses in a large block, one
//! after the other. An index block of a 64 MiB table has about 1,000 restarts, so a
//! seek in it takes ten such probes. [`RestartPrefixes`] keeps, for every restart key,
//! the eight user-key bytes that follow the prefix all of them share, as a big-endian
//! `u64`, in one array (8 KiB for 1,000 restarts). The search runs over that array and
//! decodes full keys only where two windows tie, which with keys of any spread is at
//! most once or twice per seek.
//!
//! The windows keep the keys' order: cutting a key to a fixed span and padding it with
//! zeros never reverses the bytewise order of two keys, so a window below the target's
//! means a key below the target, and a window above it a key above. Only equal windows
//! leave the order open.

use std::cmp::Ordering;

use crate::key::{user_key, TRAILER_LEN};

/// Bytes of each key kept after the shared prefix.
const WINDOW: usize = 8;

/// The restart keys of one block, cut to [`WINDOW`] bytes after their shared prefix.
pub(crate) struct RestartPrefixes {
    /// The user-key prefix every restart key starts with.
    shared: Vec<u8>,
    /// One window per restart point, in restart order (so non-decreasing).
    windows: Vec<u64>,
}

impl RestartPrefixes {
    /// Builds the windows from `restart_keys` (internal keys, in order). Returns `None`
    /// if a key is too short to be an internal key; the caller then searches the block
    /// as it is, which reports the damage.
    pub(crate) fn build<'a>(
        restart_keys: impl IntoIterator<Item = Option<&'a [u8]>>,
    ) -> Option<Self> {
        let users: Vec<&[u8]> = restart_keys
            .into_iter()
            .map(|key| key.and_then(user_key_of))
            .collect::<Option<_>>()?;
        let (first, last) = (users.first()?, users.last()?);
        // Keys are sorted, so every key between the first and the last shares their
        // common prefix.
        let shared_len = first.iter().zip(*last).take_while(|(a, b)| a == b).count();
        let windows = users.iter().map(|u| window(u, shared_len)).collect();
        Some(RestartPrefixes {
            shared: first[..shared_len].to_vec(),
            windows,
        })
    }

    /// Restart points a search for the internal key `target` need not look at: returns
    /// `(a, b)` such that the keys of restarts before `a` are below `target` and those
    /// from `b` on are above it. Only restarts in `a..b` need their keys compared.
    pub(crate) fn narrow(&self, target: &[u8]) -> (usize, usize) {
        let n = self.windows.len();
        if target.len() < TRAILER_LEN {
            return (0, n);
        }
        let target = user_key(target);
        let head = &target[..target.len().min(self.shared.len())];
        match head.cmp(&self.shared[..head.len()]) {
            Ordering::Less => return (0, 0),
            Ordering::Greater => return (n, n),
            // The target is a proper prefix of the shared prefix: below every key.
            Ordering::Equal if target.len() < self.shared.len() => return (0, 0),
            Ordering::Equal => {}
        }
        let t = window(target, self.shared.len());
        let a = self.windows.partition_point(|&w| w < t);
        let b = a + self.windows[a..].partition_point(|&w| w == t);
        (a, b)
    }

    /// Heap bytes held.
    pub(crate) fn size(&self) -> usize {
        self.shared.capacity() + self.windows.capacity() * std::mem::size_of::<u64>()
    }
}

fn user_key_of(internal_key: &[u8]) -> Option<&[u8]> {
    (internal_key.len() >= TRAILER_LEN).then(|| user_key(internal_key))
}

/// The [`WINDOW`] bytes of `user_key` after its first `skip`, zero-padded, as a number
/// that orders as the bytes do.
fn window(user_key: &[u8], skip: usize) -> u64 {
    let tail = user_key.get(skip..).unwrap_or_default();
    let n = tail.len().min(WINDOW);
    let mut bytes = [0u8; WINDOW];
    bytes[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::key::{compare_internal, make_internal_key, ValueKind};

    fn internal(user: &[u8], seq: u64) -> Vec<u8> {
        make_internal_key(user, seq, ValueKind::Put)
    }

    /// User keys from a small alphabet, so that prefixes and windows often tie.
    fn user_keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..14),
            1..60,
        )
    }

    proptest! {
        #[test]
        fn narrowing_never_misplaces_a_key(
            users in user_keys(),
            seqs in prop::collection::vec(0u64..4, 60),
            target_user in prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..14),
            target_seq in 0u64..4,
        ) {
            let mut keys: Vec<Vec<u8>> = users
                .iter()
                .zip(&seqs)
                .map(|(u, &s)| internal(u, s))
                .collect();
            keys.sort_by(|a, b| compare_internal(a, b));
            keys.dedup();
            let prefixes = RestartPrefixes::build(keys.iter().map(|k| Some(k.as_slice()))).unwrap();
            let target = internal(&target_user, target_seq);
            let (a, b) = prefixes.narrow(&target);
            prop_assert!(a <= b && b <= keys.len());
            for (i, key) in keys.iter().enumerate() {
                let order = compare_internal(key, &target);
                if i < a {
                    prop_assert_eq!(order, Ordering::Less, "restart {} of {:?}", i, (a, b));
                }
                if i >= b {
                    prop_assert_eq!(order, Ordering::Greater, "restart {} of {:?}", i, (a, b));
                }
            }
        }
    }

    #[test]
    fn db_bench_keys_are_told_apart_by_their_windows() {
        let keys: Vec<Vec<u8>> = (0..1000u64)
            .map(|i| internal(format!("{:016}", i * 997).as_bytes(), 1))
            .collect();
        let prefixes = RestartPrefixes::build(keys.iter().map(|k| Some(k.as_slice()))).unwrap();
        let target = internal(format!("{:016}", 500 * 997 + 3).as_bytes(), 9);
        assert_eq!(prefixes.narrow(&target), (501, 501));
        let exact = internal(format!("{:016}", 500 * 997).as_bytes(), 9);
        assert_eq!(prefixes.narrow(&exact), (500, 501));
    }

    #[test]
    fn short_keys_leave_the_block_to_the_plain_search() {
        let keys: [&[u8]; 2] = [b"abc", b"abcdefghij"];
        assert!(RestartPrefixes::build(keys.iter().map(|k| Some(*k))).is_none());
        let damaged = [Some(&b"abcdefghij"[..]), None];
        assert!(RestartPrefixes::build(damaged.into_iter()).is_none());
    }
}
