//! Little-endian fixed-width and LEB128 varint encodings shared by every on-disk format.
//!
//! Decoders take a cursor (`&mut &[u8]`) and return `None` when the input is too short
//! or malformed; the caller turns that into an [`crate::Error::Corruption`] that names
//! the file and offset.

/// Appends `v` as a LEB128 varint (at most 10 bytes).
pub(crate) fn put_varint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        // Truncation intended: the low 7 bits plus the continuation bit.
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Appends `bytes` prefixed with its length as a varint.
pub(crate) fn put_length_prefixed(dst: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(dst, bytes.len() as u64);
    dst.extend_from_slice(bytes);
}

/// Decodes a varint, advancing the cursor.
#[inline]
pub(crate) fn get_varint(src: &mut &[u8]) -> Option<u64> {
    // Fast path: lengths in blocks are almost always below 128, one byte.
    if let Some((&first, rest)) = src.split_first() {
        if first < 0x80 {
            *src = rest;
            return Some(u64::from(first));
        }
    }
    get_varint_slow(src)
}

fn get_varint_slow(src: &mut &[u8]) -> Option<u64> {
    let mut result = 0u64;
    for (i, &byte) in src.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return None; // would overflow 64 bits
        }
        result |= bits << (7 * i);
        if byte & 0x80 == 0 {
            *src = &src[i + 1..];
            return Some(result);
        }
    }
    None
}

/// Decodes a varint that must fit in `usize`.
pub(crate) fn get_varint_usize(src: &mut &[u8]) -> Option<usize> {
    get_varint(src).and_then(|v| usize::try_from(v).ok())
}

/// Decodes a length-prefixed byte string, advancing the cursor.
pub(crate) fn get_length_prefixed<'a>(src: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = get_varint_usize(src)?;
    take(src, len)
}

/// Takes `n` bytes off the front of the cursor.
pub(crate) fn take<'a>(src: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if src.len() < n {
        return None;
    }
    let (head, tail) = src.split_at(n);
    *src = tail;
    Some(head)
}

/// Decodes a little-endian u32, advancing the cursor.
pub(crate) fn get_u32(src: &mut &[u8]) -> Option<u32> {
    let bytes = take(src, 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Decodes a little-endian u64, advancing the cursor.
pub(crate) fn get_u64(src: &mut &[u8]) -> Option<u64> {
    let bytes = take(src, 8)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Reads a little-endian u32 at `pos` without a cursor.
pub(crate) fn read_u32_at(src: &[u8], pos: usize) -> Option<u32> {
    let bytes = src.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            255,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut cursor = buf.as_slice();
            assert_eq!(get_varint(&mut cursor), Some(v));
            assert!(cursor.is_empty());
        }
    }

    #[test]
    fn truncated_or_overlong_varints_are_rejected() {
        assert_eq!(get_varint(&mut [0x80u8, 0x80].as_slice()), None);
        assert_eq!(get_varint(&mut [0xffu8; 11].as_slice()), None);
        assert_eq!(get_length_prefixed(&mut [5u8, 1, 2].as_slice()), None);
    }
}
