//! The memtable's skip list: nodes live in an [`Arena`], one writer inserts under a
//! mutex, and readers walk the list without locks.
//!
//! A node is one arena allocation: its tower of `next` pointers, then a header holding
//! the key and value lengths, then the internal key and the value. A node's address is
//! that of its header; tower level `i` sits `8 * (i + 1)` bytes below it, so the key is
//! found without knowing the node's height. The header takes 4 bytes when the key is
//! under 32 KiB and the value under 64 KiB (see [`Node`]), so a db_bench entry (a
//! 24-byte internal key, a 100-byte value) fills its node to a multiple of 8 with no
//! padding: 144 bytes on average, against 152 with a plain 8-byte header, and a 64 MiB
//! memtable holds 466,000 entries instead of 441,000 (RocksDB's flushes held about
//! 453,500, 148 bytes an entry).
//! Heights follow a 1-in-2 branching, so a node carries 2 pointers on average. (1-in-4,
//! as LevelDB uses, saves 5 bytes a node, but a search then meets half again as many
//! distinct nodes, each a likely cache miss: fillrandom ran about 10% slower with it.)
//!
//! This layout replaced `crossbeam_skiplist::SkipMap`, whose nodes pointed to a separate
//! key-and-value allocation: an entry of db_bench's shape (16-byte key, 100-byte value)
//! took about 220 bytes there and takes about 144 here, so a 64 MiB memtable holds half
//! as many entries again, and flushes (and level-0 compactions) are that much rarer.
//!
//! Safety rests on three rules: (1) nodes are never freed or moved while the list
//! exists (the arena frees them all at once when the list drops); (2) a node is fully
//! written before the writer publishes it with a `Release` store of a `next` pointer,
//! and readers load `next` pointers with `Acquire`; (3) after publication only the
//! tower's atomics change.

use std::cmp::Ordering as CmpOrdering;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::arena::Arena;
use crate::key::compare_internal;

/// Tallest tower; with 1-in-2 branching this suits lists of a million entries and more
/// (a 64 MiB memtable holds about 466,000 of db_bench's).
const MAX_HEIGHT: usize = 20;
/// A backward step's search stops at this level and fills in the levels below: with
/// 1-in-2 heights, a batch of about 2^6 = 64 predecessors.
const BACKWARD_BATCH_LEVEL: usize = 6;
const POINTER: usize = std::mem::size_of::<AtomicPtr<Node>>();

/// A node's header; its tower precedes it and its key and value follow it.
///
/// `lengths` holds the key length in bits 0-14 and the value length in bits 16-31 when
/// they fit there (the short form, 4 bytes). Otherwise bit 15 is set and two more
/// `u32`s follow, the key length and then the value length (the long form, 12 bytes).
#[repr(C)]
struct Node {
    lengths: u32,
}

const SHORT_HEADER: usize = 4;
const LONG_HEADER: usize = 12;
const LONG_FORM: u32 = 1 << 15;
const MAX_SHORT_KEY: usize = LONG_FORM as usize - 1;
const MAX_SHORT_VALUE: usize = u16::MAX as usize;

/// The header `insert` writes for these lengths: its first word and its size.
fn header_for(key_len: u32, value_len: u32) -> (u32, usize) {
    if key_len as usize <= MAX_SHORT_KEY && value_len as usize <= MAX_SHORT_VALUE {
        (key_len | (value_len << 16), SHORT_HEADER)
    } else {
        (LONG_FORM, LONG_HEADER)
    }
}

/// A position in the list: a node, or the head (before the first node).
type Link = Option<NonNull<Node>>;

struct Writer {
    arena: Arena,
    rng: u64,
    /// The last node inserted and, per level, the node its insert linked it after (or
    /// itself, at the levels it occupies): the starting points for the next insert when
    /// that one's key is larger, as in a sequential fill. Only the writer reads it.
    last: Option<NonNull<Node>>,
    fingers: [Link; MAX_HEIGHT],
}

impl Writer {
    fn random_height(&mut self) -> usize {
        let mut height = 1;
        while height < MAX_HEIGHT && self.next_random() & 1 == 0 {
            height += 1;
        }
        height
    }

    /// xorshift64*: plenty for tower heights.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
    }
}

/// A sorted list of (internal key, value) entries.
pub(super) struct SkipList {
    head: [AtomicPtr<Node>; MAX_HEIGHT],
    /// Height of the tallest node so far (at least 1).
    height: AtomicUsize,
    len: AtomicUsize,
    /// Bytes of the nodes (towers, headers, keys, values and alignment).
    used: AtomicUsize,
    writer: Mutex<Writer>,
}

// SAFETY: the list owns the arena that holds every node (rule 1). Shared access only
// reads node contents that were published with Release/Acquire ordering and never
// change afterwards (rules 2 and 3), or goes through atomics and the writer's mutex, so
// the list may be shared and sent between threads.
unsafe impl Send for SkipList {}
// SAFETY: as above.
unsafe impl Sync for SkipList {}

impl SkipList {
    pub(super) fn new() -> Self {
        SkipList {
            head: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            height: AtomicUsize::new(1),
            len: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            writer: Mutex::new(Writer {
                arena: Arena::new(),
                rng: 0x9E37_79B9_7F4A_7C15,
                last: None,
                fingers: [None; MAX_HEIGHT],
            }),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes the entries take, including towers and headers.
    pub(super) fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes of memory the list holds (its arena's chunks).
    #[cfg(test)]
    pub(super) fn allocated_bytes(&self) -> usize {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .arena
            .allocated()
    }

    /// Inserts an entry whose internal key is `key_parts` concatenated. Internal keys are
    /// unique (each write has its own sequence number).
    pub(super) fn insert(&self, key_parts: [&[u8]; 2], value: &[u8]) {
        let key_len = key_parts[0].len() + key_parts[1].len();
        // The write path bounds a batch, and so every key and value, far below 4 GiB.
        let (Ok(k32), Ok(v32)) = (u32::try_from(key_len), u32::try_from(value.len())) else {
            panic!("memtable entries are bounded by the batch size limit");
        };
        // A panic cannot leave the list half-linked (a node is linked only at the end),
        // so a poisoned lock is safe to take over.
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let height = writer.random_height();
        let (lengths, header) = header_for(k32, v32);
        let size = POINTER * height + header + key_len + value.len();
        let base = writer.arena.allocate(size);
        // SAFETY: `base` points to `size` fresh, writable bytes aligned to 8 that nothing
        // else references; the tower (zeroed, i.e. null pointers) takes the first
        // `POINTER * height` of them, the header the next `header`, then the key and
        // value. The long form's two lengths sit at offsets 4 and 8, aligned to 4.
        let node = unsafe {
            let node = base.add(POINTER * height).cast::<Node>();
            node.write(Node { lengths });
            if header == LONG_HEADER {
                let words = node.cast::<u32>();
                words.add(1).write(k32);
                words.add(2).write(v32);
            }
            let mut dst = node.cast::<u8>().add(header);
            for part in key_parts.iter().chain([&value]) {
                ptr::copy_nonoverlapping(part.as_ptr(), dst.as_ptr(), part.len());
                dst = dst.add(part.len());
            }
            node
        };
        // SAFETY: the node was just written in full.
        let key = unsafe { node_key(node) };

        let list_height = self.height.load(Ordering::Relaxed);
        // A key after the last one inserted, when that one went to the end of the list
        // (an ascending fill), starts each level from the previous insert's position
        // there (a finger search): one comparison instead of a descent from the head.
        // Other inserts search from the head: a finger far from the key would cost a
        // cache miss per level.
        let after_last = writer.last.is_some_and(|last| {
            // SAFETY: `last` is a published node of this list.
            self.next(Some(last), 0).is_null()
                && unsafe { compare_internal(node_key(last), key) }.is_lt()
        });
        let fingers = if after_last {
            writer.fingers
        } else {
            [None; MAX_HEIGHT]
        };
        let mut prev: [Link; MAX_HEIGHT] = [None; MAX_HEIGHT];
        let mut x: Link = None;
        for level in (0..list_height).rev() {
            // Every candidate is before `key`; start from whichever is further along.
            x = later(x, fingers[level]);
            loop {
                let next = self.next(x, level);
                prefetch_successor(next, level);
                if level > 0 {
                    prefetch_below(self.link(x, level - 1));
                }
                // SAFETY: `next` came from the list, so it is a published node (rule 2).
                if next.is_null() || !unsafe { compare_internal(node_key(nn(next)), key) }.is_lt() {
                    break;
                }
                x = Some(nn(next));
            }
            prev[level] = x;
        }
        if height > list_height {
            // Levels above the old height start at the head (already `None` in `prev`).
            // Readers that see the new height before the head's pointer at that level
            // find null there and simply go down a level.
            self.height.store(height, Ordering::Relaxed);
        }
        for (level, &p) in prev.iter().enumerate().take(height) {
            // Only the writer changes links, so a relaxed read of the successor is enough.
            let succ = self.link(p, level).load(Ordering::Relaxed);
            // SAFETY: the node's tower has `height` levels; it is not yet published.
            unsafe { tower(node, level) }.store(succ, Ordering::Relaxed);
            // Publishes the node at this level: the Release store makes the node's
            // contents visible to every reader that loads this pointer (rule 2).
            self.link(p, level).store(node.as_ptr(), Ordering::Release);
        }
        for (level, finger) in writer.fingers.iter_mut().enumerate() {
            *finger = if level < height {
                Some(node)
            } else {
                prev[level]
            };
        }
        writer.last = Some(node);
        self.len.fetch_add(1, Ordering::Relaxed);
        self.used.fetch_add(
            size.next_multiple_of(super::arena::ALIGN),
            Ordering::Relaxed,
        );
    }

    /// The `next` pointer of `x` (the head when `None`) at `level`.
    fn link(&self, x: Link, level: usize) -> &AtomicPtr<Node> {
        match x {
            None => &self.head[level],
            // SAFETY: `x` is a published node, so its tower reaches `level` (searches
            // only step onto a node at levels it was linked at) and it lives as long as
            // `self` (rule 1).
            Some(n) => unsafe { tower(n, level) },
        }
    }

    fn next(&self, x: Link, level: usize) -> *mut Node {
        self.link(x, level).load(Ordering::Acquire)
    }

    /// The key and value of the first entry whose key is >= `target`, if any.
    pub(super) fn first_at_or_after(&self, target: &[u8]) -> Option<(&[u8], &[u8])> {
        // SAFETY: a node of this list, borrowed no longer than the list.
        self.seek(target)
            .map(|n| unsafe { (node_key(n), node_value(n)) })
    }

    /// The first node whose key is >= `target`, if any.
    fn seek(&self, target: &[u8]) -> Option<NonNull<Node>> {
        self.search(target, false).1
    }

    /// The last node whose key is < `target` (or <= `target` when `inclusive`); `None`
    /// for the head.
    fn last_before(&self, target: &[u8], inclusive: bool) -> Link {
        self.search(target, inclusive).0
    }

    /// Descends to the last node before `target` (< it, or <= it when `inclusive`).
    /// Returns that node and the node after it *as compared at level 0*: a writer may
    /// link newer nodes in between at any moment, so the successor must be the very
    /// pointer the search looked at, never a second load.
    fn search(&self, target: &[u8], inclusive: bool) -> (Link, Option<NonNull<Node>>) {
        let (x, next) = self.descend(target, inclusive, 0);
        (x, NonNull::new(next))
    }

    /// Descends from the top level down to level `stop`, moving on past every node
    /// before `target` (< it, or <= it when `inclusive`). Returns the last such node at
    /// `stop` (`None` for the head) and the pointer after it that the search compared.
    fn descend(&self, target: &[u8], inclusive: bool, stop: usize) -> (Link, *mut Node) {
        let mut x: Link = None;
        let mut level = self.height.load(Ordering::Relaxed) - 1;
        loop {
            let next = self.next(x, level);
            prefetch_successor(next, level);
            if level > stop {
                prefetch_below(self.link(x, level - 1));
            }
            let advance = !next.is_null() && {
                // SAFETY: a published node (rule 2) that lives as long as `self`.
                let order = compare_internal(unsafe { node_key(nn(next)) }, target);
                order == CmpOrdering::Less || (inclusive && order == CmpOrdering::Equal)
            };
            if advance {
                x = Some(nn(next));
            } else if level <= stop {
                return (x, next);
            } else {
                level -= 1;
            }
        }
    }

    /// The nodes before `target` (those whose key is < it), about
    /// `2^BACKWARD_BATCH_LEVEL` of them, in list order, into `out` (`scratch` is a
    /// buffer to reuse). The search stops descending at that level, at the last node
    /// there before `target`; then each level below fills in the nodes between the ones
    /// already found. At each level the successors of all the nodes found so far are
    /// fetched at once, so a batch costs a few rounds of cache misses that overlap,
    /// rather than one miss after another down a level-0 chain.
    fn predecessors(
        &self,
        target: &[u8],
        out: &mut Vec<NonNull<Node>>,
        scratch: &mut Vec<NonNull<Node>>,
    ) {
        let stop = BACKWARD_BATCH_LEVEL.min(self.height.load(Ordering::Relaxed) - 1);
        let (x, _) = self.descend(target, false, stop);
        // `out`: the nodes from `x` (or the head) up to `target` at the level above.
        out.clear();
        out.extend(x);
        for level in (0..stop).rev() {
            std::mem::swap(out, scratch);
            out.clear();
            if x.is_none() {
                prefetch(self.next(None, level));
            }
            for &anchor in scratch.iter() {
                // An anchor was found at a higher level, so its tower reaches `level`.
                prefetch(self.next(Some(anchor), level));
            }
            if x.is_none() {
                self.fill_between(None, scratch.first().copied(), target, level, out);
            }
            for (i, &anchor) in scratch.iter().enumerate() {
                out.push(anchor);
                let until = scratch.get(i + 1).copied();
                self.fill_between(Some(anchor), until, target, level, out);
            }
        }
    }

    /// Pushes the nodes after `from` at `level`, up to the node `until` (a node of that
    /// level's chain), or when `until` is `None`, up to the first node not before
    /// `target`.
    fn fill_between(
        &self,
        from: Link,
        until: Option<NonNull<Node>>,
        target: &[u8],
        level: usize,
        out: &mut Vec<NonNull<Node>>,
    ) {
        let mut y = from;
        loop {
            let Some(n) = NonNull::new(self.next(y, level)) else {
                return;
            };
            let done = match until {
                // Nodes are never unlinked, so the chain reaches `until`; everything
                // before it is before `target` too.
                Some(u) => n == u,
                // SAFETY: a published node (rule 2) that lives as long as `self`.
                None => !unsafe { compare_internal(node_key(n), target) }.is_lt(),
            };
            if done {
                return;
            }
            out.push(n);
            y = Some(n);
        }
    }

    /// The first node, if any.
    fn first(&self) -> Option<NonNull<Node>> {
        NonNull::new(self.next(None, 0))
    }

    /// The last node, if any.
    fn last(&self) -> Option<NonNull<Node>> {
        let mut x: Link = None;
        let mut level = self.height.load(Ordering::Relaxed) - 1;
        loop {
            let next = self.next(x, level);
            if !next.is_null() {
                x = Some(nn(next));
            } else if level == 0 {
                return x;
            } else {
                level -= 1;
            }
        }
    }

    /// The node after `node`, a node of this list, if any.
    fn successor(&self, node: NonNull<Node>) -> Option<NonNull<Node>> {
        NonNull::new(self.next(Some(node), 0))
    }
}

/// A cursor over a list that it keeps alive; it moves either way and lends each entry.
/// Stepping forward follows one pointer. The list has no back links, so stepping back
/// searches: one search finds a batch of about 64 predecessors (see
/// [`SkipList::predecessors`]), and the next steps back take them from the batch. A
/// search per step, as LevelDB's and RocksDB's memtables do, made the memtable 30% of
/// a reverse scan.
///
/// A node inserted after the batch was taken is not in it. That is sound for every
/// reader: nodes inserted while a cursor is open carry sequence numbers above its
/// snapshot (a write is published after its insert), and flushes read frozen lists.
pub(super) struct Cursor {
    list: Arc<SkipList>,
    /// Always a node of `list`.
    node: Option<NonNull<Node>>,
    /// When the last move was a step back: the nodes before `node`, nearest last.
    /// Empty otherwise.
    behind: Vec<NonNull<Node>>,
    /// A buffer for [`SkipList::predecessors`].
    scratch: Vec<NonNull<Node>>,
}

// SAFETY: the cursor's pointers (`node`, `behind` and `scratch`) are into `list`'s
// arena, which the cursor's `Arc` keeps alive; the list itself is Send and Sync.
unsafe impl Send for Cursor {}

impl Cursor {
    pub(super) fn new(list: Arc<SkipList>) -> Self {
        Cursor {
            list,
            node: None,
            behind: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub(super) fn valid(&self) -> bool {
        self.node.is_some()
    }

    pub(super) fn seek_to_first(&mut self) {
        self.behind.clear();
        self.node = self.list.first();
    }

    pub(super) fn seek_to_last(&mut self) {
        self.behind.clear();
        self.node = self.list.last();
    }

    /// To the first entry >= `target`.
    pub(super) fn seek(&mut self, target: &[u8]) {
        self.behind.clear();
        self.node = self.list.seek(target);
    }

    /// To the last entry <= `target`.
    pub(super) fn seek_for_prev(&mut self, target: &[u8]) {
        self.behind.clear();
        self.node = self.list.last_before(target, true);
    }

    pub(super) fn next(&mut self) {
        self.behind.clear();
        self.node = self.node.and_then(|n| self.list.successor(n));
        if let Some(n) = self.node {
            // A scan usually steps on: start loading the entry after this one.
            // SAFETY: every node has a level 0.
            prefetch_entry(unsafe { tower(n, 0) }.load(Ordering::Relaxed));
        }
    }

    pub(super) fn prev(&mut self) {
        if let Some(n) = self.behind.pop() {
            self.node = Some(n);
        } else if let Some(n) = self.node {
            // SAFETY: `n` is a node of `self.list`, alive while `self` is.
            let key = unsafe { node_key(n) };
            self.list
                .predecessors(key, &mut self.behind, &mut self.scratch);
            self.node = self.behind.pop();
        }
        // The batch holds the nodes' addresses, not their entries: start loading the
        // entry a further step back will read.
        if let Some(&n) = self.behind.last() {
            prefetch_entry(n.as_ptr());
        }
    }

    /// The current internal key; empty when not valid.
    pub(super) fn key(&self) -> &[u8] {
        // SAFETY: a node of `self.list`, borrowed no longer than `self`.
        self.node.map_or(&[], |n| unsafe { node_key(n) })
    }

    /// The current value; empty when not valid.
    pub(super) fn value(&self) -> &[u8] {
        // SAFETY: as for `key`.
        self.node.map_or(&[], |n| unsafe { node_value(n) })
    }
}

/// Of two positions before the same key, the one further along the list.
fn later(a: Link, b: Link) -> Link {
    match (a, b) {
        (Some(x), Some(y)) if x == y => a,
        (Some(x), Some(y)) => {
            // SAFETY: both are published nodes of the list being searched.
            if unsafe { compare_internal(node_key(x), node_key(y)) }.is_lt() {
                b
            } else {
                a
            }
        }
        (None, other) | (other, None) => other,
    }
}

/// Asks the CPU to start loading the cache line at `node` (a hint: nothing is read,
/// and a null or stale pointer is harmless).
#[inline(always)]
fn prefetch(node: *mut Node) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            node.cast::<i8>().cast_const(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = node;
}

/// Prefetches the node after `next` at `level` (when `next` is a node reached at that
/// level): the next one a search compares if it moves on, fetched while `next`'s key is
/// compared.
#[inline(always)]
fn prefetch_successor(next: *mut Node, level: usize) {
    if let Some(n) = NonNull::new(next) {
        // SAFETY: `n` was reached at `level`, so its tower reaches `level`.
        prefetch(unsafe { tower(n, level) }.load(Ordering::Relaxed));
    }
}

/// Prefetches the node a search compares next if it goes down a level: `below` is the
/// link one level down from where the search stands. Fetched while the node ahead is
/// compared, its cache miss overlaps that one instead of following it. With the
/// prefetch on both the insert and the seek descents, fillrandom rose 8%, overwrite 5%
/// and seekrandom 2% (medians of 6 interleaved runs at 1M keys); a seek alone in a
/// 256,000-entry list took 8% less time.
#[inline(always)]
fn prefetch_below(below: &AtomicPtr<Node>) {
    prefetch(below.load(Ordering::Relaxed));
}

/// Prefetches a node's header and the next two cache lines, which hold the key and
/// value of a small entry (db_bench's take 128 bytes from the header on).
#[inline(always)]
fn prefetch_entry(node: *mut Node) {
    prefetch(node);
    prefetch(node.cast::<u8>().wrapping_add(64).cast());
    prefetch(node.cast::<u8>().wrapping_add(128).cast());
}

fn nn(p: *mut Node) -> NonNull<Node> {
    NonNull::new(p).expect("checked non-null")
}

/// Tower level `level` of `node`.
///
/// # Safety
/// `node` must be a node allocated by [`SkipList::insert`] with a height above `level`,
/// and the returned reference must not outlive the list.
unsafe fn tower<'a>(node: NonNull<Node>, level: usize) -> &'a AtomicPtr<Node> {
    // SAFETY: per the contract, the tower slot lies within the node's allocation, is
    // aligned to 8 (nodes and headers are 8-aligned) and holds an `AtomicPtr`.
    unsafe {
        &*node
            .cast::<u8>()
            .sub(POINTER * (level + 1))
            .cast::<AtomicPtr<Node>>()
            .as_ptr()
    }
}

/// Where `node`'s key starts, and the key and value lengths.
///
/// # Safety
/// `node` must be a fully written node of a live list.
#[inline(always)]
unsafe fn node_layout(node: NonNull<Node>) -> (*const u8, usize, usize) {
    // SAFETY: per the contract the header is initialized and never changes; the long
    // form's lengths follow its first word (see `SkipList::insert`).
    unsafe {
        let lengths = node.as_ref().lengths;
        let start = node.cast::<u8>().as_ptr();
        if lengths & LONG_FORM == 0 {
            let key_len = (lengths & (LONG_FORM - 1)) as usize;
            (start.add(SHORT_HEADER), key_len, (lengths >> 16) as usize)
        } else {
            let words = node.cast::<u32>().as_ptr();
            let (key_len, value_len) = (*words.add(1), *words.add(2));
            (start.add(LONG_HEADER), key_len as usize, value_len as usize)
        }
    }
}

/// The internal key of `node`.
///
/// # Safety
/// `node` must be a fully written node of a list that outlives `'a`.
unsafe fn node_key<'a>(node: NonNull<Node>) -> &'a [u8] {
    // SAFETY: per the contract the header and the key after it are initialized and
    // never change.
    unsafe {
        let (key, key_len, _) = node_layout(node);
        std::slice::from_raw_parts(key, key_len)
    }
}

/// The value of `node`.
///
/// # Safety
/// As for [`node_key`].
unsafe fn node_value<'a>(node: NonNull<Node>) -> &'a [u8] {
    // SAFETY: as for `node_key`; the value follows the key.
    unsafe {
        let (key, key_len, value_len) = node_layout(node);
        std::slice::from_raw_parts(key.add(key_len), value_len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    fn collect(list: &Arc<SkipList>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut c = Cursor::new(Arc::clone(list));
        c.seek_to_first();
        while c.valid() {
            out.push(c.key().to_vec());
            c.next();
        }
        out
    }

    fn at(c: &Cursor) -> Option<Vec<u8>> {
        c.valid().then(|| c.key().to_vec())
    }

    /// Keys and values on both sides of the short header's limits come back whole, in
    /// order, whichever header form their nodes got.
    #[test]
    fn entries_at_the_header_limits_keep_their_lengths() {
        let list = Arc::new(SkipList::new());
        let shapes = [
            (0, 0),
            (MAX_SHORT_KEY - 8, MAX_SHORT_VALUE),
            (MAX_SHORT_KEY - 7, 1),
            (3, MAX_SHORT_VALUE + 1),
            (MAX_SHORT_KEY + 100, MAX_SHORT_VALUE + 100),
            (5, 100),
        ];
        let mut expected = Vec::new();
        for (i, &(user_len, value_len)) in shapes.iter().enumerate() {
            // Each key's bytes order the entries; their count is the key's length.
            let user = vec![b'a' + i as u8; user_len.max(1)];
            let key = make_internal_key(&user, 7, ValueKind::Put);
            let value: Vec<u8> = (0..value_len).map(|j| (j % 251) as u8).collect();
            list.insert([&user, &key[user.len()..]], &value);
            expected.push((key, value));
        }
        let mut c = Cursor::new(Arc::clone(&list));
        c.seek_to_first();
        for (key, value) in &expected {
            assert!(c.valid());
            assert_eq!(c.key(), key.as_slice());
            assert_eq!(c.value(), value.as_slice());
            assert_eq!(list.first_at_or_after(key), Some((&key[..], &value[..])));
            c.next();
        }
        assert!(!c.valid());
        c.seek_to_last();
        for (key, value) in expected.iter().rev() {
            assert!(c.valid());
            assert_eq!(c.key(), key.as_slice());
            assert_eq!(c.value(), value.as_slice());
            c.prev();
        }
        assert!(!c.valid());
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(
            keys in prop::collection::vec((prop::collection::vec(0u8..4, 0..6), 1u64..1000), 0..300),
            probe in prop::collection::vec(0u8..4, 0..6),
        ) {
            let list = Arc::new(SkipList::new());
            let mut model = BTreeSet::new();
            for (user, seq) in keys {
                let k = make_internal_key(&user, seq, ValueKind::Put);
                if model.insert(KeyOrd(k.clone())) {
                    list.insert([&user, &k[user.len()..]], &k);
                }
            }
            let sorted: Vec<Vec<u8>> = model.iter().map(|k| k.0.clone()).collect();
            prop_assert_eq!(collect(&list), sorted.clone());
            prop_assert_eq!(list.len(), sorted.len());
            let mut c = Cursor::new(Arc::clone(&list));
            // Backward, every value is the key it was stored under.
            c.seek_to_last();
            let mut backward = Vec::new();
            while c.valid() {
                prop_assert_eq!(c.value(), c.key());
                backward.push(c.key().to_vec());
                c.prev();
            }
            backward.reverse();
            prop_assert_eq!(&backward, &sorted);

            let t = make_internal_key(&probe, 500, ValueKind::Put);
            let lt = |k: &Vec<u8>| compare_internal(k, &t).is_lt();
            let le = |k: &Vec<u8>| !compare_internal(k, &t).is_gt();
            let ge = sorted.iter().find(|k| !lt(k)).cloned();
            c.seek(&t);
            prop_assert_eq!(at(&c), ge.clone());
            prop_assert_eq!(list.first_at_or_after(&t).map(|(k, _)| k.to_vec()), ge);
            let at_or_before = sorted.iter().rev().find(|k| le(k)).cloned();
            c.seek_for_prev(&t);
            prop_assert_eq!(at(&c), at_or_before);
        }
    }

    proptest! {
        /// Steps either way, with seeks between, agree with a sorted model: batches of
        /// predecessors are dropped whenever the cursor moves any other way.
        #[test]
        fn a_walk_with_turns_matches_a_sorted_model(
            n in 1u32..600,
            steps in prop::collection::vec((0u8..10, 0u32..700), 1..200),
        ) {
            let list = Arc::new(SkipList::new());
            // Inserted out of order, so towers differ from run to run of `n`.
            let key = |i: u32| make_internal_key(format!("{:05}", i * 2).as_bytes(), 1, ValueKind::Put);
            for i in (0..n).map(|i| (i * 7919) % n) {
                let k = key(i);
                list.insert([&k[..5], &k[5..]], b"");
            }
            let sorted: Vec<Vec<u8>> = (0..n).map(key).collect();
            let mut c = Cursor::new(Arc::clone(&list));
            let mut at_model: Option<usize> = None;
            for (op, arg) in steps {
                // An odd probe falls between two keys; `arg / 2` may equal one.
                let probe = make_internal_key(format!("{arg:05}").as_bytes(), 1, ValueKind::Put);
                match op {
                    0 => { c.seek_to_first(); at_model = Some(0); }
                    1 => { c.seek_to_last(); at_model = Some(sorted.len() - 1); }
                    2 => {
                        c.seek(&probe);
                        at_model = sorted.iter().position(|k| !compare_internal(k, &probe).is_lt());
                    }
                    3 => {
                        c.seek_for_prev(&probe);
                        at_model = sorted.iter().rposition(|k| !compare_internal(k, &probe).is_gt());
                    }
                    4..=6 => if at_model.is_some() {
                        c.next();
                        at_model = at_model.map(|i| i + 1).filter(|&i| i < sorted.len());
                    },
                    _ => if at_model.is_some() {
                        c.prev();
                        at_model = at_model.and_then(|i| i.checked_sub(1));
                    },
                }
                prop_assert_eq!(at(&c), at_model.map(|i| sorted[i].clone()));
            }
        }
    }

    /// Internal keys ordered as the list orders them.
    #[derive(PartialEq, Eq)]
    struct KeyOrd(Vec<u8>);
    impl PartialOrd for KeyOrd {
        fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for KeyOrd {
        fn cmp(&self, other: &Self) -> CmpOrdering {
            compare_internal(&self.0, &other.0)
        }
    }

    #[test]
    fn readers_see_a_consistent_sorted_list_while_one_writer_inserts() {
        let list = Arc::new(SkipList::new());
        let writer = {
            let list = Arc::clone(&list);
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    // Scatter the keys so inserts land all over the list.
                    let user = (i.wrapping_mul(0x9E37_79B9) % 100_000).to_be_bytes();
                    let k = make_internal_key(&user, i + 1, ValueKind::Put);
                    list.insert([&user, &k[8..]], &i.to_le_bytes());
                }
            })
        };
        let mut rounds = 0;
        while !writer.is_finished() || rounds < 3 {
            let keys = collect(&list);
            for pair in keys.windows(2) {
                assert!(compare_internal(&pair[0], &pair[1]).is_lt(), "out of order");
            }
            // Backward too: batches of predecessors taken while nodes go in between.
            let mut c = Cursor::new(Arc::clone(&list));
            c.seek_to_last();
            let mut last: Option<Vec<u8>> = None;
            let mut seen = 0;
            while c.valid() {
                if let Some(after) = &last {
                    assert!(
                        compare_internal(c.key(), after).is_lt(),
                        "out of order backward"
                    );
                }
                last = Some(c.key().to_vec());
                seen += 1;
                c.prev();
            }
            assert!(seen >= keys.len(), "a backward walk lost entries");
            rounds += 1;
        }
        writer.join().unwrap();
        assert_eq!(collect(&list).len(), 20_000);
        assert!(list.allocated_bytes() >= list.used_bytes());
    }

    #[test]
    fn large_values_get_chunks_of_their_own() {
        let list = Arc::new(SkipList::new());
        let big = vec![7u8; 3 << 20];
        let k = make_internal_key(b"big", 1, ValueKind::Put);
        list.insert([b"big", &k[3..]], &big);
        let k2 = make_internal_key(b"small", 2, ValueKind::Put);
        list.insert([b"small", &k2[5..]], b"v");
        let mut c = Cursor::new(Arc::clone(&list));
        c.seek_to_first();
        assert_eq!(c.value(), big.as_slice());
        c.next();
        assert_eq!(c.value(), b"v");
        c.next();
        assert!(!c.valid());
    }
}

#[cfg(test)]
mod race_tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    #[test]
    fn a_reader_never_sees_an_older_version_after_a_newer_one() {
        let list = Arc::new(SkipList::new());
        let published = Arc::new(AtomicU64::new(0));
        let writer = {
            let (list, published) = (Arc::clone(&list), Arc::clone(&published));
            std::thread::spawn(move || {
                for seq in 1..200_000u64 {
                    let k = make_internal_key(b"counter", seq, ValueKind::Put);
                    list.insert([b"counter", &k[7..]], &seq.to_le_bytes());
                    let other = format!("z{:05}", seq % 5000);
                    let k2 = make_internal_key(other.as_bytes(), seq, ValueKind::Put);
                    list.insert([other.as_bytes(), &k2[other.len()..]], &[0; 300]);
                    published.store(seq, Ordering::SeqCst);
                }
            })
        };
        while !writer.is_finished() {
            // Read at a snapshot: every version up to it is in, newer ones are being
            // linked right now, and the search must return exactly the snapshot's.
            let snapshot = published.load(Ordering::SeqCst);
            let target = make_internal_key(b"counter", snapshot, ValueKind::Put);
            let got = match list.first_at_or_after(&target) {
                Some((k, v)) if k.starts_with(b"counter") => {
                    u64::from_le_bytes(v.try_into().unwrap())
                }
                _ => 0,
            };
            assert_eq!(got, snapshot, "the version read at snapshot {snapshot}");
        }
        writer.join().unwrap();
    }
}
