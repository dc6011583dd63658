//! The harness's typed error.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::workload::Workload;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The options cannot work together.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The engine could not open its database.
    #[error("{engine}: cannot open the database in {}: {source}", dir.display())]
    Open {
        /// The engine.
        engine: String,
        /// Its database directory.
        dir: PathBuf,
        /// What the engine said.
        source: EngineError,
    },

    /// An engine call failed during a benchmark.
    #[error("{workload}: {source}")]
    Engine {
        /// The benchmark that was running.
        workload: Workload,
        /// What the engine said.
        source: EngineError,
    },

    /// A file operation of the harness failed (database directory, results file).
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A benchmark thread panicked (a bug in an engine adapter).
    #[error("{0}: a benchmark thread panicked")]
    ThreadPanicked(Workload),

    /// A fresh database's place holds something the harness did not make, which it
    /// will not delete.
    #[error(
        "{} was not created by the benchmark, which deletes only the databases it \
         created; remove it yourself or give another --db",
        .0.display()
    )]
    ForeignDirectory(PathBuf),

    /// The old database is open in another process (or another handle of this one),
    /// so the harness will not delete it.
    #[error(
        "database {} is locked: another process has it open, so the benchmark will \
         not delete it",
        .0.display()
    )]
    InUse(PathBuf),

    /// `--use-existing-db` found no database.
    #[error("no database at {} for --use-existing-db (the benchmark keeps an engine's \
             database in DIR/<engine>)", .0.display())]
    NoExistingDatabase(PathBuf),
}

impl BenchError {
    /// Wraps an I/O error with what the harness was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io {
            context: context.into(),
            source,
        }
    }
}
