//! What the machine and the process look like: cores, memory, CPU model, peak resident
//! memory, bytes written, and the size of a directory on disk.
//!
//! Linux's `/proc` supplies most of it; elsewhere the answers are `None`.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The machine a run happened on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub nproc: usize,
    /// Total memory in bytes.
    pub memory_bytes: Option<u64>,
    /// The CPU's model name.
    pub cpu: Option<String>,
    /// Operating system and architecture.
    pub os: String,
    /// Whether transparent huge pages are turned off for this process (see
    /// [`crate::allocator::tune_process_memory`]); `None` where the OS cannot say.
    pub huge_pages_disabled: Option<bool>,
}

impl Machine {
    /// Looks at the machine this process runs on.
    pub fn current() -> Self {
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: proc_field("/proc/meminfo", "MemTotal:").map(|kib| kib * 1024),
            cpu: cpu_model(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            huge_pages_disabled: huge_pages_disabled(),
        }
    }
}

fn huge_pages_disabled() -> Option<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return rustix::thread::transparent_huge_pages_are_disabled().ok();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    None
}

/// The first number after `label` in a `/proc` file of `label value` lines.
fn proc_field(path: &str, label: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(label))?;
    line[label.len()..].split_whitespace().next()?.parse().ok()
}

fn cpu_model() -> Option<String> {
    let text = fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The process's peak resident set size in bytes (`VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_field("/proc/self/status", "VmHWM:").map(|kib| kib * 1024)
}

/// Bytes this process has passed to `write` calls so far (`wchar` in `/proc/self/io`):
/// table files, logs and everything else, whether or not it reached the disk yet.
pub fn process_bytes_written() -> Option<u64> {
    proc_field("/proc/self/io", "wchar:")
}

/// Bytes of all files under `dir`, recursively.
pub fn dir_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // Compaction may delete a file between listing and measuring it.
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            total += dir_size(&entry.path())?;
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Seconds since the Unix epoch.
pub fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the epoch as an ISO 8601 UTC date and time.
pub fn format_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil-date algorithm, for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn machine_and_process() {
        let m = Machine::current();
        assert!(m.nproc >= 1);
        if cfg!(target_os = "linux") {
            assert!(m.memory_bytes.unwrap_or(0) > 0);
            assert!(peak_rss_bytes().unwrap_or(0) > 0);
            assert!(process_bytes_written().is_some());
        }
    }

    #[test]
    fn dir_size_counts_nested_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("a"), [0u8; 10]).expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/b"), [0u8; 5]).expect("write");
        assert_eq!(dir_size(dir.path()).expect("size"), 15);
    }
}
