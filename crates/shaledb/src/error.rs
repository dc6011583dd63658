//! The crate's typed error.
//!
//! Every fallible public function returns [`Result`]. Damage found on disk is always
//! [`Error::Corruption`], naming the file, the offset and what was expected, so a caller
//! can tell a broken file from a failing disk ([`Error::Io`]) or a bad call
//! ([`Error::InvalidArgument`]).

use std::path::PathBuf;
use std::sync::Arc;

/// The result type of every fallible ShaleDB call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system failed a file operation. With the real file system the
    /// message starts with the file's path; the kind is the operating system's.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Bytes read from disk are not what was written: a checksum mismatch, a truncated
    /// file, or a field that cannot be decoded.
    #[error("corruption in {file} at offset {offset}: {detail}")]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record or block within the file.
        offset: u64,
        /// What was expected and what was found.
        detail: String,
    },

    /// A caller passed an argument or option that cannot be honoured.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Another process (or another handle in this process) has the database open.
    #[error("database at {path} is locked by another process")]
    Locked {
        /// The lock file that could not be taken.
        path: PathBuf,
    },

    /// An earlier write, flush or compaction failed; the database is read-only until it
    /// is reopened. Reads keep working.
    #[error("database is read-only after a background error: {0}")]
    ReadOnly(Arc<Error>),

    /// A write, flush or compaction asked of a database opened with
    /// [`crate::Db::open_read_only`].
    #[error("the database was opened read-only")]
    OpenedReadOnly,

    /// The database has been closed.
    #[error("database is closed")]
    Closed,

    /// An internal invariant failed: a bug in ShaleDB. The operation was not applied.
    #[error("internal error (a bug in ShaleDB): {0}")]
    Internal(String),
}

impl Error {
    /// Builds a [`Error::Corruption`].
    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// An equivalent error. Errors are not `Clone` (they may hold an `io::Error`), but
    /// iterators and the background-error state report the same error more than once.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
            Error::Corruption {
                file,
                offset,
                detail,
            } => Error::Corruption {
                file: file.clone(),
                offset: *offset,
                detail: detail.clone(),
            },
            Error::InvalidArgument(s) => Error::InvalidArgument(s.clone()),
            Error::Locked { path } => Error::Locked { path: path.clone() },
            Error::ReadOnly(cause) => Error::ReadOnly(Arc::clone(cause)),
            Error::OpenedReadOnly => Error::OpenedReadOnly,
            Error::Closed => Error::Closed,
            Error::Internal(s) => Error::Internal(s.clone()),
        }
    }

    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
