//! What a version does when it is dropped: tells the database that tables only it held
//! may now be deleted.
//!
//! A reader or iterator holds the version it started with, so a compaction that
//! replaces tables leaves them on disk while the reader lives. The background thread
//! deletes unreferenced files after each flush and compaction, but without this hook
//! a reader that lets go of the last old version afterwards, on a database with no more
//! writes, would leave those files in place until the next one. The hook runs on
//! whatever thread drops the version, possibly with database locks held, so it must
//! only signal, never lock or do I/O.

use std::fmt;
use std::sync::Arc;

/// Called once for every version dropped.
#[derive(Clone)]
pub(crate) struct ReleaseHook(Arc<dyn Fn() + Send + Sync>);

impl ReleaseHook {
    pub(crate) fn new(signal: impl Fn() + Send + Sync + 'static) -> Self {
        ReleaseHook(Arc::new(signal))
    }

    pub(crate) fn fire(&self) {
        (self.0)();
    }
}

impl fmt::Debug for ReleaseHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReleaseHook")
    }
}
