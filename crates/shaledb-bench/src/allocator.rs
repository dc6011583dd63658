//! Memory tuning of the `shaledb` and `shaledb-peers` processes: mimalloc, their
//! allocator, and transparent huge pages.
//!
//! By default mimalloc (v3) keeps freed memory mapped for a second before returning it
//! to the OS (ten seconds for its large arena blocks). A storage engine frees memory in
//! big pieces, a flushed memtable's arena or blocks evicted from the cache, and
//! allocates as much again soon after, so that delay shows as resident memory held for
//! nothing: readwhilewriting at 1M keys peaked at 232-240 MB of RSS with the default
//! and at 191-194 MB with a 10 ms delay, at the same throughput (shaledb bench, two runs
//! each).
//!
//! Transparent huge pages are turned off for the process, as RocksDB's, Redis's and
//! MongoDB's guides advise for a database. mimalloc asks for them (`MADV_HUGEPAGE`) over
//! its whole arena, so a 2 MiB page becomes resident as soon as any of its 64 KiB
//! allocator pages is touched, and memory the allocator purges in 64 KiB pieces can be
//! faulted back in 2 MiB ones. At 1M keys that kept 20 to 25 MB more resident than the
//! live data needed: `shaledb bench` peaked at a median of 184 MB with them and 158 MB
//! without (8 interleaved runs each; a second set of 6 gave 185 and 163). Throughput
//! moved both ways, by the medians of the two sets: fillseq +24% and +30% (no 2 MiB page
//! faults while the memtable grows); fillrandom and overwrite -7% and -2%,
//! readwhilewriting -9% and 0%, seekrandom -4% and -1%, readseq -1% and -4% (more TLB
//! misses walking the memtable's skip list); readrandom +6% and +3%.

/// mimalloc's `mi_option_purge_delay`, by its position in `mi_option_e` in mimalloc
/// v3's `mimalloc.h` (the version `libmimalloc-sys` builds by default; its Rust
/// bindings do not name this option).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds mimalloc waits before returning freed memory to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Tunes this process's memory: turns transparent huge pages off (where the OS has
/// them) and makes mimalloc return freed memory within milliseconds. Call it first thing
/// in `main`, before the process allocates much: huge pages already resident stay so.
pub fn tune_process_memory() {
    disable_transparent_huge_pages();
    return_freed_memory_promptly();
}

/// Turns transparent huge pages off for this process and the processes it starts
/// (`PR_SET_THP_DISABLE`). A failure (an OS without the setting) leaves them as they
/// are: [`crate::system::Machine`] reports which way it went.
fn disable_transparent_huge_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Makes mimalloc return freed memory to the OS within milliseconds. It only matters
/// when mimalloc is the global allocator.
fn return_freed_memory_promptly() {
    // SAFETY: `mi_option_set` only stores an integer option; any option index and value
    // are accepted (unknown ones are ignored with a warning), and it may be called at
    // any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_takes_the_value() {
        tune_process_memory();
        // SAFETY: reads an integer option.
        let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(value, PURGE_DELAY_MS);
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod huge_page_tests {
    #[test]
    fn transparent_huge_pages_are_off_after_tuning() {
        super::tune_process_memory();
        assert_eq!(
            rustix::thread::transparent_huge_pages_are_disabled().ok(),
            Some(true)
        );
        assert_eq!(
            crate::system::Machine::current().huge_pages_disabled,
            Some(true)
        );
    }
}
