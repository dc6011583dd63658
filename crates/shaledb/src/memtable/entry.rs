//! A memtable entry: the internal key and the value in one allocation, plus the first
//! 16 bytes of the user key kept inline (big-endian, zero-padded) so that most skip-list
//! comparisons are decided without touching the heap.
//!
//! Ordering is the internal-key order. A prefix difference decides it: the first byte
//! where the padded prefixes differ lies within the longer key, so either both keys
//! have real bytes there or the shorter key is a prefix of the longer; both agree with
//! bytewise order. Equal prefixes fall back to the full comparison.

use std::cmp::Ordering;

use crate::key::{append_internal_key, compare_internal, SequenceNumber, ValueKind};

/// One memtable entry.
#[derive(Debug)]
pub(crate) struct MemEntry {
    prefix: u128,
    key_len: u32,
    buf: Box<[u8]>,
}

fn prefix_of(user_key: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    let n = user_key.len().min(16);
    bytes[..n].copy_from_slice(&user_key[..n]);
    u128::from_be_bytes(bytes)
}

impl MemEntry {
    /// An entry holding (`user_key`, `seq`, `kind`) and `value`.
    pub(crate) fn new(user_key: &[u8], seq: SequenceNumber, kind: ValueKind, value: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(user_key.len() + crate::key::TRAILER_LEN + value.len());
        append_internal_key(&mut buf, user_key, seq, kind);
        let key_len = buf.len();
        buf.extend_from_slice(value);
        MemEntry {
            prefix: prefix_of(user_key),
            // Keys longer than 4 GiB are rejected by the write path's batch size limit.
            key_len: u32::try_from(key_len).unwrap_or(u32::MAX),
            buf: buf.into_boxed_slice(),
        }
    }

    /// A search target: the internal key alone.
    pub(crate) fn target(internal_key: &[u8]) -> Self {
        MemEntry {
            prefix: prefix_of(crate::key::user_key(internal_key)),
            key_len: u32::try_from(internal_key.len()).unwrap_or(u32::MAX),
            buf: internal_key.into(),
        }
    }

    /// The encoded internal key.
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        &self.buf[..self.key_len as usize]
    }

    /// The value.
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        &self.buf[self.key_len as usize..]
    }

    /// Heap and inline bytes this entry holds.
    pub(crate) fn footprint(&self) -> usize {
        self.buf.len() + std::mem::size_of::<Self>()
    }
}

impl Ord for MemEntry {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| compare_internal(self.key(), other.key()))
    }
}

impl PartialOrd for MemEntry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MemEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MemEntry {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::make_internal_key;

    #[test]
    fn order_matches_internal_key_order() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\0\0",
            b"ab",
            b"abcdefghijklmnop",
            b"abcdefghijklmnopq",
            b"abcdefghijklmnop\0",
            b"b",
            b"\xff",
            b"\xff\xff",
        ];
        for a in &keys {
            for b in &keys {
                for (sa, sb) in [(1, 2), (2, 1), (3, 3)] {
                    let ea = MemEntry::new(a, sa, ValueKind::Put, b"v");
                    let eb = MemEntry::new(b, sb, ValueKind::Put, b"w");
                    let want = compare_internal(
                        &make_internal_key(a, sa, ValueKind::Put),
                        &make_internal_key(b, sb, ValueKind::Put),
                    );
                    assert_eq!(ea.cmp(&eb), want, "{a:?}@{sa} vs {b:?}@{sb}");
                }
            }
        }
    }
}
