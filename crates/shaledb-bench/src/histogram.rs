//! Per-operation latencies, kept in an HDR histogram of nanoseconds (3 significant
//! digits, up to an hour) and reported in microseconds.
//!
//! Each benchmark thread owns one histogram; the runner merges them when the threads
//! finish, so recording needs no synchronisation.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency recorded exactly: one hour. Longer ones saturate.
const MAX_NANOS: u64 = 3_600_000_000_000;

/// Latencies of one thread, or of several merged.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        // Bounds 1..=MAX_NANOS with 3 significant digits are within hdrhistogram's
        // limits (low >= 1, high >= 2 * low, sigfig <= 5), so creation cannot fail.
        let hist = Histogram::new_with_bounds(1, MAX_NANOS, 3)
            .expect("constant histogram bounds are valid");
        LatencyHistogram { hist }
    }

    /// Records one operation that took `nanos`.
    pub fn record(&mut self, nanos: u64) {
        self.hist.saturating_record(nanos.max(1));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Both histograms have the same bounds, so adding cannot fail; saturate anyway.
        if self.hist.add(&other.hist).is_err() {
            for v in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The percentiles, in microseconds; all zero when nothing was recorded.
    pub fn percentiles(&self) -> Percentiles {
        if self.hist.is_empty() {
            return Percentiles::default();
        }
        let micros = |nanos: u64| nanos as f64 / 1000.0;
        Percentiles {
            samples: self.hist.len(),
            mean: self.hist.mean() / 1000.0,
            p50: micros(self.hist.value_at_quantile(0.50)),
            p99: micros(self.hist.value_at_quantile(0.99)),
            p999: micros(self.hist.value_at_quantile(0.999)),
            max: micros(self.hist.max()),
        }
    }
}

/// A latency summary in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Operations timed.
    pub samples: u64,
    /// Mean latency.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest operation.
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_micros() {
        let mut h = LatencyHistogram::new();
        for i in 1..=1000u64 {
            h.record(i * 1000);
        }
        let p = h.percentiles();
        assert_eq!(p.samples, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert!((p.max - 1000.0).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn merge_adds_samples_and_empty_is_zero() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        assert_eq!(a.percentiles(), Percentiles::default());
        a.record(10);
        b.record(20);
        b.record(u64::MAX);
        a.merge(&b);
        assert_eq!(a.count(), 3);
    }
}
