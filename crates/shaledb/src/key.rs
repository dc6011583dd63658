//! Internal keys: a user key tagged with the sequence number and kind of the write.
//!
//! Encoding: `user_key ++ trailer`, where the trailer is a little-endian u64 holding
//! `sequence << 8 | kind`. Internal keys order by user key ascending (bytewise), then by
//! trailer descending, so the newest version of a key comes first. This ordering is
//! used by the memtable, every table block, and every iterator.

use std::cmp::Ordering;

/// A 56-bit, strictly increasing number given to every write.
pub type SequenceNumber = u64;

/// The largest sequence number that fits in the trailer.
pub const MAX_SEQUENCE: SequenceNumber = (1 << 56) - 1;

/// Length of the trailer appended to the user key.
pub(crate) const TRAILER_LEN: usize = 8;

/// What an internal key's entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A tombstone: the key was deleted at this sequence number.
    Delete = 0,
    /// A value was written at this sequence number.
    Put = 1,
}

impl ValueKind {
    /// Decodes a kind byte; `None` for an unknown kind (corruption).
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            _ => None,
        }
    }
}

/// The kind that sorts first among entries with the same sequence number; used to build
/// seek targets.
pub(crate) const KIND_FOR_SEEK: ValueKind = ValueKind::Put;

/// Packs a sequence number and kind into a trailer.
pub(crate) fn pack_trailer(seq: SequenceNumber, kind: ValueKind) -> u64 {
    debug_assert!(seq <= MAX_SEQUENCE);
    (seq << 8) | kind as u64
}

/// Appends the internal key for (`user_key`, `seq`, `kind`) to `dst`.
pub(crate) fn append_internal_key(
    dst: &mut Vec<u8>,
    user_key: &[u8],
    seq: SequenceNumber,
    kind: ValueKind,
) {
    dst.reserve(user_key.len() + TRAILER_LEN);
    dst.extend_from_slice(user_key);
    dst.extend_from_slice(&pack_trailer(seq, kind).to_le_bytes());
}

/// Builds the internal key for (`user_key`, `seq`, `kind`).
pub(crate) fn make_internal_key(user_key: &[u8], seq: SequenceNumber, kind: ValueKind) -> Vec<u8> {
    let mut key = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    append_internal_key(&mut key, user_key, seq, kind);
    key
}

/// The user-key part of an internal key. Keys shorter than a trailer (only possible in
/// damaged input, which decoders reject first) yield the empty slice.
#[inline]
pub(crate) fn user_key(internal_key: &[u8]) -> &[u8] {
    &internal_key[..internal_key.len().saturating_sub(TRAILER_LEN)]
}

/// The trailer of an internal key, or 0 when the key is too short.
#[inline]
pub(crate) fn trailer(internal_key: &[u8]) -> u64 {
    let n = internal_key.len();
    if n < TRAILER_LEN {
        return 0;
    }
    let mut bytes = [0u8; TRAILER_LEN];
    bytes.copy_from_slice(&internal_key[n - TRAILER_LEN..]);
    u64::from_le_bytes(bytes)
}

/// A decoded internal key borrowed from its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedKey<'a> {
    pub user_key: &'a [u8],
    pub seq: SequenceNumber,
    pub kind: ValueKind,
}

/// Decodes an internal key; `None` if it is too short or has an unknown kind.
pub(crate) fn parse_internal_key(internal_key: &[u8]) -> Option<ParsedKey<'_>> {
    if internal_key.len() < TRAILER_LEN {
        return None;
    }
    let t = trailer(internal_key);
    // Truncation intended: the kind is the low byte of the trailer.
    let kind = ValueKind::from_byte((t & 0xff) as u8)?;
    Some(ParsedKey {
        user_key: user_key(internal_key),
        seq: t >> 8,
        kind,
    })
}

/// Orders two encoded internal keys: user key ascending, then trailer descending.
#[inline]
pub(crate) fn compare_internal(a: &[u8], b: &[u8]) -> Ordering {
    compare_user_keys(user_key(a), user_key(b)).then_with(|| trailer(b).cmp(&trailer(a)))
}

/// Bytewise order of two user keys. Keys are usually short (16 bytes in db_bench), and
/// neighbours in a scan share long prefixes, so short keys are compared eight bytes at a
/// time in registers rather than through a call to `memcmp`; long keys go to `memcmp`.
#[inline]
pub(crate) fn compare_user_keys(a: &[u8], b: &[u8]) -> Ordering {
    const WORD: usize = 8;
    const INLINE_UP_TO: usize = 32;
    let n = a.len().min(b.len());
    if n > INLINE_UP_TO {
        return a.cmp(b);
    }
    let (mut x, mut y) = (a, b);
    while let (Some((wa, ra)), Some((wb, rb))) =
        (x.split_first_chunk::<WORD>(), y.split_first_chunk::<WORD>())
    {
        let (wa, wb) = (u64::from_be_bytes(*wa), u64::from_be_bytes(*wb));
        if wa != wb {
            return wa.cmp(&wb);
        }
        x = ra;
        y = rb;
    }
    for (ca, cb) in x.iter().zip(y) {
        if ca != cb {
            return ca.cmp(cb);
        }
    }
    x.len().cmp(&y.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_of_a_key_sort_first() {
        let old = make_internal_key(b"k", 1, ValueKind::Put);
        let new = make_internal_key(b"k", 2, ValueKind::Delete);
        let next = make_internal_key(b"k\0", 0, ValueKind::Put);
        assert_eq!(compare_internal(&new, &old), Ordering::Less);
        assert_eq!(compare_internal(&old, &next), Ordering::Less);
        let parsed = parse_internal_key(&new).unwrap();
        assert_eq!(parsed.user_key, b"k");
        assert_eq!(parsed.seq, 2);
        assert_eq!(parsed.kind, ValueKind::Delete);
    }

    proptest::proptest! {
        #[test]
        fn user_key_order_is_bytewise(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
            shared in 0usize..40,
        ) {
            // Also compare keys sharing a prefix, the common case in a sorted run.
            let mut c = a.iter().take(shared).copied().collect::<Vec<u8>>();
            c.extend_from_slice(&b);
            proptest::prop_assert_eq!(compare_user_keys(&a, &b), a.cmp(&b));
            proptest::prop_assert_eq!(compare_user_keys(&a, &c), a.cmp(&c));
            proptest::prop_assert_eq!(compare_user_keys(&c, &a), c.cmp(&a));
        }
    }

    #[test]
    fn bad_kind_or_short_key_is_rejected() {
        assert!(parse_internal_key(b"short").is_none());
        let mut key = make_internal_key(b"k", 5, ValueKind::Put);
        key[1] = 9;
        assert!(parse_internal_key(&key).is_none());
    }
}
