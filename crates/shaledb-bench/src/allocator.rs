//! Tuning of mimalloc, the allocator of the `shaledb` and `shaledb-peers` binaries.
//!
//! By default mimalloc (v3) keeps freed memory mapped for a second before returning it
//! to the OS (ten seconds for its large arena blocks). A storage engine frees memory in
//! big pieces, a flushed memtable's arena or blocks evicted from the cache, and
//! allocates as much again soon after, so that delay shows as resident memory held for
//! nothing: readwhilewriting at 1M keys peaked at 232-240 MB of RSS with the default
//! and at 191-194 MB with a 10 ms delay, at the same throughput (shaledb bench, two runs
//! each).

/// mimalloc's `mi_option_purge_delay`, by its position in `mi_option_e` in mimalloc
/// v3's `mimalloc.h` (the version `libmimalloc-sys` builds by default; its Rust
/// bindings do not name this option).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds mimalloc waits before returning freed memory to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes mimalloc return freed memory to the OS within milliseconds. Call it first
/// thing in `main`; it only matters when mimalloc is the global allocator.
pub fn return_freed_memory_promptly() {
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
        return_freed_memory_promptly();
        // SAFETY: reads an integer option.
        let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(value, PURGE_DELAY_MS);
    }
}
