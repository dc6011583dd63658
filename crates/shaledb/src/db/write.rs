//! The write path, with group commit.
//!
//! Each write joins the `writers` queue. The writer at the front is the leader: it makes
//! room (switching to a new memtable and log when the current one is full, and waiting
//! when background work is behind), takes the batches queued behind it as one group,
//! appends them to the log as one record, syncs once if any writer asked for it, inserts
//! them into the memtable, publishes the new sequence number, and wakes the group.
//! Followers simply wait for their result.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use super::{filename, Db, DbCore};
use crate::batch::{DecodedBatch, WriteBatch};
use crate::error::{Error, Result};
use crate::key::MAX_SEQUENCE;
use crate::memtable::Memtable;
use crate::options::WriteOptions;

/// A group stops growing past this many bytes, so one slow writer's latency stays
/// bounded.
const MAX_GROUP_BYTES: usize = 1 << 20;

/// The largest batch accepted: keys, values and record sizes are 32-bit in the
/// memtable and table formats.
const MAX_BATCH_BYTES: usize = u32::MAX as usize;

/// One queued write.
pub(crate) struct Writer {
    /// Locked only by the leader that writes it; a group of one writes it in place.
    batch: Mutex<WriteBatch>,
    sync: bool,
    disable_wal: bool,
    /// A flush request: switch the memtable even if it is not full.
    force_switch: bool,
    result: Mutex<Option<Result<()>>>,
}

impl DbCore {
    pub(crate) fn write(&self, batch: WriteBatch, opts: &WriteOptions) -> Result<()> {
        if batch.size_in_bytes() > MAX_BATCH_BYTES {
            return Err(Error::InvalidArgument(format!(
                "a write batch may hold at most {MAX_BATCH_BYTES} bytes, this one holds {}",
                batch.size_in_bytes()
            )));
        }
        if opts.sync && opts.disable_wal {
            // A sync makes the log durable; with no log the write would be acknowledged
            // as durable and lost to a crash (RocksDB refuses this too).
            return Err(Error::InvalidArgument(
                "a write with sync needs the write-ahead log: sync and disable_wal cannot both be set".into(),
            ));
        }
        self.enqueue(Writer {
            batch: Mutex::new(batch),
            sync: opts.sync,
            disable_wal: opts.disable_wal,
            force_switch: false,
            result: Mutex::new(None),
        })
    }

    /// Freezes the active memtable (if it holds anything) so it gets flushed; returns
    /// the memtable to wait for.
    pub(crate) fn switch_for_flush(&self) -> Result<()> {
        self.enqueue(Writer {
            batch: Mutex::new(WriteBatch::new()),
            sync: false,
            disable_wal: false,
            force_switch: true,
            result: Mutex::new(None),
        })
    }

    fn enqueue(&self, writer: Writer) -> Result<()> {
        if self.read_only {
            return Err(Error::OpenedReadOnly);
        }
        let me = Arc::new(writer);
        let mut queue = self.writers.lock();
        // Checked under the queue's lock: `close` sets the flag, then waits for the
        // queue to empty, so no write can start after that and finish after `close`.
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        queue.push_back(Arc::clone(&me));
        loop {
            if let Some(result) = me.result.lock().take() {
                return result;
            }
            if queue.front().is_some_and(|front| Arc::ptr_eq(front, &me)) {
                break;
            }
            self.writers_cv.wait(&mut queue);
        }
        // Leader.
        let mut abandon = AbandonOnPanic {
            core: self,
            me: &me,
            finished: false,
        };
        let outcome = self.lead(&me, queue);
        abandon.finished = true;
        let mut queue = self.writers.lock();
        let group_len = outcome.as_ref().map_or(1, |n| *n);
        for _ in 0..group_len {
            if let Some(w) = queue.pop_front() {
                if !Arc::ptr_eq(&w, &me) {
                    let r = match &outcome {
                        Ok(_) => Ok(()),
                        Err(e) => Err(e.duplicate()),
                    };
                    *w.result.lock() = Some(r);
                }
            }
        }
        self.writers_cv.notify_all();
        outcome.map(|_| ())
    }

    /// Does the leader's work; returns how many queued writers the group covered.
    fn lead(
        &self,
        me: &Arc<Writer>,
        queue: MutexGuard<'_, VecDeque<Arc<Writer>>>,
    ) -> Result<usize> {
        // Writers may queue up behind the leader while it makes room; they join its
        // group below.
        drop(queue);
        self.check_bg_error()?;
        self.make_room(me.force_switch)?;
        if me.force_switch {
            return Ok(1);
        }
        let queue = self.writers.lock();
        let mut group: Vec<Arc<Writer>> = Vec::new();
        let mut bytes = 0usize;
        for w in queue.iter() {
            if w.force_switch || (!group.is_empty() && w.disable_wal != me.disable_wal) {
                break;
            }
            let size = w.batch.lock().size_in_bytes();
            if !group.is_empty() && bytes + size > MAX_GROUP_BYTES {
                break;
            }
            bytes += size;
            group.push(Arc::clone(w));
        }
        drop(queue);

        let count: u64 = group.iter().map(|w| w.batch.lock().len() as u64).sum();
        let first_seq = self.last_sequence.load(Ordering::Acquire) + 1;
        if first_seq + count > MAX_SEQUENCE + 1 {
            return Err(Error::InvalidArgument("sequence numbers exhausted".into()));
        }
        let mut own;
        let mut combined;
        let record: &WriteBatch = if group.len() == 1 {
            own = group[0].batch.lock();
            own.set_sequence(first_seq);
            &own
        } else {
            combined = WriteBatch::new();
            for w in &group {
                combined.append(&w.batch.lock());
            }
            combined.set_sequence(first_seq);
            &combined
        };
        let sync = group.iter().any(|w| w.sync);
        let mem = Arc::clone(&self.state.lock().mem);
        // An empty batch written with `sync` appends nothing but still makes every
        // earlier write durable, as in LevelDB and RocksDB.
        if !me.disable_wal && (count > 0 || sync) {
            let appended = match self.wal.lock().as_mut() {
                None => return Err(Error::Closed),
                Some(wal) if count == 0 => wal.sync(),
                Some(wal) => wal.append(record.encoded(), sync),
            };
            if let Err(e) = appended {
                // The log may hold part of this record; nothing more may be written to
                // it, and the failure is never retried as if the data were safe.
                let err = Error::Io(e);
                self.set_bg_error(err.duplicate());
                return Err(err);
            }
            if count > 0 {
                self.stats
                    .wal_bytes
                    .fetch_add(record.encoded().len() as u64, Ordering::Relaxed);
            }
            if sync {
                self.stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        if me.disable_wal && count > 0 {
            // Only a flush makes these durable; `close` flushes a memtable marked so.
            mem.mark_unlogged();
        }
        insert_batch(&mem, record)?;
        self.last_sequence
            .store(first_seq + count - 1, Ordering::Release);
        self.stats.user_bytes_written.fetch_add(
            (record.encoded().len() - crate::batch::BATCH_HEADER_LEN) as u64,
            Ordering::Relaxed,
        );
        Ok(group.len())
    }

    /// Ensures the active memtable has room, switching it when full (or when
    /// `force`), and stalls while background work is too far behind.
    fn make_room(&self, force: bool) -> Result<()> {
        let opts = &self.options;
        let mut slowed = false;
        let mut state = self.state.lock();
        loop {
            self.check_bg_error()?;
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            // With auto compactions off nothing would ever shrink level 0, so its file
            // count must not stall writers.
            let l0_files = if opts.disable_auto_compactions {
                0
            } else {
                self.current_super_version().version.files(0).len()
            };
            if !force && !slowed && l0_files >= opts.level0_slowdown_writes_trigger {
                // Too many level-0 files: delay this write a little so compaction
                // catches up gradually instead of writes stopping all at once.
                drop(state);
                let start = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                self.stats.record_stall(start.elapsed(), false);
                slowed = true;
                state = self.state.lock();
                continue;
            }
            // At the stop trigger every write waits, not only one that needs a new
            // memtable (as RocksDB's write controller does): level 0 also grows at
            // open, which flushes the logs it replays, so a program that opens, writes
            // a little and closes again and again would otherwise pile it up without
            // bound.
            if !force && l0_files >= opts.level0_stop_writes_trigger {
                self.wait_for_background(&mut state);
                continue;
            }
            let full = state.mem.approximate_bytes() >= opts.memtable_size;
            if !force && !full {
                return Ok(());
            }
            if force && state.mem.is_empty() {
                return Ok(());
            }
            if state.imms.len() >= opts.max_immutable_memtables
                || l0_files >= opts.level0_stop_writes_trigger
            {
                self.wait_for_background(&mut state);
                continue;
            }
            self.switch_memtable(&mut state)?;
            return Ok(());
        }
    }

    /// A stop: wakes the background workers and waits (at most 100 ms, then the caller
    /// checks again) for one of them to finish something, counting the wait as a stall.
    fn wait_for_background(&self, state: &mut parking_lot::MutexGuard<'_, super::State>) {
        let start = Instant::now();
        self.work_cv.notify_all();
        self.done_cv.wait_for(state, Duration::from_millis(100));
        self.stats.record_stall(start.elapsed(), true);
    }

    /// Creates the write-ahead log file at `path`, memory-mapped if the options allow.
    pub(crate) fn create_log_file(
        &self,
        path: &std::path::Path,
    ) -> std::io::Result<Box<dyn crate::fs::WritableFile>> {
        if self.options.wal_mmap {
            self.fs.create_log(path)
        } else {
            self.fs.create(path)
        }
    }

    /// Freezes the active memtable and starts a new log and memtable. Called by the
    /// leader with the state lock held.
    pub(super) fn switch_memtable(&self, state: &mut super::State) -> Result<()> {
        let number = self.versions.lock().new_file_number();
        let path = filename::log_path(&self.dir, number);
        let opened = self.create_log_file(&path).and_then(|file| {
            self.fs.sync_dir(&self.dir)?;
            Ok(file)
        });
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                let _ = self.fs.remove(&path);
                return Err(e.into());
            }
        };
        {
            let mut wal = self.wal.lock();
            let Some(wal) = wal.as_mut() else {
                let _ = self.fs.remove(&path);
                return Err(Error::Closed);
            };
            // The old log is not synced here (see `db/wal.rs`): the next sync makes it
            // durable, or its flush makes it obsolete.
            match wal.switch(number, file) {
                // The open log's count is read live (see `shaledb.wal-mapped-bytes`).
                Ok(mapped) => self
                    .stats
                    .wal_mapped_bytes
                    .fetch_add(mapped, Ordering::Relaxed),
                Err(e) => {
                    let err = Error::Io(e);
                    self.set_bg_error_locked(state, err.duplicate());
                    let _ = self.fs.remove(&path);
                    return Err(err);
                }
            };
        }
        let old = std::mem::replace(
            &mut state.mem,
            Arc::new(Memtable::new(number, self.options.memtable_filter_bytes())),
        );
        state.imms.push_back(old);
        self.install_super_version(state);
        self.work_cv.notify_all();
        Ok(())
    }
}

/// Armed while a leader does its group's work. If that work panics (a bug, or a file
/// system that panics), the database turns read-only and the leader leaves the queue,
/// so the writers behind it fail with the error instead of waiting for it for good,
/// and `close`, which waits for the queue to empty, returns.
struct AbandonOnPanic<'a> {
    core: &'a DbCore,
    me: &'a Arc<Writer>,
    finished: bool,
}

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let err = Error::Internal("a write panicked; the database is read-only".into());
        self.core.set_bg_error(err);
        let mut queue = self.core.writers.lock();
        if queue.front().is_some_and(|w| Arc::ptr_eq(w, self.me)) {
            queue.pop_front();
        }
        self.core.writers_cv.notify_all();
    }
}

/// Applies a batch whose sequence number is set to a memtable.
pub(crate) fn insert_batch(mem: &Memtable, batch: &WriteBatch) -> Result<()> {
    let decoded = DecodedBatch::decode(batch.encoded()).map_err(Error::InvalidArgument)?;
    insert_decoded(mem, &decoded).map_err(Error::InvalidArgument)
}

/// Applies a decoded batch to a memtable.
pub(crate) fn insert_decoded(mem: &Memtable, batch: &DecodedBatch<'_>) -> Result<(), String> {
    for (i, entry) in batch.iter().enumerate() {
        let entry = entry?;
        mem.add(
            batch.sequence + i as u64,
            entry.kind,
            entry.key,
            entry.value,
        );
    }
    Ok(())
}

impl Db {
    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Removes `key`. Removing an absent key is not an error.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }

    /// Applies every write in `batch` atomically, also across a crash.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_opt(batch, &WriteOptions::default())
    }

    /// Applies `batch` atomically with the given options; with `sync` the batch is
    /// durable when this returns.
    pub fn write_opt(&self, batch: WriteBatch, opts: &WriteOptions) -> Result<()> {
        self.check_open()?;
        self.core().write(batch, opts)
    }
}
