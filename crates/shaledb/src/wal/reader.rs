//! Reads records back from a log file held in memory.
//!
//! The reader never panics on damaged input. It returns each intact record, and stops
//! at the first damaged fragment with [`ReadOutcome::Damaged`], which names the offset
//! and tells a truncated tail (the log simply ends early, as after a torn write) from
//! corrupt bytes (present but wrong). A length field damaged to point past the end of
//! the log would look truncated; the reader checks whether some shorter length makes
//! the checksum match and reports that as corruption. Recovery stops there; repair
//! reads on with [`LogReader::resync`].

use super::{fragment_crc, FragmentType, BLOCK_SIZE, HEADER_SIZE};

/// How a log is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The log ends inside a record: what a crash during an append leaves.
    Truncated,
    /// Bytes are present but wrong: a checksum mismatch or an impossible field.
    Corrupt,
}

/// One step of reading a log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// A whole record, and the offset where it starts.
    Record { offset: u64, data: Vec<u8> },
    /// The log ends cleanly here.
    Eof,
    /// A fragment at `offset` is torn or corrupt; nothing after it is returned unless
    /// [`LogReader::resync`] is called.
    Damaged {
        offset: u64,
        damage: Damage,
        reason: String,
    },
}

/// Iterates the records of a log image.
pub(crate) struct LogReader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Where the last record read ends.
    record_end: usize,
    failed: bool,
    /// After [`LogReader::resync`]: fragments that end a record begun before the
    /// resync point are skipped until a record starts.
    resyncing: bool,
    /// Where the fragment being read starts.
    fragment_start: usize,
    /// Set when the damage is an intact fragment out of sequence: where reading can
    /// resume (at it if it starts a record, after it otherwise).
    restart_at: Option<usize>,
}

impl<'a> LogReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        LogReader {
            buf,
            pos: 0,
            record_end: 0,
            failed: false,
            resyncing: false,
            fragment_start: 0,
            restart_at: None,
        }
    }

    /// After [`ReadOutcome::Damaged`], moves on to the block after the damaged fragment
    /// and reads on from the first record that starts there or later (the rest of a
    /// record begun before is skipped), as LevelDB's reader does when it reports damage
    /// and goes on. When the damage is an intact fragment out of sequence, reading
    /// resumes at it if it starts a record (the one before was cut short), or just
    /// after it if it continues one whose start was lost. Records
    /// after damage may depend on the ones lost in it, so only repair reads on; recovery
    /// stops at the damage.
    pub(crate) fn resync(&mut self) {
        if self.failed {
            self.pos = match self.restart_at.take() {
                Some(start) => start,
                None => (self.fragment_start / BLOCK_SIZE + 1) * BLOCK_SIZE,
            };
            self.failed = false;
            self.resyncing = true;
        }
    }

    /// The offset just past the last record read: the end of its last fragment.
    pub(crate) fn end_of_last_record(&self) -> u64 {
        self.record_end as u64
    }

    /// Reads the next record.
    pub(crate) fn read_record(&mut self) -> ReadOutcome {
        if self.failed {
            return ReadOutcome::Eof;
        }
        let mut record: Vec<u8> = Vec::new();
        let mut record_start: Option<usize> = None;
        loop {
            let block_left = BLOCK_SIZE - self.pos % BLOCK_SIZE;
            if block_left < HEADER_SIZE {
                // A zero-filled block trailer.
                self.pos += block_left;
            }
            let frag_start = self.pos;
            self.fragment_start = frag_start;
            let remaining = self.buf.len().saturating_sub(self.pos);
            if remaining == 0 {
                return match record_start {
                    None => ReadOutcome::Eof,
                    Some(start) => {
                        self.damaged(start, Damage::Truncated, "log ends inside a record")
                    }
                };
            }
            if remaining < HEADER_SIZE {
                if record_start.is_none() && self.only_zeros_left() {
                    // Zeros too short for a header: the end of a preallocated tail.
                    return ReadOutcome::Eof;
                }
                return self.damaged(
                    frag_start,
                    Damage::Truncated,
                    "log ends inside a fragment header",
                );
            }
            let header = &self.buf[self.pos..self.pos + HEADER_SIZE];
            let crc = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let len = usize::from(u16::from_le_bytes([header[4], header[5]]));
            let kind_byte = header[6];
            if crc == 0 && len == 0 && kind_byte == 0 {
                // Zeroes where a header should be. A writer never writes a zero header,
                // so if only zeroes follow, the log ends here: preallocated space
                // between records is its clean end, inside a record a torn write.
                // Anything after the zeroes is corruption.
                let damage = if self.only_zeros_left() {
                    if record_start.is_none() {
                        return ReadOutcome::Eof;
                    }
                    Damage::Truncated
                } else {
                    Damage::Corrupt
                };
                return self.damaged(
                    record_start.unwrap_or(frag_start),
                    damage,
                    "zeroed fragment header",
                );
            }
            let payload_start = self.pos + HEADER_SIZE;
            let block_end = self.pos - self.pos % BLOCK_SIZE + BLOCK_SIZE;
            if payload_start + len > block_end {
                return self.damaged(
                    frag_start,
                    Damage::Corrupt,
                    "fragment length crosses a block boundary",
                );
            }
            if payload_start + len > self.buf.len() {
                let available = &self.buf[payload_start..];
                let damage = if shorter_length_matches(kind_byte, available, crc) {
                    Damage::Corrupt
                } else {
                    Damage::Truncated
                };
                return self.damaged(frag_start, damage, "log ends inside a fragment");
            }
            let payload = &self.buf[payload_start..payload_start + len];
            if fragment_crc(kind_byte, payload) != crc {
                return self.damaged(frag_start, Damage::Corrupt, "fragment checksum mismatch");
            }
            let Some(kind) = FragmentType::from_byte(kind_byte) else {
                return self.damaged(frag_start, Damage::Corrupt, "unknown fragment type");
            };
            self.pos = payload_start + len;
            if self.resyncing {
                match kind {
                    FragmentType::Middle | FragmentType::Last => continue,
                    FragmentType::Full | FragmentType::First => self.resyncing = false,
                }
            }
            match (kind, record_start) {
                (FragmentType::Full, None) => {
                    self.record_end = self.pos;
                    return ReadOutcome::Record {
                        offset: frag_start as u64,
                        data: payload.to_vec(),
                    };
                }
                (FragmentType::First, None) => {
                    record_start = Some(frag_start);
                    record.extend_from_slice(payload);
                }
                (FragmentType::Middle, Some(_)) => record.extend_from_slice(payload),
                (FragmentType::Last, Some(start)) => {
                    record.extend_from_slice(payload);
                    self.record_end = self.pos;
                    return ReadOutcome::Record {
                        offset: start as u64,
                        data: record,
                    };
                }
                _ => {
                    // The fragment itself is intact. A record start ends the one cut
                    // short before it and can be read from there; an orphaned middle
                    // or end is passed over.
                    self.restart_at = Some(match kind {
                        FragmentType::Full | FragmentType::First => frag_start,
                        FragmentType::Middle | FragmentType::Last => self.pos,
                    });
                    return self.damaged(frag_start, Damage::Corrupt, "fragment out of sequence");
                }
            }
        }
    }

    /// True if every byte from the read position to the end of the log is zero.
    fn only_zeros_left(&self) -> bool {
        self.buf[self.pos..].iter().all(|&b| b == 0)
    }

    fn damaged(&mut self, offset: usize, damage: Damage, reason: &str) -> ReadOutcome {
        self.failed = true;
        ReadOutcome::Damaged {
            offset: offset as u64,
            damage,
            reason: reason.to_string(),
        }
    }
}

/// True if some prefix of `available` carries checksum `crc`: the fragment's bytes are
/// all there and only its length field is wrong.
fn shorter_length_matches(kind: u8, available: &[u8], crc: u32) -> bool {
    let mut running = crc32c::crc32c(&[kind]);
    if running == crc {
        return true;
    }
    available.iter().any(|&b| {
        running = crc32c::crc32c_append(running, &[b]);
        running == crc
    })
}
