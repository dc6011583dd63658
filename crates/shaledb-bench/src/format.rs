//! The text a run prints: db_bench's header and result line, then a latency line and,
//! after writing benchmarks, an amplification line.
//!
//! The result line is db_bench's (RocksDB's `Stats::Report`) to the byte:
//! `"%-12s : %11.3f micros/op %ld ops/sec;%s%s"`, where the tail is `" %6.1f MB/s"`
//! when bytes moved, followed by any message such as `(632 of 1000 found)`.

use std::fmt::Write as _;

use crate::config::BenchConfig;
use crate::result::{Amplification, WorkloadResult};
use crate::system::Machine;
use crate::values::COMPRESSION_RATIO;

const MIB: f64 = 1024.0 * 1024.0;

/// Indent that lines up continuation lines under the result line's numbers.
const INDENT: &str = "               ";

/// db_bench's result line.
pub fn db_bench_line(
    name: &str,
    micros_per_op: f64,
    ops_per_sec: f64,
    mb_per_sec: Option<f64>,
    message: &str,
) -> String {
    let mut extra = mb_per_sec.map_or_else(String::new, |mb| format!("{mb:6.1} MB/s"));
    if !message.is_empty() {
        if !extra.is_empty() {
            extra.push(' ');
        }
        extra.push_str(message);
    }
    // `as i64` truncates toward zero, like db_bench's `(long)throughput`.
    format!(
        "{name:<12} : {micros_per_op:11.3} micros/op {} ops/sec;{}{extra}",
        ops_per_sec as i64,
        if extra.is_empty() { "" } else { " " },
    )
}

/// The result line, the latency line and, if measured, the amplification line.
pub fn result_lines(r: &WorkloadResult) -> String {
    let mut out = db_bench_line(
        r.name.name(),
        r.micros_per_op,
        r.ops_per_sec,
        r.mb_per_sec,
        &r.message,
    );
    let p = &r.latency_micros;
    if p.samples > 0 {
        let _ = write!(
            out,
            "\n{INDENT}latency micros: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            p.p50, p.p99, p.p999, p.max
        );
    }
    if let Some(amp) = &r.amplification {
        for line in amplification_lines(amp) {
            let _ = write!(out, "\n{INDENT}{line}");
        }
        let stats = &r.engine_stats;
        if stats.stall_micros.is_some() || stats.peak_l0_files.is_some() {
            let _ = write!(out, "\n{INDENT}");
            if let Some(stall) = stats.stall_micros {
                let _ = write!(out, "write stalls {:.3} s", stall as f64 / 1e6);
            }
            if let Some(l0) = stats.peak_l0_files {
                let sep = if stats.stall_micros.is_some() {
                    "; "
                } else {
                    ""
                };
                let _ = write!(out, "{sep}peak level-0 files {l0}");
            }
        }
    }
    out
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MIB)
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"))
}

/// Write amplification, then space amplification and peak RSS, as two lines.
pub fn amplification_lines(a: &Amplification) -> [String; 2] {
    let mut write = format!("write amp {}", ratio(a.write_amp));
    if let Some(tables) = a.table_bytes_written {
        let _ = write!(
            write,
            " (tables {} / user {})",
            mb(tables),
            mb(a.user_bytes_written)
        );
    }
    let _ = write!(write, ", incl. log {}", ratio(a.write_amp_incl_log));
    let mut space = format!("space amp {}", ratio(a.space_amp));
    if let (Some(disk), Some(live)) = (a.disk_bytes, a.live_data_bytes) {
        let _ = write!(space, " (disk {} / live {})", mb(disk), mb(live));
    }
    if let Some(per_byte) = a.disk_per_logical_byte {
        let _ = write!(space, ", disk/user data {per_byte:.2}");
    }
    if let Some(rss) = a.peak_rss_bytes {
        let _ = write!(space, "; peak RSS {}", mb(rss));
    }
    [write, space]
}

/// db_bench's header: engine, date, CPU, key and value sizes, estimated sizes, then the
/// engine's settings and a rule.
pub fn header(
    engine: &str,
    settings: &[(String, String)],
    config: &BenchConfig,
    machine: &Machine,
    date: &str,
) -> String {
    let value_size = config.value_size;
    let key_size = config.key_size();
    // Casts of sizes and counts to f64 only lose precision beyond 2^53, far past any run.
    let compressed_value = (value_size as f64 * COMPRESSION_RATIO) as u64;
    let num = config.num as f64;
    let raw = (key_size + value_size) as f64 * num / MIB;
    let file = (key_size as f64 + value_size as f64 * COMPRESSION_RATIO) * num / MIB;
    let mut out = String::new();
    let _ = writeln!(out, "Engine:     {engine}");
    let _ = writeln!(out, "Date:       {date}");
    let cpu = machine.cpu.as_deref().unwrap_or("unknown");
    let _ = writeln!(out, "CPU:        {} * {cpu}", machine.nproc);
    if let Some(mem) = machine.memory_bytes {
        let _ = writeln!(out, "Memory:     {:.1} GiB", mem as f64 / MIB / 1024.0);
    }
    if let Some(disabled) = machine.huge_pages_disabled {
        let state = if disabled { "off" } else { "allowed" };
        let _ = writeln!(
            out,
            "HugePages:  transparent huge pages {state} for this process"
        );
    }
    let _ = writeln!(out, "Keys:       {key_size} bytes each");
    let _ = writeln!(
        out,
        "Values:     {value_size} bytes each ({compressed_value} bytes after compression)"
    );
    let _ = writeln!(out, "Entries:    {}", config.num);
    let _ = writeln!(out, "Reads:      {}", config.reads());
    let _ = writeln!(out, "Threads:    {}", config.threads);
    let _ = writeln!(out, "RawSize:    {raw:.1} MB (estimated)");
    let _ = writeln!(out, "FileSize:   {file:.1} MB (estimated)");
    for (name, value) in settings {
        let _ = writeln!(out, "{:<11} {value}", format!("{name}:"));
    }
    out.push_str("------------------------------------------------");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_db_bench_printf() {
        // printf("%-12s : %11.3f micros/op %ld ops/sec; %6.1f MB/s\n", ...)
        assert_eq!(
            db_bench_line("fillrandom", 2.5, 400_000.9, Some(44.25), ""),
            "fillrandom   :       2.500 micros/op 400000 ops/sec;   44.2 MB/s"
        );
        assert_eq!(
            db_bench_line("readmissing", 1.0, 1_000_000.0, None, ""),
            "readmissing  :       1.000 micros/op 1000000 ops/sec;"
        );
        assert_eq!(
            db_bench_line(
                "readrandom",
                12.3456,
                81_000.0,
                Some(9.0),
                "(632 of 1000 found)"
            ),
            "readrandom   :      12.346 micros/op 81000 ops/sec;    9.0 MB/s (632 of 1000 found)"
        );
        assert_eq!(
            db_bench_line("readwhilewriting", 1234567.0, 0.5, None, "(1 of 2 found)"),
            "readwhilewriting : 1234567.000 micros/op 0 ops/sec; (1 of 2 found)"
        );
    }

    #[test]
    fn amplification_line_shows_known_figures() {
        let a = Amplification {
            user_bytes_written: 100 << 20,
            table_bytes_written: Some(250 << 20),
            write_amp: Some(2.5),
            process_bytes_written: Some(360 << 20),
            write_amp_incl_log: Some(3.6),
            disk_bytes: Some(60 << 20),
            live_data_bytes: Some(50 << 20),
            space_amp: Some(1.2),
            logical_live_bytes: Some(100 << 20),
            disk_per_logical_byte: Some(0.6),
            peak_rss_bytes: Some(200 << 20),
        };
        assert_eq!(
            amplification_lines(&a),
            [
                "write amp 2.50 (tables 250.0 MB / user 100.0 MB), incl. log 3.60",
                "space amp 1.20 (disk 60.0 MB / live 50.0 MB), disk/user data 0.60; \
                 peak RSS 200.0 MB"
            ]
        );
        let unknown = Amplification::default();
        assert_eq!(
            amplification_lines(&unknown),
            ["write amp n/a, incl. log n/a", "space amp n/a"]
        );
    }

    #[test]
    fn header_estimates_sizes_like_db_bench() {
        let config = BenchConfig::default();
        let machine = Machine {
            nproc: 2,
            memory_bytes: None,
            cpu: Some("Test CPU".into()),
            os: "linux".into(),
            huge_pages_disabled: Some(true),
        };
        let h = header(
            "shaledb",
            &[("compression".into(), "Lz4".into())],
            &config,
            &machine,
            "d",
        );
        assert!(
            h.contains("Values:     100 bytes each (50 bytes after compression)"),
            "{h}"
        );
        assert!(h.contains("RawSize:    110.6 MB (estimated)"), "{h}");
        assert!(h.contains("FileSize:   62.9 MB (estimated)"), "{h}");
        assert!(h.contains("compression: Lz4"), "{h}");
        assert!(h.contains("CPU:        2 * Test CPU"), "{h}");
        assert!(h.contains("HugePages:  transparent huge pages off"), "{h}");
    }
}
