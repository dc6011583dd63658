//! What can stop the whole comparison (a failed run of one engine does not: it is
//! recorded and the others go on).

use std::path::PathBuf;

/// A failure of the comparison itself.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// The command line names an engine that does not exist.
    #[error("unknown engine {0:?}; known: shaledb, rocksdb, fjall, sled, redb, leveldb")]
    UnknownEngine(String),
    /// No engine is left to run.
    #[error("no engine to run")]
    NoEngines,
    /// The benchmark options are invalid.
    #[error(transparent)]
    Config(#[from] shaledb_bench::ConfigError),
    /// The benchmark failed (in a child).
    #[error(transparent)]
    Bench(#[from] shaledb_bench::BenchError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something else went wrong with the operating system.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A child's report could not be read.
    #[error("cannot read the report {}: {source}", path.display())]
    Report {
        /// The report file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The chart could not be drawn.
    #[error("cannot draw the chart {}: {message}", path.display())]
    Chart {
        /// The chart file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl PeersError {
    /// An I/O failure on `path`.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PeersError::File {
            path: path.into(),
            source,
        }
    }

    /// Any other I/O failure.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PeersError::Io {
            context: context.into(),
            source,
        }
    }
}
