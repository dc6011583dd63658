//! `scan`: entries in a key range, optionally under a prefix, either direction.
//!
//! `--from`, `--to` and `--prefix` combine into one range: the larger of the lower
//! bounds and the smaller of the upper bounds, where a prefix spans from itself up to
//! (not including) its successor, the prefix with its last non-0xff byte incremented.

use std::io::Write;
use std::ops::Bound;

use crate::cli::ScanArgs;
use crate::codec::Codec;
use crate::error::CliError;
use crate::open::{close, open_read_only};

type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The smallest key greater than every key that starts with `prefix`, or `None` if
/// there is none (the prefix is empty or all 0xff).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let end = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut next = prefix[..=end].to_vec();
    next[end] += 1;
    Some(next)
}

/// The range a scan covers.
fn bounds(from: Option<Vec<u8>>, to: Option<Vec<u8>>, prefix: Option<Vec<u8>>) -> Range {
    let mut lower = from.map_or(Bound::Unbounded, Bound::Included);
    let mut upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    if let Some(prefix) = prefix {
        let raise = match &lower {
            Bound::Included(k) => prefix > *k,
            _ => true,
        };
        if raise {
            lower = Bound::Included(prefix.clone());
        }
        if let Some(end) = prefix_successor(&prefix) {
            let lower_end = match &upper {
                Bound::Excluded(k) => end < *k,
                _ => true,
            };
            if lower_end {
                upper = Bound::Excluded(end);
            }
        }
    }
    (lower, upper)
}

/// Prints the entries, `key<TAB>value` per line.
pub fn run(args: &ScanArgs, codec: Codec, out: &mut dyn Write) -> Result<(), CliError> {
    let parse =
        |what, arg: &Option<String>| arg.as_deref().map(|s| codec.parse(what, s)).transpose();
    let range = bounds(
        parse("--from", &args.from)?,
        parse("--to", &args.to)?,
        parse("--prefix", &args.prefix)?,
    );
    let db = open_read_only(&args.db)?;
    let iter = db.range(range);
    let entries: Box<dyn Iterator<Item = shaledb::Result<shaledb::KvPair>>> = if args.reverse {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    };
    for item in entries.take(args.limit.unwrap_or(usize::MAX)) {
        let (key, value) = item.map_err(|e| CliError::db(&args.db, e))?;
        writeln!(out, "{}\t{}", codec.show(&key), codec.show(&value))?;
    }
    close(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Bound::{Excluded, Included, Unbounded};

    fn v(s: &[u8]) -> Vec<u8> {
        s.to_vec()
    }

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(prefix_successor(b"ab"), Some(v(b"ac")));
        assert_eq!(prefix_successor(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn bounds_combine_range_and_prefix() {
        assert_eq!(bounds(None, None, None), (Unbounded, Unbounded));
        assert_eq!(
            bounds(Some(v(b"b")), Some(v(b"d")), None),
            (Included(v(b"b")), Excluded(v(b"d")))
        );
        assert_eq!(
            bounds(None, None, Some(v(b"user:"))),
            (Included(v(b"user:")), Excluded(v(b"user;")))
        );
        // --from inside the prefix keeps --from; --to beyond it is cut to the prefix end.
        assert_eq!(
            bounds(Some(v(b"user:5")), Some(v(b"zzz")), Some(v(b"user:"))),
            (Included(v(b"user:5")), Excluded(v(b"user;")))
        );
        // --from before the prefix is raised; --to inside it is kept.
        assert_eq!(
            bounds(Some(v(b"a")), Some(v(b"user:5")), Some(v(b"user:"))),
            (Included(v(b"user:")), Excluded(v(b"user:5")))
        );
    }
}
