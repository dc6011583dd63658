//! A log file written through a memory map, so an append is a copy, not a system call.
//!
//! The write-ahead log promises that an unsynced write survives a process crash once
//! it is acknowledged: its bytes must be in the kernel's page cache, not in a buffer of
//! ours. With `write(2)` that costs a system call per group commit, which was half the
//! time of a small put (fillseq ran at 750,000 puts/s with it and 1,400,000 without).
//! A copy into a shared file mapping lands in the same page cache with no system call,
//! so the promise holds at the cost of a page fault per 4 KiB.
//!
//! The file is extended one [`WINDOW`] at a time with `fallocate`, which reserves real
//! blocks (so a full disk is an `ENOSPC` from `fallocate`, not a `SIGBUS` from a store
//! into the map) and reads back as zeros, which the log reader takes for the end of the
//! log. Other failures of the file system itself (a shutdown after an I/O error, a
//! remount read-only) can still make a store into the map raise `SIGBUS` and kill the
//! process, where `write(2)` would have returned an error and left the database
//! read-only but readable. Acknowledged writes are not lost by that any more than by
//! the failure itself; `Options::wal_mmap = false` trades the speed for the error.
//!
//! Only that window is mapped, so the log adds at most [`WINDOW`] to the process's
//! resident set; pages of earlier windows stay dirty in the page cache after the unmap
//! and are written back as usual. `fdatasync` writes back pages dirtied
//! through a mapping like any others (Linux has one page cache), so a sync is the same
//! call as for a written file.
//!
//! Used only where this is known to hold: on Linux, on ext4, XFS and tmpfs. Copy-on-write
//! file systems (btrfs, ZFS) may need new blocks when a mapped page is first written,
//! and a full disk would then kill the process with `SIGBUS`; there, and wherever
//! `fallocate` is not supported, [`create`] returns `None` and the caller writes
//! through `write(2)` instead.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use memmap2::{MmapMut, MmapOptions};

use super::WritableFile;

/// How much of the file is mapped, and allocated, at a time. A multiple of the page
/// size.
const WINDOW: u64 = 256 << 10;

/// File systems where a store into an `fallocate`d, mapped page needs no new blocks.
#[cfg(target_os = "linux")]
// `f_type` is an i64 here, and narrower on some other Linux targets.
#[allow(clippy::useless_conversion)]
fn supported_file_system(file: &File) -> bool {
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const TMPFS: i64 = 0x0102_1994;
    rustix::fs::fstatfs(file).is_ok_and(|s| matches!(i64::from(s.f_type), EXT4 | XFS | TMPFS))
}

/// Wraps `file`, freshly created and empty, as a memory-mapped log; `None` where that
/// is not known to be safe (see the module comment), and the caller should write it
/// with `write(2)`.
pub(super) fn create(file: File) -> io::Result<Option<MmapLog>> {
    #[cfg(target_os = "linux")]
    {
        if !supported_file_system(&file) {
            return Ok(None);
        }
        match allocate(&file, 0, WINDOW) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut log = MmapLog {
            file,
            map: None,
            map_start: 0,
            pos: 0,
            allocated: WINDOW,
            zeroed: 0,
            mapped: 0,
        };
        match log.map_window() {
            Ok(()) => Ok(Some(log)),
            Err(e) => {
                // No map to be had (ENOMEM, ENODEV, ...): the file is written instead.
                // Dropping `log` truncates the file back to empty.
                tracing::warn!(error = %e, "cannot map the log; writing it instead");
                drop(log);
                Ok(None)
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Ok(None)
    }
}

/// An append-only file written through a window mapped over its end.
pub(super) struct MmapLog {
    file: File,
    /// The window `[map_start, map_start + WINDOW)`; `None` only after a failed remap.
    map: Option<MmapMut>,
    map_start: u64,
    /// Bytes appended: the append position.
    pos: u64,
    /// The file's size: allocated, and zero past `pos`.
    allocated: u64,
    /// The end of the zeros written (not just allocated) by `preallocate`.
    zeroed: u64,
    /// Bytes appended by copying into the map (the rest went through `pwrite`).
    mapped: u64,
}

impl MmapLog {
    /// Allocates the file up to at least `end`, a window at a time.
    fn allocate_to(&mut self, end: u64) -> io::Result<()> {
        if self.allocated < end {
            let to = end.next_multiple_of(WINDOW);
            allocate(&self.file, self.allocated, to - self.allocated)?;
            self.allocated = to;
        }
        Ok(())
    }

    /// Maps the window holding `pos`, allocating the file up to its end first.
    fn map_window(&mut self) -> io::Result<()> {
        self.map = None;
        let start = self.pos - self.pos % WINDOW;
        self.allocate_to(start + WINDOW)?;
        // SAFETY: the map covers `[start, start + WINDOW)`, all of which is inside the
        // file (allocated just above), so no access can fall past its end. No reference
        // into the map outlives a call of ours, so `preallocate`'s positional writes into
        // the same range never change bytes under a live borrow. The file was
        // created by this process for this log and is written only through this
        // handle; the database's LOCK file keeps other ShaleDB processes out, and
        // nothing truncates a log while it is open (truncating it from outside would
        // be the SIGBUS hazard of any memory map). Reads of the same file by the
        // database go through `read(2)` and see the same page cache.
        let map = unsafe {
            MmapOptions::new()
                .offset(start)
                .len(WINDOW as usize)
                .map_mut(&self.file)?
        };
        // No readahead on faults: a fault would read in (zero-fill) a batch of the
        // fallocated pages around it, which large appends then overwrite through
        // `pwrite`. With it, a put of a 100 KB value took about 130 µs; without it
        // about 90 µs (70 µs through `write(2)` alone). A hint only: an error is ignored.
        let _ = map.advise(memmap2::Advice::Random);
        self.map = Some(map);
        self.map_start = start;
        Ok(())
    }
}

/// Extends `file` by `len` bytes from `offset` with reserved blocks that read as zeros.
#[cfg(target_os = "linux")]
fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), offset, len).map_err(|e| {
        if e == rustix::io::Errno::OPNOTSUPP {
            io::Error::new(io::ErrorKind::Unsupported, "fallocate is not supported")
        } else {
            io::Error::from(e)
        }
    })
}

#[cfg(not(target_os = "linux"))]
fn allocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fallocate is not supported",
    ))
}

impl Drop for MmapLog {
    fn drop(&mut self) {
        // A log that is closed cleanly ends at its last record, as a written one does.
        // Best effort: the zeros after the records would read as the end anyway.
        self.map = None;
        let _ = self.file.set_len(self.pos);
    }
}

/// Appends at least this long are written with `pwrite(2)`: one system call costs less
/// than the page faults of copying them into the map.
const LARGE_APPEND: usize = 16 << 10;

impl WritableFile for MmapLog {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() >= LARGE_APPEND {
            let end = self.pos + data.len() as u64;
            self.allocate_to(end)?;
            // The page cache is shared with the map, so the window sees these bytes.
            self.file.write_all_at(data, self.pos)?;
            self.pos = end;
            return Ok(());
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.map.is_none() || self.pos >= self.map_start + WINDOW {
                self.map_window()?;
            }
            let Some(map) = self.map.as_mut() else {
                return Err(io::Error::other("the log's map is missing"));
            };
            let at = (self.pos - self.map_start) as usize;
            let n = rest.len().min(map.len() - at);
            map[at..at + n].copy_from_slice(&rest[..n]);
            self.pos += n as u64;
            self.mapped += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // The bytes are in the page cache already.
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn mapped_bytes(&self) -> u64 {
        self.mapped
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        // `fallocate` leaves unwritten extents, and the first sync of data stored in
        // one must record it as written in the file system's journal. Writing real
        // zeros over the next `len` bytes spares later syncs that commit.
        let target = self.pos + len;
        let from = self.zeroed.max(self.pos);
        if from < target {
            super::real::write_zeros(&self.file, from, target)?;
            self.zeroed = target;
        }
        self.allocated = self.allocated.max(target);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, RealFileSystem};

    #[test]
    fn appends_across_windows_read_back_with_zeros_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.log");
        let mut log = RealFileSystem.create_log(&path).unwrap();
        let mut written = Vec::new();
        let mut i = 0u32;
        // Pieces of odd sizes, some larger than a window, crossing several windows.
        while written.len() < 3 * WINDOW as usize + 12_345 {
            let len = [1usize, 7, 130, 4096, 70_000, WINDOW as usize + 3][i as usize % 6];
            let piece: Vec<u8> = (0..len).map(|j| (i as usize * 31 + j) as u8 | 1).collect();
            log.append(&piece).unwrap();
            log.flush().unwrap();
            written.extend_from_slice(&piece);
            i += 1;
            // Flushed bytes are visible to a reader at once, as after a process crash.
            if i.is_multiple_of(5) {
                let on_disk = std::fs::read(&path).unwrap();
                assert_eq!(on_disk[..written.len()], written[..]);
            }
        }
        // A large append jumps past the mapped window; small ones after it remap.
        let large = vec![0xA5u8; 3 * WINDOW as usize / 2 + 77];
        log.append(&large).unwrap();
        written.extend_from_slice(&large);
        log.append(b"small after large").unwrap();
        written.extend_from_slice(b"small after large");
        log.preallocate(200_000).unwrap();
        log.append(b"after the zeros were written").unwrap();
        written.extend_from_slice(b"after the zeros were written");
        log.sync().unwrap();
        drop(log);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.len() >= written.len());
        assert_eq!(on_disk[..written.len()], written[..]);
        assert!(on_disk[written.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_machine_s_temporary_directory_gets_a_mapped_log() {
        // ext4, XFS or tmpfs: where the tests run, the mapped path is the one tested.
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("probe.log"))
            .unwrap();
        if supported_file_system(&file) {
            assert!(create(file).unwrap().is_some());
        }
    }
}
