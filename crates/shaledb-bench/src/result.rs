//! What a run produces: one [`WorkloadResult`] per benchmark, with amplification after
//! the writing ones, gathered in a [`RunReport`] that serialises to the `--json` file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Serialize, Serializer};

use crate::config::BenchConfig;
use crate::engine::EngineStats;
use crate::histogram::Percentiles;
use crate::system::Machine;
use crate::workload::Workload;

/// The outcome of one benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    /// The benchmark.
    pub name: Workload,
    /// Threads that ran it (readers, for readwhilewriting).
    pub threads: usize,
    /// Operations done by all counted threads.
    pub ops: u64,
    /// Wall-clock seconds from the first thread's start to the last one's finish.
    pub elapsed_secs: f64,
    /// Sum over threads of each thread's seconds (db_bench's micros/op divides this).
    pub thread_secs: f64,
    /// db_bench's micros/op: thread seconds per operation.
    pub micros_per_op: f64,
    /// Operations per wall-clock second.
    pub ops_per_sec: f64,
    /// Key and value bytes written or read.
    pub bytes: u64,
    /// MiB of key and value bytes per wall-clock second (`None` when no bytes moved).
    pub mb_per_sec: Option<f64>,
    /// For reads: how many keys were found.
    pub found: Option<u64>,
    /// db_bench's extra message, e.g. "(632121 of 1000000 found)".
    pub message: String,
    /// For readwhilewriting: puts done by the writer thread beside the readers (not
    /// counted in `ops`).
    pub writer_ops: Option<u64>,
    /// Per-operation latency.
    pub latency_micros: Percentiles,
    /// After benchmarks that write: write and space amplification, peak RSS.
    pub amplification: Option<Amplification>,
    /// The engine's counters when the benchmark finished.
    pub engine_stats: EngineStats,
    /// After benchmarks that write: the engine's own per-level report, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_report: Option<String>,
}

/// Write and space amplification, and memory, measured when a writing benchmark ends.
///
/// Write figures count from the moment the database was last created, so after
/// `fillrandom,overwrite` the second line covers both. Compaction still pending when the
/// benchmark ends is not counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Amplification {
    /// Key and value bytes the benchmarks wrote (deletes count their key).
    pub user_bytes_written: u64,
    /// Table bytes the engine wrote (flushes and compactions), if it reports them.
    pub table_bytes_written: Option<u64>,
    /// Table bytes written over user bytes written.
    pub write_amp: Option<f64>,
    /// Bytes the whole process passed to `write` (logs, tables, manifests...).
    pub process_bytes_written: Option<u64>,
    /// Process bytes written over user bytes written: write amplification including the
    /// write-ahead log.
    pub write_amp_incl_log: Option<f64>,
    /// Bytes of all files in the database directory.
    pub disk_bytes: Option<u64>,
    /// Live data on disk, as the engine estimates it.
    pub live_data_bytes: Option<u64>,
    /// Disk bytes over the engine's live data bytes.
    pub space_amp: Option<f64>,
    /// Key and value bytes of the keys that are present, counted by the harness.
    pub logical_live_bytes: Option<u64>,
    /// Disk bytes over logical live bytes (below 1 when compression wins).
    pub disk_per_logical_byte: Option<f64>,
    /// Peak resident memory of the process so far.
    pub peak_rss_bytes: Option<u64>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The engine benchmarked.
    pub engine: String,
    /// The settings it was opened with.
    #[serde(serialize_with = "pairs_as_map")]
    pub engine_settings: Vec<(String, String)>,
    /// The options of the run.
    pub config: BenchConfig,
    /// Bytes per key.
    pub key_size: usize,
    /// Operations per thread of the read benchmarks.
    pub reads: u64,
    /// Where the databases lived.
    pub db_dir: String,
    /// The machine.
    pub machine: Machine,
    /// When the run started (UTC, ISO 8601).
    pub date: String,
    /// The same, in seconds since the Unix epoch.
    pub unix_time: u64,
    /// Each benchmark's result, in run order.
    pub results: Vec<WorkloadResult>,
}

impl RunReport {
    /// Writes the report as pretty-printed JSON to `path`.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// The result of the benchmark called `name`, if it ran.
    pub fn result(&self, name: Workload) -> Option<&WorkloadResult> {
        self.results.iter().find(|r| r.name == name)
    }
}

/// Serialises (name, value) pairs as a JSON object, keeping their order; a value that
/// is a plain number (`"10"`, `"0.01"`) becomes a JSON number, anything else (`"64
/// MiB"`) stays text.
pub(crate) fn pairs_as_map<S: Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, scalar(v))))
}

fn scalar(text: &str) -> serde_json::Value {
    let numeric = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    if numeric {
        if let Ok(n) = text.parse::<u64>() {
            return n.into();
        }
        if let Ok(n) = text.parse::<i64>() {
            return n.into();
        }
        if let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return serde_json::Value::Number(n);
        }
    }
    text.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_become_json_numbers() {
        assert_eq!(scalar("10"), serde_json::json!(10));
        assert_eq!(scalar("0.01"), serde_json::json!(0.01));
        assert_eq!(scalar("-3"), serde_json::json!(-3));
        for text in ["64 MiB", "Lz4", "", "1-2", "inf", "NaN", "1e5"] {
            assert_eq!(scalar(text), serde_json::json!(text), "{text}");
        }
    }
}
