//! The command line's errors. Each displays as one line; `main` prints it after
//! `error: ` and exits with status 1.

use std::io;
use std::path::{Path, PathBuf};

use shaledb_bench::BenchError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command that reads needs an existing database directory.
    #[error("no database at {}: the directory does not exist", .0.display())]
    MissingDir(PathBuf),

    /// The path exists but is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),

    /// Another process holds the database's lock.
    #[error("database {} is locked: another process has it open", .0.display())]
    Locked(PathBuf),

    /// The library reported an error about a database or file.
    #[error("{}: {source}", path.display())]
    Db {
        /// The database directory or file.
        path: PathBuf,
        /// What the library said.
        source: shaledb::Error,
    },

    /// A `--hex` argument is not hexadecimal.
    #[error("{what} is not valid hex ({source}): {input:?}")]
    BadHex {
        /// Which argument.
        what: &'static str,
        /// The text given.
        input: String,
        /// What is wrong with it.
        source: hex::FromHexError,
    },

    /// `get` found no value.
    #[error("key not found: {0}")]
    NotFound(String),

    /// `dump` was given a file it cannot read.
    #[error("cannot dump {}: expected a table (.sst) or a log (.log) file", .0.display())]
    UnknownFileKind(PathBuf),

    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// `check` found damage.
    #[error("{damaged} damaged table(s) found in {}", path.display())]
    Damaged {
        /// The database.
        path: PathBuf,
        /// How many problems were found.
        damaged: usize,
    },

    /// `dump` of a table found damaged blocks (and printed the rest).
    #[error("{} has {damaged} damaged data block(s); the others were printed", path.display())]
    DamagedTable {
        /// The table file.
        path: PathBuf,
        /// How many blocks could not be read.
        damaged: usize,
    },

    /// `dump` of a log stopped at a damaged record.
    #[error("{} is damaged at offset {offset}: {reason}", path.display())]
    DamagedLog {
        /// The log file.
        path: PathBuf,
        /// Where replay would stop.
        offset: u64,
        /// Why.
        reason: String,
    },

    /// The benchmark failed.
    #[error("bench: {0}")]
    Bench(#[from] BenchError),

    /// Writing to standard output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// Wraps a library error about `path`, giving a locked database its own message.
    pub fn db(path: &Path, source: shaledb::Error) -> Self {
        match source {
            shaledb::Error::Locked { .. } => CliError::Locked(path.to_path_buf()),
            source => CliError::Db {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// True if the reader of standard output went away (`shaledb scan db | head`):
    /// not a failure worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CliError::Output(e) => Some(e),
            CliError::Bench(BenchError::Io { source, .. }) => Some(source),
            _ => None,
        };
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }
}
