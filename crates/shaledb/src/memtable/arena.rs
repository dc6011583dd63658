//! A bump allocator for skip-list nodes: memory comes in chunks that are never moved or
//! freed until the arena is dropped, so a node's address stays valid for the arena's
//! whole life. Only the skip list's writer (under its lock) allocates.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of every allocation (the skip-list tower holds pointers).
pub(super) const ALIGN: usize = 8;
/// The first chunk is small, so that tiny memtables (tests) stay tiny; chunks double up
/// to this size.
const FIRST_CHUNK: usize = 4 << 10;
const MAX_CHUNK: usize = 1 << 20;

/// Chunks of zeroed memory handed out front to back.
pub(super) struct Arena {
    chunks: Vec<(NonNull<u8>, Layout)>,
    /// Next free byte of the current chunk, and how many bytes remain in it.
    cursor: Option<NonNull<u8>>,
    remaining: usize,
    next_chunk: usize,
    /// Bytes of all chunks.
    allocated: usize,
}

// SAFETY: the arena owns its chunks outright (nothing else frees them), and the raw
// pointers it keeps are only used by whoever holds the arena (the skip list's writer,
// under a mutex), so moving it to another thread is sound.
unsafe impl Send for Arena {}

impl Arena {
    pub(super) fn new() -> Self {
        Arena {
            chunks: Vec::new(),
            cursor: None,
            remaining: 0,
            next_chunk: FIRST_CHUNK,
            allocated: 0,
        }
    }

    /// Bytes of memory the arena holds.
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.allocated
    }

    /// Returns `size` bytes (rounded up to [`ALIGN`]) of zeroed memory, aligned to
    /// [`ALIGN`], valid until the arena is dropped.
    pub(super) fn allocate(&mut self, size: usize) -> NonNull<u8> {
        let size = size.next_multiple_of(ALIGN);
        if size > self.remaining {
            if size > self.next_chunk / 4 {
                // A large node gets a chunk of its own, so the current chunk's tail is
                // not wasted.
                return self.new_chunk(size);
            }
            let chunk_size = self.next_chunk;
            self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
            let start = self.new_chunk(chunk_size);
            self.cursor = Some(start);
            self.remaining = chunk_size;
        }
        let start = self.cursor.expect("a chunk with room was just ensured");
        // SAFETY: `size <= remaining`, so both the result and the advanced cursor lie
        // within (or one past the end of) the current chunk.
        self.cursor = Some(unsafe { start.add(size) });
        self.remaining -= size;
        start
    }

    fn new_chunk(&mut self, size: usize) -> NonNull<u8> {
        let layout = Layout::from_size_align(size, ALIGN).expect("chunk size fits a layout");
        // SAFETY: `layout` has a non-zero size (every node has a header).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(chunk) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        self.chunks.push((chunk, layout));
        self.allocated += size;
        chunk
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for &(chunk, layout) in &self.chunks {
            // SAFETY: each chunk was allocated by `new_chunk` with this layout and is
            // freed once, here.
            unsafe { alloc::dealloc(chunk.as_ptr(), layout) };
        }
    }
}
