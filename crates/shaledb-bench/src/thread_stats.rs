//! Counting and timing one benchmark thread's operations, and merging the threads'
//! counts as db_bench does.
//!
//! Like db_bench's `FinishedSingleOp`, each operation is timed from the end of the one
//! before, so there is one clock read per operation. Merging sums operations, bytes and
//! per-thread seconds, and takes the wall-clock span from the earliest start to the
//! latest finish: micros/op divides the summed seconds, ops/sec and MB/s the span.

use std::time::Instant;

use crate::histogram::LatencyHistogram;
use crate::progress::Ticker;

/// One thread's counters. Owned by that thread until it finishes.
#[derive(Debug)]
pub struct ThreadStats {
    start: Instant,
    finish: Instant,
    last_op: Instant,
    ops: u64,
    bytes: u64,
    found: u64,
    user_bytes_written: u64,
    unreported: u64,
    hist: LatencyHistogram,
}

impl Default for ThreadStats {
    fn default() -> Self {
        Self::start()
    }
}

impl ThreadStats {
    /// Starts the clock.
    pub fn start() -> Self {
        let now = Instant::now();
        ThreadStats {
            start: now,
            finish: now,
            last_op: now,
            ops: 0,
            bytes: 0,
            found: 0,
            user_bytes_written: 0,
            unreported: 0,
            hist: LatencyHistogram::new(),
        }
    }

    /// Counts `ops` operations, which moved `bytes` of keys and values, as one timed
    /// step since the previous one.
    pub fn finished(&mut self, ops: u64, bytes: u64, ticker: &Ticker) {
        let now = Instant::now();
        // Nanoseconds since the previous operation; u64 holds 584 years of them.
        self.hist
            .record(now.duration_since(self.last_op).as_nanos() as u64);
        self.last_op = now;
        self.count(ops, bytes, ticker);
    }

    /// Counts `ops` operations without timing them one by one (for engines that only
    /// report a total).
    pub fn finished_untimed(&mut self, ops: u64, bytes: u64, ticker: &Ticker) {
        self.last_op = Instant::now();
        self.count(ops, bytes, ticker);
    }

    fn count(&mut self, ops: u64, bytes: u64, ticker: &Ticker) {
        self.ops += ops;
        self.bytes += bytes;
        self.unreported += ops;
        if self.unreported >= Ticker::CHUNK {
            ticker.advance(self.unreported);
            self.unreported = 0;
        }
    }

    /// Counts a read that found its key.
    pub fn found(&mut self) {
        self.found += 1;
    }

    /// Counts bytes handed to the engine to write (for write amplification).
    pub fn wrote(&mut self, bytes: u64) {
        self.user_bytes_written += bytes;
    }

    /// Bytes handed to the engine to write so far.
    pub fn user_bytes_written(&self) -> u64 {
        self.user_bytes_written
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Stops the clock.
    pub fn stop(&mut self, ticker: &Ticker) {
        self.finish = Instant::now();
        ticker.advance(self.unreported);
        self.unreported = 0;
    }
}

/// Several threads' counters, merged.
#[derive(Debug, Default)]
pub struct Merged {
    /// Operations.
    pub ops: u64,
    /// Key and value bytes moved.
    pub bytes: u64,
    /// Reads that found their key.
    pub found: u64,
    /// Bytes handed to the engine to write.
    pub user_bytes_written: u64,
    /// Sum of each thread's seconds.
    pub thread_secs: f64,
    /// Seconds from the earliest start to the latest finish.
    pub wall_secs: f64,
    /// All latencies.
    pub hist: LatencyHistogram,
}

impl Merged {
    /// Merges the threads' counters.
    pub fn merge(threads: &[ThreadStats]) -> Self {
        let mut merged = Merged::default();
        let (Some(start), Some(finish)) = (
            threads.iter().map(|t| t.start).min(),
            threads.iter().map(|t| t.finish).max(),
        ) else {
            return merged;
        };
        for t in threads {
            merged.ops += t.ops;
            merged.bytes += t.bytes;
            merged.found += t.found;
            merged.user_bytes_written += t.user_bytes_written;
            merged.thread_secs += t.finish.duration_since(t.start).as_secs_f64();
            merged.hist.merge(&t.hist);
        }
        merged.wall_secs = finish.duration_since(start).as_secs_f64();
        merged
    }

    /// db_bench's micros/op: summed thread seconds per operation; 0 when none ran.
    pub fn micros_per_op(&self) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        self.thread_secs * 1e6 / self.ops as f64
    }

    /// Operations per wall-clock second.
    pub fn ops_per_sec(&self) -> f64 {
        rate(self.ops as f64, self.wall_secs)
    }

    /// MiB per wall-clock second, `None` if no bytes moved.
    pub fn mb_per_sec(&self) -> Option<f64> {
        (self.bytes > 0).then(|| rate(self.bytes as f64 / (1024.0 * 1024.0), self.wall_secs))
    }
}

/// `amount / secs`, treating a zero span as one nanosecond.
fn rate(amount: f64, secs: f64) -> f64 {
    amount / secs.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;

    #[test]
    fn merge_sums_counts_and_spans_wall_time() {
        let ticker = Progress::hidden().start("t", 10);
        let mut a = ThreadStats::start();
        let mut b = ThreadStats::start();
        for _ in 0..3 {
            a.finished(1, 116, &ticker);
        }
        a.found();
        b.finished(2, 0, &ticker);
        b.wrote(16);
        a.stop(&ticker);
        b.stop(&ticker);
        let m = Merged::merge(&[a, b]);
        assert_eq!(m.ops, 5);
        assert_eq!(m.bytes, 348);
        assert_eq!(m.found, 1);
        assert_eq!(m.user_bytes_written, 16);
        assert_eq!(m.hist.count(), 4);
        assert!(m.wall_secs <= m.thread_secs + 1e-6);
        assert!(m.mb_per_sec().is_some());
        assert!(Merged::merge(&[]).mb_per_sec().is_none());
    }
}
