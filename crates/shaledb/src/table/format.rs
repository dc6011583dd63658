//! Block handles, block trailers, compression framing and the footer.

use crate::coding::{get_varint, put_varint};
use crate::options::Compression;

/// Magic number at the very end of every table file ("ShaleSST" in ASCII, LE).
pub(crate) const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"ShaleSST");
/// The table format version this code writes. It also reads version 1, whose block
/// checksums do not depend on where the block sits (see `docs/table.md`).
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Size of the footer this code writes (version 2).
pub(crate) const FOOTER_LEN: usize = 72;
/// Size of a version 1 footer, which has no file number: the smallest a table can be.
pub(crate) const V1_FOOTER_LEN: usize = 64;
/// Size of the trailer after each block: compression type + CRC32C.
pub(crate) const BLOCK_TRAILER_LEN: usize = 5;
/// A compressed block may claim at most this many times its stored size once
/// decompressed; the writer stores blocks that compress better than this raw. This
/// bounds what a damaged or hostile file can make a reader allocate.
pub(crate) const MAX_COMPRESSION_RATIO: usize = 4096;
/// The bound for LZ4, which cannot expand more than about 255 times (a match adds at
/// most 255 bytes per length byte), so a damaged LZ4 block may claim 16 times less.
pub(crate) const MAX_LZ4_RATIO: usize = 256;

/// The most a stored block of type `compression` may expand.
fn max_ratio(compression: u8) -> usize {
    match compression {
        1 => MAX_LZ4_RATIO,
        _ => MAX_COMPRESSION_RATIO,
    }
}

/// Where a block lives in the file (its size excludes the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    pub(crate) fn encode_to(&self, dst: &mut Vec<u8>) {
        put_varint(dst, self.offset);
        put_varint(dst, self.size);
    }

    pub(crate) fn decode_from(src: &mut &[u8]) -> Option<Self> {
        Some(BlockHandle {
            offset: get_varint(src)?,
            size: get_varint(src)?,
        })
    }
}

/// The compression-type byte of a block trailer.
pub(crate) fn compression_byte(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Lz4 => 1,
        Compression::Zstd => 2,
    }
}

/// The checksum stored in a block trailer: the CRC32C of the stored bytes and the type
/// byte, mixed, from format version 2 on, with where the block belongs (`place`: its
/// table's file number and its offset). A block copied to another offset or into
/// another table then fails its check, though its bytes are intact.
pub(crate) fn block_crc(stored: &[u8], compression: u8, place: Option<(u64, u64)>) -> u32 {
    let crc = crc32c::crc32c_append(crc32c::crc32c(stored), &[compression]);
    match place {
        Some((number, offset)) => crc ^ place_context(number, offset),
        None => crc,
    }
}

/// The 32 bits a block's place adds to its checksum: the low half of the XXH3-64 hash
/// of the file number and the offset, both u64 LE.
fn place_context(number: u64, offset: u64) -> u32 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&number.to_le_bytes());
    bytes[8..].copy_from_slice(&offset.to_le_bytes());
    // Truncation intended: the context is 32 bits, as the checksum it mixes with.
    xxhash_rust::xxh3::xxh3_64(&bytes) as u32
}

/// The fixed-size footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub filter: BlockHandle,
    pub properties: BlockHandle,
    pub index: BlockHandle,
    /// The table's file number, which its block checksums depend on; `None` in a
    /// version 1 table, whose checksums depend on nothing but the block.
    pub number: Option<u64>,
}

impl Footer {
    /// The bytes a footer takes in a table of its version.
    pub(crate) fn len(&self) -> usize {
        if self.number.is_some() {
            FOOTER_LEN
        } else {
            V1_FOOTER_LEN
        }
    }

    /// The place of the block at `offset` as its checksum covers it.
    pub(crate) fn place(&self, offset: u64) -> Option<(u64, u64)> {
        self.number.map(|n| (n, offset))
    }

    /// Encodes the footer as version 2, the only version this code writes; `number`
    /// must be set.
    pub(crate) fn encode(&self) -> [u8; FOOTER_LEN] {
        debug_assert!(self.number.is_some(), "a version 2 footer names its table");
        let mut out = [0u8; FOOTER_LEN];
        let fields = [
            self.filter.offset,
            self.filter.size,
            self.properties.offset,
            self.properties.size,
            self.index.offset,
            self.index.size,
            self.number.unwrap_or_default(),
        ];
        for (i, v) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out[56..60].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&out[..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out[64..72].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        out
    }

    /// Decodes the footer at the end of `tail`, the last [`FOOTER_LEN`] bytes of a
    /// table, or all of it when the table is shorter. `Err` says what is wrong, and
    /// where in `tail` the footer it judged starts.
    ///
    /// Both versions end the same way: the version (u32), the checksum of the footer
    /// bytes before it (u32) and the magic (u64). The version says where the footer
    /// starts: 64 bytes from the end for version 1, 72 for version 2.
    pub(crate) fn decode(tail: &[u8]) -> Result<Self, (usize, String)> {
        if tail.len() < V1_FOOTER_LEN {
            let detail = format!(
                "footer is {} bytes, expected at least {V1_FOOTER_LEN}",
                tail.len()
            );
            return Err((0, detail));
        }
        let word =
            |at: usize| u32::from_le_bytes([tail[at], tail[at + 1], tail[at + 2], tail[at + 3]]);
        let end = tail.len() - 16;
        let (version, crc) = (word(end), word(end + 4));
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&tail[end + 8..]);
        let magic = u64::from_le_bytes(magic);
        // A version that is neither is judged as the shorter footer, so that damage to
        // the version itself reads as a checksum mismatch.
        let len = if version == FORMAT_VERSION && tail.len() >= FOOTER_LEN {
            FOOTER_LEN
        } else {
            V1_FOOTER_LEN
        };
        let start = tail.len() - len;
        if magic != TABLE_MAGIC {
            let detail = format!("bad magic {magic:#018x}, expected {TABLE_MAGIC:#018x}");
            return Err((start, detail));
        }
        let actual = crc32c::crc32c(&tail[start..end + 4]);
        if crc != actual {
            let detail = format!("footer checksum {actual:#010x}, expected {crc:#010x}");
            return Err((start, detail));
        }
        if version != FORMAT_VERSION && version != 1 {
            let detail = format!("unsupported table format version {version}");
            return Err((start, detail));
        }
        if version == FORMAT_VERSION && len != FOOTER_LEN {
            let detail = format!("table of {} bytes is too short for its footer", tail.len());
            return Err((start, detail));
        }
        let field = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&tail[start + i * 8..start + i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        Ok(Footer {
            filter: BlockHandle {
                offset: field(0),
                size: field(1),
            },
            properties: BlockHandle {
                offset: field(2),
                size: field(3),
            },
            index: BlockHandle {
                offset: field(4),
                size: field(5),
            },
            number: (len == FOOTER_LEN).then(|| field(6)),
        })
    }
}

/// Compresses `raw` for storage; returns the type byte and the stored bytes, or `None`
/// when storing the block raw is better.
pub(crate) fn compress(raw: &[u8], compression: Compression) -> Option<(u8, Vec<u8>)> {
    let body = match compression {
        Compression::None => return None,
        Compression::Lz4 => lz4_flex::block::compress(raw),
        Compression::Zstd => zstd::bulk::compress(raw, 3).ok()?,
    };
    let mut stored = Vec::with_capacity(body.len() + 5);
    put_varint(&mut stored, raw.len() as u64);
    stored.extend_from_slice(&body);
    // Keep the compressed form only if it saves at least 1/8 and stays within the
    // ratio a reader accepts.
    let saves_enough = stored.len() < raw.len() - raw.len() / 8;
    let kind = compression_byte(compression);
    let bounded = raw.len() <= stored.len().saturating_mul(max_ratio(kind));
    (saves_enough && bounded).then_some((kind, stored))
}

/// Reverses [`compress`]; `Err` says what is wrong.
pub(crate) fn decompress(stored: &[u8], compression: u8) -> Result<Vec<u8>, String> {
    if compression == 0 {
        return Ok(stored.to_vec());
    }
    let mut cursor = stored;
    let raw_len = get_varint(&mut cursor)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or("bad uncompressed length")?;
    if raw_len > stored.len().saturating_mul(max_ratio(compression)) {
        return Err(format!(
            "block claims {raw_len} bytes uncompressed from {} stored",
            stored.len()
        ));
    }
    let raw = match compression {
        1 => lz4_flex::block::decompress(cursor, raw_len).map_err(|e| e.to_string())?,
        2 => zstd::bulk::decompress(cursor, raw_len).map_err(|e| e.to_string())?,
        other => return Err(format!("unknown compression type {other}")),
    };
    if raw.len() != raw_len {
        return Err(format!(
            "block decompressed to {} bytes, expected {raw_len}",
            raw.len()
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coding::put_varint;

    #[test]
    fn lz4_never_needs_more_than_its_bound_and_larger_claims_are_refused() {
        // The most compressible input there is still fits LZ4's bound.
        for len in [4 << 10, 1 << 20, 16 << 20] {
            let raw = vec![0u8; len];
            let (kind, stored) = compress(&raw, Compression::Lz4).expect("zeros compress");
            assert!(raw.len() <= stored.len() * MAX_LZ4_RATIO, "{len} bytes");
            assert_eq!(decompress(&stored, kind).unwrap(), raw);
        }
        // A damaged LZ4 block claiming more is refused before anything is allocated.
        let mut forged = Vec::new();
        put_varint(&mut forged, (MAX_LZ4_RATIO * 64) as u64);
        forged.resize(63, 0);
        let err = decompress(&forged, 1).unwrap_err();
        assert!(err.contains("claims"), "{err}");
        // The same claim is within Zstd's (looser) bound, and fails on its content.
        let err = decompress(&forged, 2).unwrap_err();
        assert!(!err.contains("claims"), "{err}");
    }

    fn handles() -> (BlockHandle, BlockHandle, BlockHandle) {
        let h = |offset, size| BlockHandle { offset, size };
        (h(100, 20), h(125, 30), h(160, 40))
    }

    /// A version 1 footer as tables up to 1860f16 wrote it (docs/table.md, "Version 1").
    fn v1_footer() -> Vec<u8> {
        let (filter, properties, index) = handles();
        let mut out = Vec::new();
        for v in [
            filter.offset,
            filter.size,
            properties.offset,
            properties.size,
        ] {
            out.extend_from_slice(&u64::to_le_bytes(v));
        }
        for v in [index.offset, index.size] {
            out.extend_from_slice(&u64::to_le_bytes(v));
        }
        out.extend_from_slice(&1u32.to_le_bytes());
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
        out
    }

    #[test]
    fn both_footer_versions_decode_and_errors_point_at_the_footer_read() {
        let (filter, properties, index) = handles();
        let v2 = Footer {
            filter,
            properties,
            index,
            number: Some(42),
        };
        assert_eq!(Footer::decode(&v2.encode()), Ok(v2));
        // Preceded by other bytes, as in the last 72 bytes of a version 1 table.
        let mut tail = vec![9u8; 8];
        tail.extend(v1_footer());
        let v1 = Footer::decode(&tail).unwrap();
        assert_eq!((v1.number, v1.index, v1.len()), (None, index, 64));
        // Damage is reported where the footer judged starts: 8 bytes in for version 1.
        tail[20] ^= 1;
        assert!(matches!(Footer::decode(&tail), Err((8, e)) if e.contains("checksum")));
        let mut bad = v2.encode();
        bad[50] ^= 1; // the file number
        assert!(matches!(Footer::decode(&bad), Err((0, e)) if e.contains("checksum")));
        bad[50] ^= 1;
        bad[56] = 3; // the version
        assert!(matches!(Footer::decode(&bad), Err((8, e)) if e.contains("checksum")));
        // A table as short as a version 1 footer decodes; shorter is an error.
        assert!(Footer::decode(&v1_footer()).is_ok());
        assert!(Footer::decode(&v1_footer()[1..]).is_err());
    }
}
