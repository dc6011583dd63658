//! [`WriteBatch`]: a group of puts and deletes applied atomically.
//!
//! Encoding (also the payload of each write-ahead-log record): an 8-byte LE starting
//! sequence number, a 4-byte LE entry count, then per entry a kind byte (1 put,
//! 0 delete), the length-prefixed key and, for a put, the length-prefixed value.
//! Entry `i` gets sequence number `start + i`. See `docs/log.md`.

use crate::coding::{get_length_prefixed, get_u32, get_u64, put_length_prefixed};
use crate::key::{SequenceNumber, ValueKind, MAX_SEQUENCE};

pub(crate) const BATCH_HEADER_LEN: usize = 12;

/// A set of writes applied atomically by [`crate::Db::write`].
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("entries", &self.len())
            .field("bytes", &self.rep.len())
            .finish()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch {
            rep: vec![0; BATCH_HEADER_LEN],
        }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.rep.push(ValueKind::Put as u8);
        put_length_prefixed(&mut self.rep, key.as_ref());
        put_length_prefixed(&mut self.rep, value.as_ref());
        self.bump_count();
        self
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.rep.push(ValueKind::Delete as u8);
        put_length_prefixed(&mut self.rep, key.as_ref());
        self.bump_count();
        self
    }

    /// Number of puts and deletes in the batch.
    pub fn len(&self) -> usize {
        self.count() as usize
    }

    /// True if the batch holds no writes.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Removes every write from the batch.
    pub fn clear(&mut self) {
        self.rep.clear();
        self.rep.resize(BATCH_HEADER_LEN, 0);
    }

    /// Size of the encoded batch in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.rep.len()
    }

    fn count(&self) -> u32 {
        let mut header = &self.rep[8..BATCH_HEADER_LEN];
        get_u32(&mut header).unwrap_or(0)
    }

    fn bump_count(&mut self) {
        let n = self.count().wrapping_add(1);
        self.rep[8..BATCH_HEADER_LEN].copy_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn set_sequence(&mut self, seq: SequenceNumber) {
        self.rep[..8].copy_from_slice(&seq.to_le_bytes());
    }

    pub(crate) fn encoded(&self) -> &[u8] {
        &self.rep
    }

    /// Appends every entry of `other` to this batch (used by group commit).
    pub(crate) fn append(&mut self, other: &WriteBatch) {
        let n = self.count().wrapping_add(other.count());
        self.rep.extend_from_slice(&other.rep[BATCH_HEADER_LEN..]);
        self.rep[8..BATCH_HEADER_LEN].copy_from_slice(&n.to_le_bytes());
    }
}

/// One decoded entry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchEntry<'a> {
    pub kind: ValueKind,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// A batch decoded from a log record; entries are checked as they are read.
#[derive(Debug)]
pub(crate) struct DecodedBatch<'a> {
    pub sequence: SequenceNumber,
    pub count: u32,
    entries: &'a [u8],
}

impl<'a> DecodedBatch<'a> {
    /// Decodes and fully validates an encoded batch; `Err` names what is wrong.
    pub(crate) fn decode(rep: &'a [u8]) -> Result<Self, String> {
        let mut cursor = rep;
        let sequence = get_u64(&mut cursor).ok_or("batch shorter than its header")?;
        let count = get_u32(&mut cursor).ok_or("batch shorter than its header")?;
        let batch = DecodedBatch {
            sequence,
            count,
            entries: cursor,
        };
        let mut seen = 0u32;
        for entry in batch.iter() {
            entry?;
            seen = seen.saturating_add(1);
        }
        if seen != count {
            return Err(format!("batch header says {count} entries, found {seen}"));
        }
        if count > 0 && batch.last_sequence().is_none() {
            return Err(format!(
                "batch of {count} entries at sequence number {sequence} is out of range"
            ));
        }
        Ok(batch)
    }

    /// The sequence number of the batch's last entry; `None` if the batch is empty or
    /// its entries' numbers are not all in `1..=MAX_SEQUENCE`.
    pub(crate) fn last_sequence(&self) -> Option<SequenceNumber> {
        let last = self
            .sequence
            .checked_add(u64::from(self.count.checked_sub(1)?))?;
        (self.sequence >= 1 && last <= MAX_SEQUENCE).then_some(last)
    }

    /// Decodes the batch's entries in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Result<BatchEntry<'a>, String>> + 'a {
        let mut cursor = self.entries;
        std::iter::from_fn(move || {
            if cursor.is_empty() {
                return None;
            }
            let kind_byte = cursor[0];
            cursor = &cursor[1..];
            let entry = match ValueKind::from_byte(kind_byte) {
                Some(ValueKind::Put) => get_length_prefixed(&mut cursor).and_then(|key| {
                    get_length_prefixed(&mut cursor).map(|value| BatchEntry {
                        kind: ValueKind::Put,
                        key,
                        value,
                    })
                }),
                Some(ValueKind::Delete) => get_length_prefixed(&mut cursor).map(|key| BatchEntry {
                    kind: ValueKind::Delete,
                    key,
                    value: &[],
                }),
                None => None,
            };
            match entry {
                Some(e) => Some(Ok(e)),
                None => {
                    cursor = &[];
                    Some(Err(format!(
                        "malformed batch entry (kind byte {kind_byte})"
                    )))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1").delete(b"b").put(b"", b"");
        let mut other = WriteBatch::new();
        other.put(vec![0xffu8; 300], vec![0u8; 70_000]);
        batch.append(&other);
        batch.set_sequence(42);
        let decoded = DecodedBatch::decode(batch.encoded()).unwrap();
        assert_eq!(decoded.sequence, 42);
        assert_eq!(decoded.count, 4);
        let entries: Vec<_> = decoded.iter().map(|e| e.unwrap()).collect();
        assert_eq!(entries[0].key, b"a");
        assert_eq!(entries[1].kind, ValueKind::Delete);
        assert_eq!(entries[2].key, b"");
        assert_eq!(entries[3].value.len(), 70_000);
    }

    #[test]
    fn batches_numbered_out_of_range_are_rejected() {
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1").put(b"b", b"2");
        for (seq, ok) in [
            (0, false),
            (1, true),
            (MAX_SEQUENCE - 1, true),
            (MAX_SEQUENCE, false),
            (u64::MAX, false),
        ] {
            batch.set_sequence(seq);
            let decoded = DecodedBatch::decode(batch.encoded());
            assert_eq!(decoded.is_ok(), ok, "sequence {seq}");
        }
        // An empty batch holds no number to check.
        let mut empty = WriteBatch::new();
        empty.set_sequence(0);
        assert!(DecodedBatch::decode(empty.encoded()).is_ok());
    }

    #[test]
    fn truncated_batches_are_rejected() {
        let mut batch = WriteBatch::new();
        batch.put(b"key", b"value").delete(b"gone");
        let rep = batch.encoded();
        for cut in 0..rep.len() {
            assert!(DecodedBatch::decode(&rep[..cut]).is_err(), "cut at {cut}");
        }
    }
}
