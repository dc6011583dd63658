//! Block handles, block trailers, compression framing and the footer.

use crate::coding::{get_u32, get_u64, get_varint, put_varint};
use crate::options::Compression;

/// Magic number at the very end of every table file ("ShaleSST" in ASCII, LE).
pub(crate) const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"ShaleSST");
/// The table format version this code writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Size of the footer.
pub(crate) const FOOTER_LEN: usize = 64;
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

/// The CRC32C stored in a block trailer.
pub(crate) fn block_crc(stored: &[u8], compression: u8) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(stored), &[compression])
}

/// The fixed-size footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub filter: BlockHandle,
    pub properties: BlockHandle,
    pub index: BlockHandle,
}

impl Footer {
    pub(crate) fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        let fields = [
            self.filter.offset,
            self.filter.size,
            self.properties.offset,
            self.properties.size,
            self.index.offset,
            self.index.size,
        ];
        for (i, v) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out[48..52].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&out[..52]);
        out[52..56].copy_from_slice(&crc.to_le_bytes());
        out[56..64].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        out
    }

    /// Decodes a footer; `Err` says what is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != FOOTER_LEN {
            return Err(format!(
                "footer is {} bytes, expected {FOOTER_LEN}",
                bytes.len()
            ));
        }
        let mut cursor = bytes;
        let mut fields = [0u64; 6];
        for f in &mut fields {
            *f = get_u64(&mut cursor).ok_or("short footer")?;
        }
        let version = get_u32(&mut cursor).ok_or("short footer")?;
        let crc = get_u32(&mut cursor).ok_or("short footer")?;
        let magic = get_u64(&mut cursor).ok_or("short footer")?;
        if magic != TABLE_MAGIC {
            return Err(format!(
                "bad magic {magic:#018x}, expected {TABLE_MAGIC:#018x}"
            ));
        }
        let actual = crc32c::crc32c(&bytes[..52]);
        if crc != actual {
            return Err(format!(
                "footer checksum {actual:#010x}, expected {crc:#010x}"
            ));
        }
        if version != FORMAT_VERSION {
            return Err(format!("unsupported table format version {version}"));
        }
        Ok(Footer {
            filter: BlockHandle {
                offset: fields[0],
                size: fields[1],
            },
            properties: BlockHandle {
                offset: fields[2],
                size: fields[3],
            },
            index: BlockHandle {
                offset: fields[4],
                size: fields[5],
            },
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
}
