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

/// Sync rates measured at several moments (the parent measures before every run: the
/// rate swings with whatever else the machine's disk is doing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FsyncSamples {
    /// Syncs per second, one per measurement.
    pub per_sec: Vec<f64>,
}

impl FsyncSamples {
    /// Adds a measurement.
    pub fn push(&mut self, rate: FsyncRate) {
        self.per_sec.push(rate.per_sec());
    }

    /// The median rate.
    pub fn median(&self) -> Option<f64> {
        crate::median::median(&self.per_sec)
    }

    /// The slowest and the fastest rate.
    pub fn range(&self) -> Option<(f64, f64)> {
        let min = self.per_sec.iter().copied().reduce(f64::min)?;
        let max = self.per_sec.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    /// "8,012/s (median of 18, 241–9,100/s)", or `None` if nothing was measured.
    pub fn describe(&self) -> Option<String> {
        let ops = |v: f64| crate::median::format_ops(Some(v));
        let median = self.median()?;
        let (min, max) = self.range()?;
        Some(format!(
            "{}/s (median of {}, range {}–{}/s)",
            ops(median),
            self.per_sec.len(),
            ops(min),
            ops(max)
        ))
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

    #[test]
    fn samples_summarise() {
        let mut samples = FsyncSamples::default();
        assert_eq!(samples.describe(), None);
        for syncs in [300, 1000, 8000] {
            samples.push(FsyncRate { syncs, secs: 1.0 });
        }
        assert_eq!(samples.median(), Some(1000.0));
        assert_eq!(
            samples.describe().as_deref(),
            Some("1,000/s (median of 3, range 300–8,000/s)")
        );
    }
}
