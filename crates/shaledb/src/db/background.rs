//! Background work: `max_background_jobs` threads run flushes and compactions.
//!
//! Flushes come first. With two or more threads, one is always kept free of
//! compactions, so a flush never waits behind a long compaction. Compactions whose
//! inputs and output ranges are disjoint run in parallel. Closing the database stops
//! the workers: a flush in progress finishes, a compaction in progress is abandoned
//! (its partial outputs deleted, the tree unchanged).

use std::ops::{Bound, RangeBounds};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{Db, DbCore, State};
use crate::compaction::manual::{level0_inputs, manual_inputs, tiered_level0_output};
use crate::compaction::{picker, tiered, Compaction};
use crate::error::{Error, Result};
use crate::options::CompactionStyle;

/// How long an idle worker sleeps before it checks again for tables to delete.
const PURGE_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the worker threads. If one cannot start, those already running are stopped
/// and joined, so that none keeps the database (and its lock) alive.
pub(crate) fn spawn_workers(core: &Arc<DbCore>) -> Result<Vec<JoinHandle<()>>> {
    let mut workers = Vec::with_capacity(core.options.max_background_jobs);
    for i in 0..core.options.max_background_jobs {
        let worker = Arc::clone(core);
        let spawned = std::thread::Builder::new()
            .name(format!("shaledb-bg-{i}"))
            .spawn(move || {
                // Flushes and compactions catch their own panics and go on; a panic
                // anywhere else in the loop (picking, installing, purging) ends the
                // worker, and the database turns read-only rather than waiting on
                // work that would never be done.
                let ended = catching_panics("a background thread", || {
                    worker_loop(&worker);
                    Ok(())
                });
                if let Err(e) = ended {
                    worker.set_bg_error(e);
                }
            });
        match spawned {
            Ok(handle) => workers.push(handle),
            Err(e) => {
                core.shutting_down.store(true, Ordering::Release);
                {
                    // Under the state lock, so no worker is between its check and its
                    // wait when the notification comes.
                    let _state = core.state.lock();
                    core.work_cv.notify_all();
                }
                for handle in workers {
                    let _ = handle.join();
                }
                return Err(Error::from(e));
            }
        }
    }
    Ok(workers)
}

/// Runs background work, turning a panic in it (a bug, or a file system that panics)
/// into an error, which makes the database read-only as any failed flush or compaction
/// does. A worker that died instead would leave its work marked as running for good:
/// no compaction would start again, and writers would wait at the stop trigger forever.
pub(super) fn catching_panics(what: &str, work: impl FnOnce() -> Result<()>) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Internal(format!("{what} panicked: {message}")))
    })
}

fn worker_loop(core: &DbCore) {
    let mut state = core.state.lock();
    loop {
        if core.shutting_down.load(Ordering::Acquire) {
            return;
        }
        if core.bg_error.lock().is_some() {
            // No more flushes or compactions; tables that readers stop using are still
            // deleted (outputs of the failed work stay pending until the next open).
            if core.purge_requested.load(Ordering::Acquire) {
                core.delete_obsolete_files(&state);
            } else {
                core.work_cv.wait_for(&mut state, PURGE_RECHECK);
            }
            continue;
        }
        if !state.flush_running && !state.imms.is_empty() {
            state.flush_running = true;
            drop(state);
            let result = catching_panics("a flush", || core.flush_oldest());
            state = core.state.lock();
            state.flush_running = false;
            if let Err(e) = result {
                drop(state);
                core.set_bg_error(e);
                state = core.state.lock();
            }
            core.done_cv.notify_all();
            continue;
        }
        let compaction_slots = core.options.max_background_jobs.saturating_sub(1).max(1);
        // A pending manual compaction holds automatic ones back, unless writers have
        // stopped at the level-0 trigger (the manual one may be waiting behind them, in
        // its flush); a running one always does.
        if !state.manual_running
            && (state.manual_pending == 0 || core.level0_at_stop())
            && !core.options.disable_auto_compactions
            && state.compactions_running < compaction_slots
        {
            if let Some(c) = core.pick_compaction(&state.running) {
                state.running.register(&c);
                state.compactions_running += 1;
                drop(state);
                let result = catching_panics("a compaction", || core.run_compaction(&c));
                state = core.state.lock();
                core.conclude_compaction(&mut state, c, &result);
                state.compactions_running -= 1;
                core.done_cv.notify_all();
                continue;
            }
        }
        if core.purge_requested.load(Ordering::Acquire) {
            core.delete_obsolete_files(&state);
            continue;
        }
        // The release hook signals without the state lock, so a wake-up can slip in
        // between the check above and the wait; the timeout bounds what that costs.
        core.work_cv.wait_for(&mut state, PURGE_RECHECK);
    }
}

impl DbCore {
    /// True if level 0 holds as many tables as stop writers (only counted when
    /// automatic compactions run, as the write path counts it).
    fn level0_at_stop(&self) -> bool {
        !self.options.disable_auto_compactions
            && self.versions.lock().current().files(0).len()
                >= self.options.level0_stop_writes_trigger
    }

    /// The next compaction the configured style wants, if any.
    pub(crate) fn pick_compaction(
        &self,
        running: &crate::compaction::Running,
    ) -> Option<Compaction> {
        let version = self.versions.lock().current();
        match self.options.compaction {
            CompactionStyle::Leveled => picker::pick(&version, &self.options, running),
            CompactionStyle::Tiered => tiered::pick(&version, &self.options, running),
        }
    }

    /// Merges every table holding keys of [`lo`, `hi`] into the last level (see
    /// `compaction/manual.rs`): for the whole key space in one merge; for a bounded
    /// range, level 0 first goes down whole if it holds keys of the range, then the
    /// range goes from level 1 down in one merge. When only the last level holds such
    /// keys, its tables are rewritten in place, so garbage that sat there for an old
    /// snapshot goes away too.
    fn compact_range_inner(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<()> {
        // A level 0 too large to merge at once goes down in batches first.
        loop {
            let version = self.versions.lock().current();
            match crate::compaction::level0_batch(&version, &self.options) {
                Some(batch) => self.run_manual(batch)?,
                None => break,
            }
        }
        let bounded = lo.is_some() || hi.is_some();
        let target = self.options.target_file_size;
        if bounded {
            let version = self.versions.lock().current();
            let output = match self.options.compaction {
                CompactionStyle::Leveled => {
                    picker::level_targets(&version, &self.options).base_level
                }
                CompactionStyle::Tiered => tiered_level0_output(&version),
            };
            if let Some(inputs) = level0_inputs(&version, lo, hi, output) {
                let mut c = Compaction::new(version, inputs, output, target);
                // Outputs cut where the level below splits, as the picker's are, so the
                // merge of the range below takes as few of its tables as it can.
                c.align_to_grandparents();
                self.run_manual(c)?;
            }
        }
        // Level-0 tables flushed meanwhile hold newer data than anything below: they
        // may stay where they are.
        let version = self.versions.lock().current();
        let inputs = manual_inputs(&version, lo, hi, usize::from(bounded));
        if inputs.is_empty() {
            return Ok(());
        }
        let last = version.num_levels() - 1;
        self.run_manual(Compaction::new(version, inputs, last, target))
    }

    /// Runs one compaction of `compact_range` on the caller's thread. A failure other
    /// than closing makes the database read-only, as it does for the workers.
    fn run_manual(&self, c: Compaction) -> Result<()> {
        self.check_bg_error()?;
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.state.lock().running.register(&c);
        let result = catching_panics("a manual compaction", || self.run_compaction(&c));
        self.conclude_compaction(&mut self.state.lock(), c, &result);
        result
    }

    /// After a registered compaction ran, automatic or manual: gives its tables back,
    /// and installs its result and deletes what it made obsolete, or, if it failed for
    /// another reason than closing, makes the database read-only.
    fn conclude_compaction(&self, state: &mut State, c: Compaction, result: &Result<()>) {
        state.running.release(&c);
        // The job's handle on the old version would keep its inputs alive.
        drop(c);
        match result {
            Ok(()) => {
                self.install_super_version(state);
                self.delete_obsolete_files(state);
            }
            Err(Error::Closed) => {}
            Err(e) => self.set_bg_error_locked(state, e.duplicate()),
        }
    }
}

/// The compaction slot a `compact_range` call holds: counted as pending from before
/// its flush (workers then start no automatic compaction, as under RocksDB's exclusive
/// manual compaction, so the flush's new level-0 table does not set off one that the
/// manual compaction would redo), claimed once no compaction runs. Dropping it, on any
/// path out of the call, panics included, gives the slot back and wakes whoever waits.
struct ManualSlot<'a> {
    core: &'a DbCore,
    claimed: bool,
}

impl<'a> ManualSlot<'a> {
    /// Counts a manual compaction as pending.
    fn pending(core: &'a DbCore) -> Self {
        core.state.lock().manual_pending += 1;
        ManualSlot {
            core,
            claimed: false,
        }
    }

    /// Waits until no compaction runs, then holds the slot.
    fn claim(&mut self) -> Result<()> {
        let core = self.core;
        let mut state = core.state.lock();
        loop {
            core.check_bg_error()?;
            if core.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            if !state.manual_running && state.compactions_running == 0 {
                state.manual_running = true;
                self.claimed = true;
                return Ok(());
            }
            core.done_cv.wait(&mut state);
        }
    }
}

impl Drop for ManualSlot<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.core.state.lock();
            if self.claimed {
                state.manual_running = false;
            }
            state.manual_pending -= 1;
        }
        self.core.done_cv.notify_all();
        self.core.work_cv.notify_all();
    }
}

fn bound_key<K: AsRef<[u8]>>(b: Bound<&K>) -> Option<Vec<u8>> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
        Bound::Unbounded => None,
    }
}

impl Db {
    /// Waits until background work is idle: no frozen memtable waits for its flush, and
    /// no compaction runs or is due (as RocksDB's `WaitForCompact`). It does not flush
    /// the active memtable. With `disable_auto_compactions` it waits only for flushes
    /// and for compactions already running. A database opened read-only runs no
    /// background work, so there it returns at once.
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.check_open()?;
        let core = self.core();
        if core.read_only {
            return Ok(());
        }
        let mut state = core.state.lock();
        loop {
            core.check_bg_error()?;
            if core.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let flushing = state.flush_running || !state.imms.is_empty();
            let compacting = state.compactions_running > 0
                || state.manual_pending > 0
                || (!core.options.disable_auto_compactions
                    && core.pick_compaction(&state.running).is_some());
            if !flushing && !compacting {
                return Ok(());
            }
            core.work_cv.notify_all();
            // A bounded wait: the picker's answer can change without a notification
            // (a worker finishing just before this thread started waiting).
            core.done_cv
                .wait_for(&mut state, std::time::Duration::from_millis(50));
        }
    }

    /// Compacts every table holding keys in `range` (all of them for `..`) into the last
    /// level, dropping overwritten and deleted data no snapshot can see. Flushes the
    /// memtable first and returns when the work is done. A range that holds no key
    /// (`k..k`, or one whose start is after its end) compacts nothing, as `Db::range`
    /// yields nothing for it; the memtable is still flushed.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.check_open()?;
        let core = self.core();
        let mut slot = ManualSlot::pending(core);
        // Even for an empty range: the flush is part of the contract (what was written
        // before is then in tables). If writers have stopped at the level-0 trigger, it
        // waits for automatic compactions, which a pending manual one does not hold back
        // then.
        self.flush()?;
        if range_is_empty(range.start_bound(), range.end_bound()) {
            return Ok(());
        }
        let lo = bound_key(range.start_bound());
        let hi = bound_key(range.end_bound());
        slot.claim()?;
        let result = core.compact_range_inner(lo.as_deref(), hi.as_deref());
        drop(slot);
        result
    }
}

/// True if no key lies between the bounds.
fn range_is_empty<K: AsRef<[u8]>>(start: Bound<&K>, end: Bound<&K>) -> bool {
    let (start_key, end_key) = match (start, end) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => return false,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            (s.as_ref(), e.as_ref())
        }
    };
    match start_key.cmp(end_key) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => {
            !matches!((start, end), (Bound::Included(_), Bound::Included(_)))
        }
        std::cmp::Ordering::Less => false,
    }
}
