//! The runs as the parent reads them back, and the comparison made of them: each
//! engine's median ops/sec per workload, ShaleDB's ratio to it, amplification and
//! memory, and the goals of issue 4 §4.
//!
//! The records deserialise the part of a child's JSON report that the comparison uses
//! (see `child.rs` for the writer); unknown fields are ignored.

use serde::Deserialize;
use shaledb_bench::Workload;

use crate::engines::{is_shaledb_or_rocksdb, BASELINE, ROCKSDB, SHALEDB_TIERED};
use crate::median::{format_mib, format_number, format_ops, format_ratio, median_of, ratio};
use crate::table::Table;

/// A child's report, as read back.
#[derive(Debug, Clone, Deserialize)]
pub struct RunRecord {
    /// The harness's report.
    pub report: ReportRecord,
    /// The child's peak resident memory at the end.
    pub peak_rss_bytes: Option<u64>,
    /// Seconds the child ran.
    pub wall_secs: f64,
    /// The whole report as written, for `--json`.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// The harness's report of one run.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportRecord {
    /// The benchmarks, in run order.
    pub results: Vec<ResultRecord>,
}

/// One benchmark of one run.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultRecord {
    /// db_bench's name of the benchmark.
    pub name: String,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Counted operations per wall-clock second.
    pub ops_per_sec: f64,
    /// readwhilewriting: the writer's puts.
    pub writer_ops: Option<u64>,
    /// After writing benchmarks.
    pub amplification: Option<AmplificationRecord>,
    /// The engine's counters at the end.
    pub engine_stats: StatsRecord,
}

/// Amplification measured after a writing benchmark.
#[derive(Debug, Clone, Deserialize)]
pub struct AmplificationRecord {
    /// Table bytes over user bytes.
    pub write_amp: Option<f64>,
    /// All bytes the process wrote over user bytes.
    pub write_amp_incl_log: Option<f64>,
    /// Disk bytes over the engine's live data.
    pub space_amp: Option<f64>,
    /// Disk bytes over the key and value bytes present.
    pub disk_per_logical_byte: Option<f64>,
}

/// The engine's counters.
#[derive(Debug, Clone, Deserialize)]
pub struct StatsRecord {
    /// Microseconds writers stalled since the database was opened.
    pub stall_micros: Option<u64>,
    /// Most level-0 files seen.
    pub peak_l0_files: Option<u64>,
}

impl RunRecord {
    /// The result of benchmark `name`.
    pub fn result(&self, name: &str) -> Option<&ResultRecord> {
        self.report.results.iter().find(|r| r.name == name)
    }
}

/// How one run of one engine ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It finished and reported.
    Done(RunRecord),
    /// It failed; the reason says how.
    Failed(String),
}

/// Every run of one engine.
#[derive(Debug, Clone)]
pub struct EngineRuns {
    /// The engine's name.
    pub name: String,
    /// The settings it ran with.
    pub settings: Vec<(String, String)>,
    /// One outcome per run, in run order.
    pub outcomes: Vec<Outcome>,
}

impl EngineRuns {
    /// The runs that finished.
    pub fn done(&self) -> impl Iterator<Item = &RunRecord> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::Done(record) => Some(record),
            Outcome::Failed(_) => None,
        })
    }

    /// The failures, as "run N: reason".
    pub fn failures(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Failed(why) => Some(format!("run {}: {why}", i + 1)),
                Outcome::Done(_) => None,
            })
            .collect()
    }

    /// The median over finished runs of `metric`.
    fn median(&self, metric: impl Fn(&RunRecord) -> Option<f64>) -> Option<f64> {
        median_of(self.done().map(metric))
    }
}

/// One row of the throughput table.
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputRow {
    /// The row's label (the workload's name, or a derived figure's).
    pub label: String,
    /// The workload it belongs to.
    pub workload: String,
    /// Median ops/sec per engine, in engine order.
    pub ops: Vec<Option<f64>>,
}

/// Amplification and memory of one engine (medians over runs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmplificationRow {
    /// The engine.
    pub engine: String,
    /// Table bytes written over user bytes.
    pub write_amp: Option<f64>,
    /// All bytes written by the process over user bytes.
    pub write_amp_incl_log: Option<f64>,
    /// Disk bytes over the engine's live data estimate.
    pub space_amp: Option<f64>,
    /// Disk bytes over the key and value bytes present.
    pub disk_per_logical: Option<f64>,
    /// Most level-0 files seen during the whole run.
    pub peak_l0_files: Option<f64>,
    /// Seconds writers stalled.
    pub stall_secs: Option<f64>,
    /// Peak resident memory of the engine's process.
    pub peak_rss_bytes: Option<f64>,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Engines, in column order (the baseline first if it ran).
    pub engines: Vec<String>,
    /// Throughput rows, in workload order.
    pub rows: Vec<ThroughputRow>,
    /// The writing benchmarks whose end the amplification describes, e.g.
    /// "fillrandom + overwrite".
    pub amplification_after: Option<String>,
    /// One row per engine.
    pub amplification: Vec<AmplificationRow>,
    /// Median seconds of one run, per engine.
    pub run_secs: Vec<Option<f64>>,
}

/// The label of the readwhilewriting writer's row.
pub const WRITER_ROW: &str = "readwhilewriting (writer puts)";

impl Comparison {
    /// Builds the comparison of `runs` over `workloads`.
    pub fn new(runs: &[EngineRuns], workloads: &[Workload]) -> Self {
        let mut order: Vec<&EngineRuns> = runs.iter().collect();
        order.sort_by_key(|r| r.name != BASELINE);
        let engines = order.iter().map(|r| r.name.clone()).collect();
        let mut rows = Vec::new();
        for w in workloads
            .iter()
            .filter(|&&w| !matches!(w, Workload::Compact | Workload::WaitForCompaction))
        {
            let name = w.name();
            rows.push(ThroughputRow {
                label: name.to_string(),
                workload: name.to_string(),
                ops: order
                    .iter()
                    .map(|r| r.median(|rec| rec.result(name).map(|x| x.ops_per_sec)))
                    .collect(),
            });
            if *w == Workload::ReadWhileWriting {
                rows.push(ThroughputRow {
                    label: WRITER_ROW.to_string(),
                    workload: name.to_string(),
                    ops: order
                        .iter()
                        .map(|r| r.median(|rec| writer_rate(rec.result(name)?)))
                        .collect(),
                });
            }
        }
        let reference = amplification_reference(workloads);
        let amplification = order
            .iter()
            .map(|r| amplification_row(r, reference.as_ref().map(|(_, w)| *w)))
            .collect();
        let run_secs = order
            .iter()
            .map(|r| r.median(|rec| Some(rec.wall_secs)))
            .collect();
        Comparison {
            engines,
            rows,
            run_secs,
            amplification_after: reference.map(|(label, _)| label),
            amplification,
        }
    }

    /// The column of `engine`.
    fn column(&self, engine: &str) -> Option<usize> {
        self.engines.iter().position(|e| e == engine)
    }

    /// ShaleDB's ratio to `engine` on `row`.
    pub fn ratio(&self, row: &ThroughputRow, engine: &str) -> Option<f64> {
        let base = row.ops[self.column(BASELINE)?];
        ratio(base, row.ops[self.column(engine)?])
    }

    /// The throughput table: median ops/sec, and after each peer's figure ShaleDB's
    /// ratio to it.
    pub fn throughput_table(&self, fsync_per_sec: Option<f64>) -> Table {
        let mut header = vec!["workload".to_string()];
        header.extend(self.engines.iter().cloned());
        let mut table = Table::new(header);
        for row in &self.rows {
            let mut label = row.label.clone();
            if row.workload == "fillsync" && row.label == row.workload {
                if let Some(rate) = fsync_per_sec {
                    label = format!("fillsync (raw fsync {}/s)", format_ops(Some(rate)));
                }
            }
            let mut cells = vec![label];
            for engine in &self.engines {
                let ops = format_ops(row.ops[self.column(engine).unwrap_or(0)]);
                cells.push(if engine == BASELINE {
                    ops
                } else {
                    format!("{ops} ({})", format_ratio(self.ratio(row, engine)))
                });
            }
            table.push(cells);
        }
        table
    }

    /// The amplification and memory table, one row per engine.
    pub fn amplification_table(&self) -> Table {
        let header = [
            "engine",
            "write amp (tables)",
            "write amp (all writes)",
            "space amp (disk ÷ live)",
            "disk ÷ logical",
            "peak L0 files",
            "stalls (s)",
            "peak RSS",
        ];
        let mut table = Table::new(header.map(String::from).into());
        for a in &self.amplification {
            table.push(vec![
                a.engine.clone(),
                format_number(a.write_amp, 2),
                format_number(a.write_amp_incl_log, 2),
                format_number(a.space_amp, 2),
                format_number(a.disk_per_logical, 2),
                format_number(a.peak_l0_files, 0),
                format_number(a.stall_secs, 2),
                format_mib(a.peak_rss_bytes),
            ]);
        }
        table
    }

    /// Each engine's median run time, as "name 12 s".
    pub fn run_times(&self) -> String {
        let times: Vec<String> = self
            .engines
            .iter()
            .zip(&self.run_secs)
            .map(|(e, s)| format!("{e} {} s", format_number(*s, 0)))
            .collect();
        times.join(", ")
    }

    /// The amplification row of `engine`.
    pub fn amplification_of(&self, engine: &str) -> Option<&AmplificationRow> {
        self.amplification.iter().find(|a| a.engine == engine)
    }
}

/// readwhilewriting's writer puts per second.
fn writer_rate(result: &ResultRecord) -> Option<f64> {
    let ops = result.writer_ops? as f64;
    (result.elapsed_secs > 0.0).then(|| ops / result.elapsed_secs)
}

/// The benchmark after which amplification is compared, and its label: overwrite (on
/// the database fillrandom made) if it ran, else the last fill; or a
/// `waitforcompaction` right after it, when one follows.
fn amplification_reference(workloads: &[Workload]) -> Option<(String, &'static str)> {
    let mut end = workloads
        .iter()
        .position(|&w| w == Workload::Overwrite)
        .or_else(|| {
            workloads.iter().rposition(|&w| {
                matches!(
                    w,
                    Workload::FillRandom | Workload::FillSeq | Workload::Fill100K
                )
            })
        })?;
    if workloads.get(end + 1) == Some(&Workload::WaitForCompaction) {
        end += 1;
    }
    let start = workloads[..=end]
        .iter()
        .rposition(|w| w.needs_fresh_db())
        .unwrap_or(0);
    let names: Vec<&str> = workloads[start..=end]
        .iter()
        .filter(|w| w.writes())
        .map(|w| w.name())
        .collect();
    Some((names.join(" + "), workloads[end].name()))
}

fn amplification_row(runs: &EngineRuns, reference: Option<&str>) -> AmplificationRow {
    let amp = |rec: &RunRecord| -> Option<AmplificationRecord> {
        rec.result(reference?)?.amplification.clone()
    };
    let as_f64 = |v: Option<u64>| v.map(|n| n as f64);
    AmplificationRow {
        engine: runs.name.clone(),
        write_amp: runs.median(|r| amp(r)?.write_amp),
        write_amp_incl_log: runs.median(|r| amp(r)?.write_amp_incl_log),
        space_amp: runs.median(|r| amp(r)?.space_amp),
        disk_per_logical: runs.median(|r| amp(r)?.disk_per_logical_byte),
        peak_l0_files: runs.median(|r| {
            as_f64(
                r.report
                    .results
                    .iter()
                    .filter_map(|x| x.engine_stats.peak_l0_files)
                    .max(),
            )
        }),
        stall_secs: runs
            .median(|r| as_f64(r.result(reference?)?.engine_stats.stall_micros).map(|us| us / 1e6)),
        peak_rss_bytes: runs.median(|r| as_f64(r.peak_rss_bytes)),
    }
}

/// One goal of issue 4 §4 and whether this comparison meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// What is measured.
    pub what: String,
    /// The target.
    pub target: String,
    /// The measured value.
    pub measured: String,
    /// Met, missed, or not measurable here (`None`).
    pub met: Option<bool>,
    /// Where it was missed, one line each, when there is more than fits in a cell.
    pub details: Vec<String>,
}

/// Peak RSS allowed: the memtable, the block cache and 64 MiB.
pub const RSS_BUDGET_BYTES: f64 = (64u64 + 64 + 64) as f64 * 1024.0 * 1024.0;

impl Comparison {
    /// The goals: ratios to RocksDB per workload, write amplification, memory, and
    /// ShaleDB against the Rust engines.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        for row in self.rows.iter().filter(|r| r.label == r.workload) {
            let target = match row.workload.as_str() {
                "fillseq" | "fillrandom" | "overwrite" => 1.3,
                "readrandom" | "readmissing" | "readseq" | "readreverse" | "seekrandom"
                | "fillsync" | "readwhilewriting" => 1.0,
                _ => continue,
            };
            let r = self.ratio(row, ROCKSDB);
            goals.push(Goal {
                what: format!("{} (ShaleDB ÷ RocksDB)", row.workload),
                target: format!("≥ {target:.1}"),
                measured: format_ratio(r),
                met: r.map(|r| r >= target),
                details: Vec::new(),
            });
        }
        let base = self.amplification_of(BASELINE);
        let rocks = self.amplification_of(ROCKSDB);
        let (shale_wa, rocks_wa) = (
            base.and_then(|a| a.write_amp),
            rocks.and_then(|a| a.write_amp),
        );
        goals.push(Goal {
            what: format!(
                "write amplification after {}",
                self.amplification_after.as_deref().unwrap_or("the fills")
            ),
            target: format!("≤ RocksDB's ({})", format_number(rocks_wa, 2)),
            measured: format_number(shale_wa, 2),
            met: shale_wa.zip(rocks_wa).map(|(s, r)| s <= r),
            details: Vec::new(),
        });
        if let Some(tiered) = self.amplification_of(SHALEDB_TIERED) {
            let tiered_wa = tiered.write_amp;
            goals.push(Goal {
                what: format!(
                    "tiered write amplification after {}",
                    self.amplification_after.as_deref().unwrap_or("the fills")
                ),
                target: format!("≤ RocksDB's leveled ({})", format_number(rocks_wa, 2)),
                measured: format_number(tiered_wa, 2),
                met: tiered_wa.zip(rocks_wa).map(|(t, r)| t <= r),
                details: Vec::new(),
            });
        }
        let rss = base.and_then(|a| a.peak_rss_bytes);
        goals.push(Goal {
            what: "ShaleDB peak RSS".to_string(),
            target: format!(
                "≤ {} (memtable + cache + 64 MiB)",
                format_mib(Some(RSS_BUDGET_BYTES))
            ),
            measured: format_mib(rss),
            met: rss.map(|r| r <= RSS_BUDGET_BYTES),
            details: Vec::new(),
        });
        let rust_peers: Vec<&String> = self
            .engines
            .iter()
            .filter(|e| !is_shaledb_or_rocksdb(e))
            .collect();
        let mut behind = Vec::new();
        let mut compared = 0;
        for row in &self.rows {
            for &engine in &rust_peers {
                if let Some(r) = self.ratio(row, engine) {
                    compared += 1;
                    if r < 1.0 {
                        behind.push(format!(
                            "{} vs {engine}: {}",
                            row.label,
                            format_ratio(Some(r))
                        ));
                    }
                }
            }
        }
        goals.push(Goal {
            what: "ShaleDB vs the Rust engines, every workload".to_string(),
            target: "≥ 1.0 each".to_string(),
            measured: match (compared, behind.len()) {
                (0, _) => "—".to_string(),
                (_, 0) => format!("ahead in all {compared}"),
                (_, n) => format!("behind in {n} of {compared}"),
            },
            met: (compared > 0).then_some(behind.is_empty()),
            details: behind,
        });
        goals
    }
}

/// The goals as a table.
pub fn goals_table(goals: &[Goal]) -> Table {
    let mut table = Table::new(
        ["goal", "target", "measured", "met"]
            .map(String::from)
            .into(),
    );
    for g in goals {
        let met = match g.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        table.push(vec![
            g.what.clone(),
            g.target.clone(),
            g.measured.clone(),
            met.to_string(),
        ]);
    }
    table
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A finished run with `ops_per_sec` for each named benchmark.
    pub fn record(results: &[(&str, f64)], rss: u64) -> RunRecord {
        let results: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, ops)| {
                serde_json::json!({
                    "name": name, "elapsed_secs": 2.0, "ops_per_sec": ops,
                    "writer_ops": if *name == "readwhilewriting" { Some(1000) } else { None },
                    "amplification": {
                        "write_amp": ops / 1e6, "write_amp_incl_log": 2.0,
                        "space_amp": null, "disk_per_logical_byte": 0.6,
                        "unknown_field": 1
                    },
                    "engine_stats": { "stall_micros": 1500000, "peak_l0_files": 3 },
                })
            })
            .collect();
        let json = serde_json::json!({
            "report": { "engine": "x", "results": results },
            "peak_rss_bytes": rss, "wall_secs": 10.0,
        });
        serde_json::from_value(json).expect("record parses")
    }

    pub fn runs(name: &str, records: Vec<Outcome>) -> EngineRuns {
        EngineRuns {
            name: name.into(),
            settings: vec![("wal".into(), "on".into())],
            outcomes: records,
        }
    }

    pub fn sample() -> Comparison {
        let workloads = [
            Workload::FillRandom,
            Workload::Overwrite,
            Workload::ReadWhileWriting,
        ];
        let shale = runs(
            "shaledb",
            vec![
                Outcome::Done(record(
                    &[
                        ("fillrandom", 300.0),
                        ("overwrite", 200.0),
                        ("readwhilewriting", 50.0),
                    ],
                    100 << 20,
                )),
                Outcome::Done(record(
                    &[
                        ("fillrandom", 100.0),
                        ("overwrite", 220.0),
                        ("readwhilewriting", 60.0),
                    ],
                    100 << 20,
                )),
                Outcome::Done(record(
                    &[
                        ("fillrandom", 200.0),
                        ("overwrite", 210.0),
                        ("readwhilewriting", 70.0),
                    ],
                    300 << 20,
                )),
            ],
        );
        let rocks = runs(
            "rocksdb",
            vec![
                Outcome::Done(record(
                    &[
                        ("fillrandom", 100.0),
                        ("overwrite", 100.0),
                        ("readwhilewriting", 60.0),
                    ],
                    1 << 20,
                )),
                Outcome::Failed("exit status: 1".into()),
            ],
        );
        let sled = runs(
            "sled",
            vec![Outcome::Done(record(&[("fillrandom", 400.0)], 1 << 20))],
        );
        Comparison::new(&[rocks, shale, sled], &workloads)
    }

    #[test]
    fn medians_and_ratios() {
        let c = sample();
        assert_eq!(c.engines, ["shaledb", "rocksdb", "sled"]);
        assert_eq!(c.rows[0].ops, [Some(200.0), Some(100.0), Some(400.0)]);
        assert_eq!(c.ratio(&c.rows[0], "rocksdb"), Some(2.0));
        assert_eq!(c.ratio(&c.rows[0], "sled"), Some(0.5));
        assert_eq!(c.ratio(&c.rows[1], "sled"), None);
        assert_eq!(c.rows[3].label, WRITER_ROW);
        assert_eq!(c.rows[3].ops[0], Some(500.0));
        assert_eq!(
            c.amplification_after.as_deref(),
            Some("fillrandom + overwrite")
        );
        let shale = c.amplification_of("shaledb").expect("row");
        assert_eq!(shale.write_amp, Some(210.0 / 1e6));
        assert_eq!(shale.stall_secs, Some(1.5));
        assert_eq!(shale.peak_rss_bytes, Some((100u64 << 20) as f64));
    }

    #[test]
    fn goals_report_misses() {
        let goals = sample().goals();
        let fill = &goals[0];
        assert_eq!(fill.what, "fillrandom (ShaleDB ÷ RocksDB)");
        assert_eq!(fill.met, Some(true));
        let rww = goals
            .iter()
            .find(|g| g.what.starts_with("readwhilewriting"))
            .expect("goal");
        assert_eq!((rww.measured.as_str(), rww.met), ("1.00×", Some(true)));
        let rust = goals.last().expect("goal");
        assert_eq!(rust.met, Some(false));
        assert_eq!(rust.measured, "behind in 1 of 1");
        assert_eq!(rust.details, ["fillrandom vs sled: 0.50×"]);
        let rss = goals
            .iter()
            .find(|g| g.what == "ShaleDB peak RSS")
            .expect("goal");
        assert_eq!(rss.met, Some(true));
    }

    #[test]
    fn tiered_variants_are_not_rust_peers_and_get_a_write_amp_goal() {
        let workloads = [Workload::FillRandom, Workload::Overwrite];
        let one = |name: &str, fill: f64, over: f64| {
            let ops = [("fillrandom", fill), ("overwrite", over)];
            runs(name, vec![Outcome::Done(record(&ops, 1 << 20))])
        };
        let c = Comparison::new(
            &[
                one("shaledb", 300.0, 200.0),
                one("rocksdb", 100.0, 150.0),
                one("shaledb-tiered", 400.0, 100.0),
                one("rocksdb-universal", 500.0, 500.0),
            ],
            &workloads,
        );
        let goals = c.goals();
        let tiered = goals
            .iter()
            .find(|g| g.what.starts_with("tiered write amplification"))
            .expect("a tiered goal");
        // write_amp is overwrite's ops / 1e6 in `record`: 100 against RocksDB's 150.
        assert_eq!(tiered.met, Some(true));
        assert_eq!(tiered.measured, "0.00");
        let rust = goals.last().expect("goal");
        assert_eq!(rust.what, "ShaleDB vs the Rust engines, every workload");
        assert_eq!((rust.measured.as_str(), rust.met), ("—", None));
        let without = Comparison::new(&[one("shaledb", 1.0, 1.0)], &workloads);
        assert!(!without.goals().iter().any(|g| g.what.starts_with("tiered")));
    }

    #[test]
    fn tables_have_a_column_per_engine() {
        let c = sample();
        let t = c.throughput_table(Some(1234.0));
        assert_eq!(t.header, ["workload", "shaledb", "rocksdb", "sled"]);
        assert_eq!(
            t.rows[0],
            ["fillrandom", "200", "100 (2.00×)", "400 (0.50×)"]
        );
        assert_eq!(t.rows[1][3], "— (—)");
        assert_eq!(c.amplification_table().rows.len(), 3);
        assert_eq!(c.run_times(), "shaledb 10 s, rocksdb 10 s, sled 10 s");
    }
}
