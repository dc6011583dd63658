//! Measuring write amplification, space amplification and peak memory after a
//! benchmark that wrote.
//!
//! Write amplification is the engine's table bytes written over the user bytes the
//! harness handed it since the database was created; "incl. log" puts every byte the
//! process wrote (logs, tables, manifests; `wchar` of `/proc/self/io`, plus what the
//! engine stored through memory maps, which `wchar` does not see) over the same user
//! bytes. Space amplification is the bytes of the database directory over the live
//! data the engine reports; beside it, the directory over the key and value bytes of the
//! keys the harness knows to be present.

use std::path::Path;

use crate::engine::EngineStats;
use crate::lifetime::DbLifetime;
use crate::result::Amplification;
use crate::system::{dir_size, peak_rss_bytes};

fn ratio(num: Option<u64>, den: Option<u64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0 => Some(n as f64 / d as f64),
        _ => None,
    }
}

/// Measures now, for the database in `db_dir`.
pub fn measure(stats: &EngineStats, lifetime: &DbLifetime, db_dir: &Path) -> Amplification {
    let user = lifetime.user_bytes_written();
    let process = lifetime
        .process_bytes_written()
        .map(|p| p + stats.mapped_bytes_written.unwrap_or(0));
    let disk = dir_size(db_dir).ok();
    let logical = lifetime.logical_live_bytes();
    Amplification {
        user_bytes_written: user,
        table_bytes_written: stats.table_bytes_written,
        write_amp: ratio(stats.table_bytes_written, Some(user)),
        process_bytes_written: process,
        write_amp_incl_log: ratio(process, Some(user)),
        disk_bytes: disk,
        live_data_bytes: stats.live_data_bytes,
        space_amp: ratio(disk, stats.live_data_bytes),
        logical_live_bytes: logical,
        disk_per_logical_byte: ratio(disk, logical),
        peak_rss_bytes: peak_rss_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_need_a_nonzero_denominator() {
        assert_eq!(ratio(Some(3), Some(2)), Some(1.5));
        assert_eq!(ratio(Some(3), Some(0)), None);
        assert_eq!(ratio(None, Some(2)), None);
    }

    #[test]
    fn measures_a_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("t.sst"), [0u8; 300]).expect("write");
        let life = DbLifetime::fresh(10);
        life.add_written(200, Some(84));
        let stats = EngineStats {
            table_bytes_written: Some(400),
            live_data_bytes: Some(150),
            ..Default::default()
        };
        let a = measure(&stats, &life, dir.path());
        assert_eq!(a.write_amp, Some(2.0));
        assert_eq!(a.disk_bytes, Some(300));
        assert_eq!(a.space_amp, Some(2.0));
        assert_eq!(a.logical_live_bytes, Some(0));
        assert_eq!(a.disk_per_logical_byte, None);
    }
}
