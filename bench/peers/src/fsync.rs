//! The machine's raw fsync rate, printed beside fillsync: how many 4 KiB appends, each
//! followed by `fdatasync`, a file in the database directory takes per second. No
//! engine's synced write can beat it by much (group commit aside).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes appended before each sync.
pub const BLOCK: usize = 4096;

/// A measured sync rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsyncRate {
    /// Appends and syncs done.
    pub syncs: u64,
    /// Seconds they took.
    pub secs: f64,
}

impl FsyncRate {
    /// Syncs per second.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.syncs as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Mean microseconds per append and sync.
    pub fn micros_each(&self) -> f64 {
        if self.syncs > 0 {
            self.secs * 1e6 / self.syncs as f64
        } else {
            0.0
        }
    }
}

/// Appends 4 KiB and calls `fdatasync`, over and over for about `duration`, in a
/// temporary file in `dir` (created if missing; the file is deleted afterwards).
pub fn measure(dir: &Path, duration: Duration) -> std::io::Result<FsyncRate> {
    std::fs::create_dir_all(dir)?;
    let temp = tempfile::Builder::new()
        .prefix(".fsync-rate-")
        .tempfile_in(dir)?;
    let mut file = OpenOptions::new().append(true).open(temp.path())?;
    let block = [0x5au8; BLOCK];
    let started = Instant::now();
    let mut syncs = 0u64;
    while syncs == 0 || started.elapsed() < duration {
        file.write_all(&block)?;
        file.sync_data()?;
        syncs += 1;
    }
    Ok(FsyncRate {
        syncs,
        secs: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_at_least_one_sync() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rate = measure(dir.path(), Duration::from_millis(20)).expect("measure");
        assert!(rate.syncs >= 1 && rate.per_sec() > 0.0 && rate.micros_each() > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
