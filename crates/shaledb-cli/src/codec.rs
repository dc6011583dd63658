//! How keys and values are written on the command line and printed: UTF-8 text by
//! default, hexadecimal with `--hex`.
//!
//! In text mode, bytes that are not UTF-8, or that hold control characters (which
//! would break the one-entry-per-line, tab-separated output), are printed escaped
//! (`\xff`, `\t`, `\n`, and then `\\` for a backslash); other text, non-ASCII
//! included, prints as it is. Text that needs no escape prints raw, backslashes and
//! all, so a key holding the two characters `\t` prints as one holding a tab does: use
//! `--hex` for binary data that must round-trip.

use std::borrow::Cow;

use crate::error::CliError;

/// The encoding of keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// UTF-8 text.
    Text,
    /// Hexadecimal, two digits per byte.
    Hex,
}

impl Codec {
    /// `Hex` if `hex`, else `Text`.
    pub fn new(hex: bool) -> Self {
        if hex {
            Codec::Hex
        } else {
            Codec::Text
        }
    }

    /// The bytes an argument names; `what` names the argument in errors.
    pub fn parse(self, what: &'static str, input: &str) -> Result<Vec<u8>, CliError> {
        match self {
            Codec::Text => Ok(input.as_bytes().to_vec()),
            Codec::Hex => hex::decode(input).map_err(|source| CliError::BadHex {
                what,
                input: input.to_string(),
                source,
            }),
        }
    }

    /// Bytes as they are printed.
    pub fn show(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Codec::Hex => Cow::Owned(hex::encode(bytes)),
            Codec::Text => match std::str::from_utf8(bytes) {
                Ok(s) if !s.chars().any(char::is_control) => Cow::Borrowed(s),
                _ => Cow::Owned(escape_text(bytes)),
            },
        }
    }
}

/// Escapes control characters, backslashes and bytes that are not UTF-8, keeping the
/// rest of the text as it is.
fn escape_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() && (c.is_control() || c == '\\') {
                out.extend(std::ascii::escape_default(c as u8).map(char::from));
            } else if c.is_control() {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_escapes_binary() {
        let t = Codec::Text;
        assert_eq!(
            t.parse("KEY", "héllo").ok(),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(t.show("héllo".as_bytes()), "héllo");
        assert_eq!(t.show(b"a\tb"), "a\\tb");
        assert_eq!(t.show(&[0xff, b'a']), "\\xffa");
        // Escaping keeps other text readable, and escapes backslashes so the escaped
        // form reads back one way.
        assert_eq!(t.show("café\u{1}".as_bytes()), "café\\x01");
        assert_eq!(t.show(b"a\\b\n"), "a\\\\b\\n");
        assert_eq!(t.show("é\u{85}".as_bytes()), "é\\u{85}");
        let mut mixed = "ü".as_bytes().to_vec();
        mixed.extend_from_slice(&[0xc3, b'\t']);
        assert_eq!(t.show(&mixed), "ü\\xc3\\t");
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_digits() {
        let h = Codec::Hex;
        assert_eq!(h.parse("KEY", "00ff10").ok(), Some(vec![0, 0xff, 0x10]));
        assert_eq!(h.show(&[0, 0xff, 0x10]), "00ff10");
        assert!(matches!(
            h.parse("KEY", "abc"),
            Err(CliError::BadHex { .. })
        ));
        assert!(matches!(h.parse("KEY", "zz"), Err(CliError::BadHex { .. })));
    }
}
