//! The benchmarks, with db_bench's names and meanings.
//!
//! | name | what one operation is | count per thread | database |
//! |---|---|---|---|
//! | `fillseq` | put of key `i`, in key order | num | fresh |
//! | `fillrandom` | put of a random key | num | fresh |
//! | `overwrite` | put of a random key | num | existing |
//! | `readrandom` | get of a random key in `[0, num)` | reads | existing |
//! | `readmissing` | get of a key that is never written | reads | existing |
//! | `readseq` | one step of a forward scan | reads | existing |
//! | `readreverse` | one step of a backward scan | reads | existing |
//! | `seekrandom` | seek to a random key, then read 10 entries | reads | existing |
//! | `deleterandom` | delete of a random key | num | existing |
//! | `fillsync` | synced put of a random key | num / 1000 (at least 100) | fresh |
//! | `readwhilewriting` | get of a random key while one more thread writes | reads | existing |
//! | `fill100K` | put of a random key with a 100 KB value | num / 1000 (at least 10) | fresh |
//! | `compact` | a full manual compaction | 1 | existing |
//!
//! "fresh" is db_bench's rule: the database is deleted and created anew first.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Workload {
    /// Puts in key order.
    FillSeq,
    /// Puts in random order.
    FillRandom,
    /// Puts in random order over an existing database.
    Overwrite,
    /// Gets of random keys.
    ReadRandom,
    /// Gets of absent keys.
    ReadMissing,
    /// A forward scan.
    ReadSeq,
    /// A backward scan.
    ReadReverse,
    /// Seeks to random keys, each followed by reading 10 entries.
    SeekRandom,
    /// Deletes of random keys.
    DeleteRandom,
    /// Synced puts in random order.
    FillSync,
    /// Random gets while one thread keeps writing.
    ReadWhileWriting,
    /// Puts of 100 KB values in random order.
    Fill100K,
    /// A full manual compaction.
    Compact,
    /// Waits until the engine's background flushes and compactions are done (db_bench's
    /// `waitforcompaction`), so the amplification reported after it describes a settled
    /// tree rather than one mid-compaction.
    WaitForCompaction,
}

/// Every benchmark, in db_bench's order.
pub const ALL: [Workload; 14] = [
    Workload::FillSeq,
    Workload::FillRandom,
    Workload::Overwrite,
    Workload::ReadRandom,
    Workload::ReadMissing,
    Workload::ReadSeq,
    Workload::ReadReverse,
    Workload::SeekRandom,
    Workload::DeleteRandom,
    Workload::FillSync,
    Workload::ReadWhileWriting,
    Workload::Fill100K,
    Workload::Compact,
    Workload::WaitForCompaction,
];

/// What `--benchmarks` runs when not given: db_bench's workloads in db_bench's order,
/// except that readwhilewriting runs while the database is full (before deleterandom
/// and the fresh fillsync database), so its readers find what they look for.
pub const DEFAULT_BENCHMARKS: &str = "fillseq,fillrandom,overwrite,readrandom,readmissing,\
readseq,readreverse,seekrandom,readwhilewriting,deleterandom,fillsync,fill100K";

/// Values written by `fill100K`.
pub const FILL_100K_VALUE_SIZE: usize = 100_000;

/// Entries `seekrandom` reads after each seek.
pub const SEEK_NEXTS: usize = 10;

impl Workload {
    /// db_bench's name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::ReadSeq => "readseq",
            Workload::ReadReverse => "readreverse",
            Workload::SeekRandom => "seekrandom",
            Workload::DeleteRandom => "deleterandom",
            Workload::FillSync => "fillsync",
            Workload::ReadWhileWriting => "readwhilewriting",
            Workload::Fill100K => "fill100K",
            Workload::Compact => "compact",
            Workload::WaitForCompaction => "waitforcompaction",
        }
    }

    /// True if the benchmark starts from an empty database.
    pub fn needs_fresh_db(self) -> bool {
        matches!(
            self,
            Workload::FillSeq | Workload::FillRandom | Workload::FillSync | Workload::Fill100K
        )
    }

    /// True if the benchmark writes, so amplification is reported after it.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::Overwrite
                | Workload::DeleteRandom
                | Workload::FillSync
                | Workload::Fill100K
                | Workload::ReadWhileWriting
                | Workload::Compact
                | Workload::WaitForCompaction
        )
    }

    /// Operations each thread performs, given `--num` and `--reads`.
    pub fn ops_per_thread(self, num: u64, reads: u64) -> u64 {
        match self {
            Workload::FillSeq
            | Workload::FillRandom
            | Workload::Overwrite
            | Workload::DeleteRandom => num,
            Workload::ReadRandom
            | Workload::ReadMissing
            | Workload::ReadSeq
            | Workload::ReadReverse
            | Workload::SeekRandom
            | Workload::ReadWhileWriting => reads,
            Workload::FillSync => (num / 1000).max(100),
            Workload::Fill100K => (num / 1000).max(10),
            Workload::Compact | Workload::WaitForCompaction => 1,
        }
    }

    /// Bytes of each value written, given `--value-size`.
    pub fn value_size(self, value_size: usize) -> usize {
        match self {
            Workload::Fill100K => FILL_100K_VALUE_SIZE,
            _ => value_size,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Workload> for &'static str {
    fn from(w: Workload) -> Self {
        w.name()
    }
}

/// A name that is not a benchmark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown benchmark {name:?}; known: {}", ALL.map(Workload::name).join(","))]
pub struct UnknownWorkload {
    /// The name given.
    pub name: String,
}

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        ALL.into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownWorkload {
                name: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in ALL {
            assert_eq!(w.name().parse::<Workload>(), Ok(w));
        }
        assert_eq!("FILL100k".parse::<Workload>(), Ok(Workload::Fill100K));
        let err = "fillfast".parse::<Workload>().unwrap_err();
        assert!(err.to_string().contains("fillseq"), "{err}");
    }

    #[test]
    fn default_list_parses() {
        for name in DEFAULT_BENCHMARKS.split(',') {
            assert!(name.parse::<Workload>().is_ok(), "{name}");
        }
    }

    #[test]
    fn db_bench_op_counts() {
        assert_eq!(Workload::FillSync.ops_per_thread(1_000_000, 5), 1000);
        assert_eq!(Workload::FillSync.ops_per_thread(2000, 5), 100);
        assert_eq!(Workload::Fill100K.ops_per_thread(2000, 5), 10);
        assert_eq!(Workload::ReadSeq.ops_per_thread(2000, 5), 5);
        assert_eq!(Workload::Overwrite.ops_per_thread(2000, 5), 2000);
    }
}
