//! Table properties: counts and sizes recorded when a table is written.
//!
//! Encoding: a sequence of (length-prefixed name, varint value) pairs. Unknown names are
//! skipped, so later versions may add properties.

use crate::coding::{get_length_prefixed, get_varint, put_length_prefixed, put_varint};

/// Facts about one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableProperties {
    pub num_entries: u64,
    pub num_deletions: u64,
    pub raw_key_bytes: u64,
    pub raw_value_bytes: u64,
    pub data_blocks: u64,
    pub data_bytes: u64,
    pub index_bytes: u64,
    pub filter_bytes: u64,
    pub smallest_seq: u64,
    pub largest_seq: u64,
    /// Compression type byte the builder was asked to use.
    pub compression: u64,
}

impl TableProperties {
    fn fields(&self) -> [(&'static str, u64); 11] {
        [
            ("num_entries", self.num_entries),
            ("num_deletions", self.num_deletions),
            ("raw_key_bytes", self.raw_key_bytes),
            ("raw_value_bytes", self.raw_value_bytes),
            ("data_blocks", self.data_blocks),
            ("data_bytes", self.data_bytes),
            ("index_bytes", self.index_bytes),
            ("filter_bytes", self.filter_bytes),
            ("smallest_seq", self.smallest_seq),
            ("largest_seq", self.largest_seq),
            ("compression", self.compression),
        ]
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in self.fields() {
            put_length_prefixed(&mut out, name.as_bytes());
            put_varint(&mut out, value);
        }
        out
    }

    pub(crate) fn decode(mut src: &[u8]) -> Option<Self> {
        let mut p = TableProperties::default();
        while !src.is_empty() {
            let name = get_length_prefixed(&mut src)?;
            let value = get_varint(&mut src)?;
            let slot = match name {
                b"num_entries" => &mut p.num_entries,
                b"num_deletions" => &mut p.num_deletions,
                b"raw_key_bytes" => &mut p.raw_key_bytes,
                b"raw_value_bytes" => &mut p.raw_value_bytes,
                b"data_blocks" => &mut p.data_blocks,
                b"data_bytes" => &mut p.data_bytes,
                b"index_bytes" => &mut p.index_bytes,
                b"filter_bytes" => &mut p.filter_bytes,
                b"smallest_seq" => &mut p.smallest_seq,
                b"largest_seq" => &mut p.largest_seq,
                b"compression" => &mut p.compression,
                _ => continue,
            };
            *slot = value;
        }
        Some(p)
    }

    /// Name/value pairs for display.
    pub(crate) fn to_pairs(&self) -> Vec<(&'static str, u64)> {
        self.fields().to_vec()
    }
}
