//! A db_bench-compatible benchmark harness for key-value engines.
//!
//! It runs LevelDB's and RocksDB's `db_bench` workloads (fillseq, fillrandom,
//! overwrite, readrandom, readmissing, readseq, readreverse, seekrandom, deleterandom,
//! fillsync, readwhilewriting, fill100K) with the same keys (16-digit decimals) and
//! values (100 bytes that compress to half), prints db_bench's result line for each
//! with latency percentiles, reports write and space amplification and peak memory
//! after the benchmarks that write, and can write everything as JSON.
//!
//! The harness knows engines only through the [`Engine`] trait. ShaleDB's adapter,
//! [`ShaleEngine`], is included; other engines' adapters implement the same trait and an
//! [`EngineFactory`], then call [`run`]:
//!
//! ```no_run
//! use shaledb_bench::{run, BenchConfig, Progress, ShaleFactory};
//!
//! let config = BenchConfig { num: 10_000, ..BenchConfig::default() };
//! let report = run(&config, &ShaleFactory::matched(), &mut std::io::stdout(), Progress::for_stderr())?;
//! println!("{} ops/sec", report.results[0].ops_per_sec);
//! # Ok::<(), shaledb_bench::BenchError>(())
//! ```
//!
//! [`BenchConfig`] derives `clap::Args`, so a binary gets every option by flattening
//! it into its own command line.

#![deny(unsafe_code)]
#![warn(missing_docs)]

// The one unsafe call: setting a mimalloc option through its C API.
#[allow(unsafe_code)]
pub mod allocator;
mod amplification;
mod benchmark;
mod config;
mod db_dir;
mod engine;
mod error;
pub mod format;
mod histogram;
pub mod interrupt;
pub mod keys;
mod lifetime;
mod ops;
mod progress;
mod result;
mod runner;
mod shale;
pub mod system;
mod thread_stats;
pub mod values;
mod workload;

pub use config::{BenchConfig, ConfigError, DEFAULT_READS_CAP};
pub use engine::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};
pub use error::BenchError;
pub use histogram::{LatencyHistogram, Percentiles};
pub use progress::Progress;
pub use result::{Amplification, RunReport, WorkloadResult};
pub use runner::run;
pub use shale::{ShaleEngine, ShaleFactory};
pub use workload::{
    UnknownWorkload, Workload, ALL, DEFAULT_BENCHMARKS, FILL_100K_VALUE_SIZE, SEEK_NEXTS,
};
