//! What a write-ahead-log record holds: a write batch, or the link that opens a log
//! started by a memtable switch.
//!
//! A log closed by a switch is not synced then (that would stall every writer behind
//! the switch for as long as the old log takes to reach the disk); it becomes durable
//! with the next sync, or stops mattering once its memtable is flushed. Until then a
//! power loss may cut its tail while records of the newer log survive. The link, the
//! first record of the newer log, says how long the older log was when it was closed,
//! so replay can see the cut and stop there instead of resuming after a gap (see
//! `docs/log.md`).
//!
//! Encoding of a link (28 bytes): the 12-byte batch header with sequence 0 and count 0
//! (no batch is logged with either), then the older log's number (u64 LE) and its
//! length in bytes when closed (u64 LE).

use crate::batch::{DecodedBatch, BATCH_HEADER_LEN};

/// The size of an encoded [`LogLink`].
const LINK_LEN: usize = BATCH_HEADER_LEN + 16;

/// Where the log before this one ended when this one was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogLink {
    /// The older log's file number.
    pub previous: u64,
    /// Its length in bytes (the end of its last record) when it was closed.
    pub length: u64,
}

impl LogLink {
    pub(crate) fn encode(&self) -> [u8; LINK_LEN] {
        let mut out = [0u8; LINK_LEN];
        out[BATCH_HEADER_LEN..BATCH_HEADER_LEN + 8].copy_from_slice(&self.previous.to_le_bytes());
        out[BATCH_HEADER_LEN + 8..].copy_from_slice(&self.length.to_le_bytes());
        out
    }
}

/// A decoded write-ahead-log record.
#[derive(Debug)]
pub(crate) enum WalRecord<'a> {
    Batch(DecodedBatch<'a>),
    Link(LogLink),
}

impl<'a> WalRecord<'a> {
    /// Decodes and validates a record; `Err` names what is wrong.
    pub(crate) fn decode(data: &'a [u8]) -> Result<Self, String> {
        if let Some((header, body)) = data.split_first_chunk::<BATCH_HEADER_LEN>() {
            // Sequence 0 and count 0, which no logged batch has, then exactly 16 bytes.
            if header == &[0; BATCH_HEADER_LEN] && body.len() == LINK_LEN - BATCH_HEADER_LEN {
                let (previous, length) = body.split_at(8);
                return Ok(WalRecord::Link(LogLink {
                    previous: u64::from_le_bytes(previous.try_into().map_err(|_| "short link")?),
                    length: u64::from_le_bytes(length.try_into().map_err(|_| "short link")?),
                }));
            }
        }
        DecodedBatch::decode(data).map(WalRecord::Batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::WriteBatch;

    #[test]
    fn a_link_round_trips_and_is_told_from_a_batch() {
        let link = LogLink {
            previous: 41,
            length: 123_456_789,
        };
        match WalRecord::decode(&link.encode()) {
            Ok(WalRecord::Link(decoded)) => assert_eq!(decoded, link),
            other => panic!("expected a link, got {other:?}"),
        }
        let mut batch = WriteBatch::new();
        batch.put("k", "v");
        batch.set_sequence(7);
        match WalRecord::decode(batch.encoded()) {
            Ok(WalRecord::Batch(b)) => assert_eq!((b.sequence, b.count), (7, 1)),
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn a_damaged_link_is_an_error_not_a_batch() {
        let mut bytes = LogLink {
            previous: 3,
            length: 9,
        }
        .encode()
        .to_vec();
        // One byte more or less, or a nonzero sequence: not a link, and not a batch.
        bytes.push(0);
        assert!(WalRecord::decode(&bytes).is_err());
        bytes.truncate(LINK_LEN - 1);
        assert!(WalRecord::decode(&bytes).is_err());
        let mut bytes = LogLink {
            previous: 3,
            length: 9,
        }
        .encode();
        bytes[0] = 1;
        assert!(WalRecord::decode(&bytes).is_err());
    }
}
