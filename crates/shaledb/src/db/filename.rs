//! File names in a database directory.
//!
//! `NNNNNN.log` write-ahead logs, `NNNNNN.sst` tables, `MANIFEST-NNNNNN` manifests,
//! `CURRENT` (names the live manifest), `LOCK` (held while open), and `CURRENT.tmp`,
//! renamed over `CURRENT`. Other names are left alone. All numbers come from one counter, so a number names
//! one file for the life of the database. A number above [`MAX_FILE_NUMBER`] is not one
//! the counter hands out, so such a name is not the engine's either.

use std::path::{Path, PathBuf};

/// The largest file number the engine uses: far more files than a database makes in
/// its life, and low enough that the counter never overflows.
pub(crate) const MAX_FILE_NUMBER: u64 = 1 << 56;

/// The largest number a file found in the directory may carry: the counter then still
/// has 2^32 numbers to hand out below [`MAX_FILE_NUMBER`].
pub(crate) const MAX_FOUND_NUMBER: u64 = MAX_FILE_NUMBER - (1 << 32);

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FileKind {
    Log(u64),
    Table(u64),
    Manifest(u64),
    Current,
    Lock,
    Temp,
}

pub(crate) fn log_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

pub(crate) fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

pub(crate) fn current_path(dir: &Path) -> PathBuf {
    dir.join("CURRENT")
}

pub(crate) fn lock_path(dir: &Path) -> PathBuf {
    dir.join("LOCK")
}

/// The largest number among the engine's files in `names` (0 if none), which the file
/// counter must move past. A number above [`MAX_FOUND_NUMBER`], from which the counter
/// would soon run past [`MAX_FILE_NUMBER`] (where names are no longer the engine's), is
/// refused with an error that names the file: the engine did not make it.
pub(crate) fn largest_number(dir: &Path, names: &[String]) -> crate::Result<u64> {
    let numbered = names.iter().filter_map(|name| match parse(name)? {
        FileKind::Log(n) | FileKind::Table(n) | FileKind::Manifest(n) => Some((n, name)),
        _ => None,
    });
    match numbered.max() {
        Some((n, name)) if n > MAX_FOUND_NUMBER => Err(crate::Error::InvalidArgument(format!(
            "{} holds {name}, numbered too high to be one of the engine's files \
                 (at most {}); move it out of the database directory",
            dir.display(),
            MAX_FOUND_NUMBER
        ))),
        Some((n, _)) => Ok(n),
        None => Ok(0),
    }
}

/// The name and number of the manifest that `CURRENT`'s contents name (`MANIFEST-N`
/// and a newline); `None` if they name none.
pub(crate) fn parse_current(contents: &[u8]) -> Option<(&str, u64)> {
    let name = std::str::from_utf8(contents).ok()?.strip_suffix('\n')?;
    match parse(name)? {
        FileKind::Manifest(n) => Some((name, n)),
        _ => None,
    }
}

/// Classifies a file name; `None` for names the engine does not own.
pub(crate) fn parse(name: &str) -> Option<FileKind> {
    if name == "CURRENT" {
        return Some(FileKind::Current);
    }
    if name == "LOCK" {
        return Some(FileKind::Lock);
    }
    if name == "CURRENT.tmp" {
        return Some(FileKind::Temp);
    }
    if let Some(n) = name.strip_prefix("MANIFEST-") {
        return number(n).map(FileKind::Manifest);
    }
    if let Some(n) = name.strip_suffix(".log") {
        return number(n).map(FileKind::Log);
    }
    if let Some(n) = name.strip_suffix(".sst") {
        return number(n).map(FileKind::Table);
    }
    None
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n <= MAX_FILE_NUMBER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/db");
        let name = |p: PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(parse(&name(log_path(dir, 7))), Some(FileKind::Log(7)));
        assert_eq!(
            parse(&name(table_path(dir, 1234567))),
            Some(FileKind::Table(1234567))
        );
        assert_eq!(parse(&manifest_name(3)), Some(FileKind::Manifest(3)));
        assert_eq!(parse("CURRENT"), Some(FileKind::Current));
        assert_eq!(parse("x.sst"), None);
        assert_eq!(parse("notes.txt"), None);
        assert_eq!(
            parse(&format!("{MAX_FILE_NUMBER}.log")),
            Some(FileKind::Log(MAX_FILE_NUMBER))
        );
        assert_eq!(parse(&format!("{}.log", MAX_FILE_NUMBER + 1)), None);
        assert_eq!(parse(&format!("MANIFEST-{}", u64::MAX)), None);
        assert_eq!(parse("99999999999999999999999.sst"), None);
    }
}
