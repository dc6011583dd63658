//! The benchmark's options, with db_bench's names and defaults.
//!
//! [`BenchConfig`] is a `clap::Args` struct, so a binary flattens it into its own
//! command line (`#[command(flatten)]`) and every harness user takes the same flags.

use std::path::PathBuf;

use serde::Serialize;

use crate::keys::{KEY_SIZE, MAX_KEYS};

/// The largest `--num`: the harness keeps a bit per key number (500 MB at this size).
const MAX_NUM: u64 = 4_000_000_000;
const _: () = assert!(MAX_NUM <= MAX_KEYS);
use crate::workload::{Workload, DEFAULT_BENCHMARKS};

/// The most read operations per thread when `--reads` is not given.
pub const DEFAULT_READS_CAP: u64 = 200_000;

/// How a benchmark run is configured.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize)]
pub struct BenchConfig {
    /// Number of key-value pairs to place in the database; fills write this many
    /// entries per thread (fillsync num/1000 but at least 100, fill100K num/1000 but at
    /// least 10). At most 4000000000: the harness keeps a bit per key.
    #[arg(long, default_value_t = 1_000_000)]
    pub num: u64,

    /// Operations per thread for the read benchmarks (readrandom, readmissing,
    /// readseq, readreverse, seekrandom, readwhilewriting). db_bench reads --num keys;
    /// here the default is the smaller of --num and 200000, so that the default run
    /// finishes within a minute on a 2-core machine. Pass --reads equal to --num for
    /// db_bench's count.
    #[arg(long)]
    pub reads: Option<u64>,

    /// Size of each value in bytes (fill100K always writes 100 KB values). Values
    /// compress to about half their size.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,

    /// Threads running each benchmark concurrently; for readwhilewriting, the number of
    /// reader threads (one writer runs beside them).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,

    /// Entries per write batch for fillseq, fillrandom, overwrite and fill100K
    /// (db_bench's batch_size); fillsync and deleterandom write one entry at a time.
    /// With batches, the latency percentiles time whole batches, as db_bench's do.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,

    /// Base seed of the key generator; thread n of the run uses seed + n, so every
    /// benchmark draws its own sequence and a run is repeatable.
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,

    /// Comma-separated benchmarks, run in order. Known: fillseq, fillrandom,
    /// overwrite, readrandom, readmissing, readseq, readreverse, seekrandom,
    /// deleterandom, fillsync, readwhilewriting, fill100K, compact, waitforcompaction.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_BENCHMARKS)]
    pub benchmarks: Vec<Workload>,

    /// Directory for the databases (each engine uses DIR/<engine>, deleted and created
    /// anew whenever a benchmark needs a fresh database; a DIR/<engine> that holds
    /// files the benchmark did not create is not deleted, the run fails instead).
    /// Default: a temporary directory removed at the end, and by `shaledb bench` when
    /// it is interrupted.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,

    /// Keep the database found in --db instead of starting from an empty one; benchmarks
    /// that start from an empty database (the fills) are skipped, as in db_bench.
    #[arg(long, requires = "db")]
    pub use_existing_db: bool,

    /// Write the configuration, machine and every result to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            num: 1_000_000,
            reads: None,
            value_size: 100,
            threads: 1,
            batch_size: 1,
            seed: 1000,
            benchmarks: DEFAULT_BENCHMARKS
                .split(',')
                .filter_map(|name| name.parse().ok())
                .collect(),
            db: None,
            use_existing_db: false,
            json: None,
        }
    }
}

/// Options that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid benchmark options: {0}")]
pub struct ConfigError(pub String);

impl BenchConfig {
    /// Operations per thread for the read benchmarks: `--reads`, or by default the
    /// smaller of `--num` and [`DEFAULT_READS_CAP`].
    pub fn reads(&self) -> u64 {
        self.reads.unwrap_or(self.num.min(DEFAULT_READS_CAP))
    }

    /// Bytes in every key.
    pub fn key_size(&self) -> usize {
        KEY_SIZE
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: &str| Err(ConfigError(msg.to_string()));
        if self.num == 0 || self.num > MAX_NUM {
            return bad("--num must be between 1 and 4000000000 (the harness keeps a bit per key)");
        }
        if self.reads == Some(0) {
            return bad("--reads must be at least 1");
        }
        if self.value_size > (64 << 20) {
            return bad("--value-size must be at most 64 MiB");
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad("--threads must be between 1 and 1024");
        }
        if self.batch_size == 0 || self.batch_size > 1_000_000 {
            return bad("--batch-size must be between 1 and 1000000");
        }
        if self.benchmarks.is_empty() {
            return bad("--benchmarks names no benchmark");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchConfig,
    }

    #[test]
    fn clap_defaults_match_default() {
        let parsed = Cli::parse_from(["bench"]).bench;
        assert_eq!(parsed, BenchConfig::default());
        assert_eq!(
            parsed.benchmarks.len(),
            DEFAULT_BENCHMARKS.split(',').count()
        );
        assert_eq!(parsed.reads(), DEFAULT_READS_CAP);
        let small = BenchConfig {
            num: 2000,
            ..BenchConfig::default()
        };
        assert_eq!(small.reads(), 2000);
        assert!(parsed.validate().is_ok());
    }

    #[test]
    fn flags_parse() {
        let c = Cli::parse_from([
            "bench",
            "--num",
            "2000",
            "--benchmarks",
            "fillseq,readrandom",
            "--reads",
            "10",
        ])
        .bench;
        assert_eq!(c.benchmarks, vec![Workload::FillSeq, Workload::ReadRandom]);
        assert_eq!(c.reads(), 10);
        assert!(Cli::try_parse_from(["bench", "--benchmarks", "nope"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--use-existing-db"]).is_err());
        let zero = BenchConfig {
            threads: 0,
            ..BenchConfig::default()
        };
        assert!(zero.validate().is_err());
    }
}
