//! A version edit: one change to the set of live tables, as recorded in the manifest.
//!
//! Encoding: a sequence of fields, each a varint tag followed by its body:
//! 1 log number (varint); 2 next file number (varint); 3 last sequence (varint);
//! 4 deleted file (varint level, varint number); 5 added file (varint level, varint
//! number, varint size, length-prefixed smallest and largest internal keys, varint
//! smallest and largest sequence, varint entries, varint deletions).
//! An unknown tag is corruption. See `docs/manifest.md`.

use crate::coding::{
    get_length_prefixed, get_varint, get_varint_usize, put_length_prefixed, put_varint,
};
use crate::key::SequenceNumber;

use super::FileMeta;

const TAG_LOG_NUMBER: u64 = 1;
const TAG_NEXT_FILE: u64 = 2;
const TAG_LAST_SEQUENCE: u64 = 3;
const TAG_DELETED_FILE: u64 = 4;
const TAG_ADDED_FILE: u64 = 5;

/// A change to the live table set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    /// Logs numbered below this hold nothing that is not already in a table.
    pub log_number: Option<u64>,
    pub next_file_number: Option<u64>,
    pub last_sequence: Option<SequenceNumber>,
    pub deleted: Vec<(usize, u64)>,
    pub added: Vec<(usize, FileMeta)>,
}

impl VersionEdit {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |tag: u64, v: Option<u64>| {
            if let Some(v) = v {
                put_varint(&mut out, tag);
                put_varint(&mut out, v);
            }
        };
        field(TAG_LOG_NUMBER, self.log_number);
        field(TAG_NEXT_FILE, self.next_file_number);
        field(TAG_LAST_SEQUENCE, self.last_sequence);
        for &(level, number) in &self.deleted {
            put_varint(&mut out, TAG_DELETED_FILE);
            put_varint(&mut out, level as u64);
            put_varint(&mut out, number);
        }
        for (level, f) in &self.added {
            put_varint(&mut out, TAG_ADDED_FILE);
            put_varint(&mut out, *level as u64);
            put_varint(&mut out, f.number);
            put_varint(&mut out, f.file_size);
            put_length_prefixed(&mut out, &f.smallest);
            put_length_prefixed(&mut out, &f.largest);
            put_varint(&mut out, f.smallest_seq);
            put_varint(&mut out, f.largest_seq);
            put_varint(&mut out, f.num_entries);
            put_varint(&mut out, f.num_deletions);
        }
        out
    }

    /// Decodes an edit; `Err` says what is wrong.
    pub(crate) fn decode(mut src: &[u8]) -> Result<Self, String> {
        let mut edit = VersionEdit::default();
        while !src.is_empty() {
            let tag = get_varint(&mut src).ok_or("bad field tag")?;
            let bad = || format!("malformed field with tag {tag}");
            match tag {
                TAG_LOG_NUMBER => edit.log_number = Some(get_varint(&mut src).ok_or_else(bad)?),
                TAG_NEXT_FILE => {
                    edit.next_file_number = Some(get_varint(&mut src).ok_or_else(bad)?)
                }
                TAG_LAST_SEQUENCE => {
                    edit.last_sequence = Some(get_varint(&mut src).ok_or_else(bad)?)
                }
                TAG_DELETED_FILE => {
                    let level = get_varint_usize(&mut src).ok_or_else(bad)?;
                    let number = get_varint(&mut src).ok_or_else(bad)?;
                    edit.deleted.push((level, number));
                }
                TAG_ADDED_FILE => {
                    let f = (|| {
                        let level = get_varint_usize(&mut src)?;
                        let number = get_varint(&mut src)?;
                        let file_size = get_varint(&mut src)?;
                        let smallest = get_length_prefixed(&mut src)?.to_vec();
                        let largest = get_length_prefixed(&mut src)?.to_vec();
                        Some((
                            level,
                            FileMeta {
                                number,
                                file_size,
                                smallest,
                                largest,
                                smallest_seq: get_varint(&mut src)?,
                                largest_seq: get_varint(&mut src)?,
                                num_entries: get_varint(&mut src)?,
                                num_deletions: get_varint(&mut src)?,
                            },
                        ))
                    })()
                    .ok_or_else(bad)?;
                    if crate::key::parse_internal_key(&f.1.smallest).is_none()
                        || crate::key::parse_internal_key(&f.1.largest).is_none()
                    {
                        return Err(format!("table {} has undecodable key bounds", f.1.number));
                    }
                    edit.added.push(f);
                }
                _ => return Err(format!("unknown field tag {tag}")),
            }
        }
        Ok(edit)
    }
}
