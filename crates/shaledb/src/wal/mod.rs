//! The record log: the framing shared by the write-ahead log and the manifest.
//!
//! A log is a sequence of 32 KiB blocks. Each logical record is split into one or more
//! fragments that never cross a block boundary; each fragment has a 7-byte header:
//! CRC32C (4 bytes, LE, over the type byte and the payload), payload length (2 bytes,
//! LE), fragment type (1 byte: 1 full, 2 first, 3 middle, 4 last). A block tail shorter
//! than a header is zero-filled. See `docs/log.md`.
//!
//! A torn write (the crash case) leaves a short or checksum-failing fragment at the end;
//! the reader reports it and every record before it is intact.

mod reader;
mod record;
mod writer;

pub(crate) use reader::{Damage, LogReader, ReadOutcome};
pub(crate) use record::{LogLink, WalRecord};
pub(crate) use writer::LogWriter;

/// Size of a log block.
pub(crate) const BLOCK_SIZE: usize = 32 * 1024;
/// Size of a fragment header.
pub(crate) const HEADER_SIZE: usize = 7;

/// The type byte of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragmentType {
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

impl FragmentType {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }
}

/// The checksum stored in a fragment header.
fn fragment_crc(kind: u8, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload)
}

#[cfg(test)]
mod tests;
