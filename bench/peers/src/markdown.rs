//! The results page, `docs/benchmarks.md`: the machine, the date, the exact command,
//! every engine's settings, the throughput table with ShaleDB's ratios, the chart,
//! amplification and memory, the goals of issue 4 §4, failures, and what is not
//! comparable. Generated whole; nothing in it is edited by hand.

use std::fmt::Write as _;

use shaledb_bench::system::Machine;
use shaledb_bench::BenchConfig;

use crate::fsync::{FsyncSamples, BLOCK};
use crate::median::thousands;
use crate::summary::{goals_table, Comparison, EngineRuns};

/// Everything the page shows.
pub struct Page<'a> {
    /// When the comparison started (UTC, ISO 8601).
    pub date: &'a str,
    /// The machine.
    pub machine: &'a Machine,
    /// The command, as typed.
    pub command: &'a str,
    /// The benchmark options.
    pub config: &'a BenchConfig,
    /// Runs per engine asked for.
    pub runs: u32,
    /// Rounds (one run of every engine) finished so far.
    pub rounds_done: u32,
    /// The comparison.
    pub comparison: &'a Comparison,
    /// Every engine's runs and settings.
    pub engines: &'a [EngineRuns],
    /// Engines not run, with the reason.
    pub skipped: &'a [(String, String)],
    /// ShaleDB's revision, if known.
    pub revision: Option<&'a str>,
    /// The raw fsync rates measured.
    pub fsync: &'a FsyncSamples,
    /// The chart, as a link relative to the page.
    pub chart: Option<&'a str>,
    /// Minutes the whole comparison took.
    pub total_minutes: f64,
    /// The load averages (1, 5, 15 minutes) when it started and when it ended.
    pub load: [Option<String>; 2],
}

/// What the numbers do not say, whatever the run.
const NOT_COMPARABLE: &[&str] = &[
    "**sled and redb are B-trees**, not LSM trees: bloom filters, memtables, block sizes and \
     background compaction do not apply to them, and neither compresses (sled offers only \
     zstd behind a cargo feature, redb nothing). They trade write cost for read cost \
     differently, so their write and space amplification mean something else.",
    "**redb** commits one write transaction per operation (a batch is one transaction) with \
     `Durability::None`; because redb frees pages only at a durable commit, the adapter makes \
     one commit a second durable (an fsync), much as sled fsyncs its log every 500 ms.",
    "**rusty-leveldb** compresses with Snappy (it has no LZ4), keeps LevelDB's 2 MiB tables, \
     runs flushes and compactions inside the write that triggers them (no background \
     threads), and needs `&mut` for every call, reads included, so the adapter serialises \
     all operations behind one mutex.",
    "**Write amplification (tables)** needs the engine to count the table bytes its flushes \
     and compactions write: only ShaleDB and RocksDB do. **Write amplification (all \
     writes)** is every byte the engine's process passed to `write` (`wchar` of \
     `/proc/self/io`: logs, tables, manifests, pages) over the user bytes; it is the one \
     write figure measured the same way for every engine. Compaction still pending when a \
     benchmark ends is not counted.",
    "**Space amplification (disk ÷ live)** needs the engine's own estimate of its live data \
     (ShaleDB and RocksDB), and the two estimates differ: RocksDB's \
     `estimate-live-data-size` adds up a largest set of table files whose key ranges do not \
     overlap, bottom level first, so right after random writes it leaves out the overlapping \
     upper levels, the memtables and the write-ahead logs (up to two 64 MiB memtables' \
     worth) that the directory holds, and its ratio comes out high. ShaleDB's \
     `shaledb.live-data-size` judges every table on a sample of its keys against newer \
     tables' bloom filters and counts the live fraction of each (within a few percent of \
     the compacted size, settled); it too leaves out the memtables, whose data sits in the \
     logs. **Disk ÷ logical** divides the database directory by the key and value bytes the \
     harness knows to be present, the same way for every engine; below 1 means compression \
     won more than the overheads cost.",
    "**Peak L0 files** and **stalls** exist only for the LSM engines that report them; fjall \
     reports its level-0 count but not its stall time.",
    "**Peak RSS** is the whole child process (the harness's key bitmap and histograms \
     included), one process per engine and run, taken at the end of the run.",
    "**Reads come mostly from the operating system's page cache**: the data set (about 116 MB \
     at `--num 1000000`) is far smaller than the machine's memory, so the read benchmarks \
     measure each engine's read path on the CPU, not the disk.",
    "**Memtable bloom filters**: ShaleDB and RocksDB each keep a bloom filter over the \
     whole keys in every memtable, 1% of the memtable's size (RocksDB's \
     `memtable_prefix_bloom_size_ratio` with `memtable_whole_key_filtering`), so a get of a \
     key the memtable lacks skips its skip list. fjall, sled, redb and rusty-leveldb have no \
     such setting.",
    "**fillsync** is bound by the device's sync latency; the raw rate beside it (4 KiB \
     appends, each followed by `fdatasync`, in the database directory) is the ceiling for one \
     thread without group commit. sled 0.34's `flush()` makes its log durable with \
     `sync_file_range` on Linux, which writes the pages but neither flushes the disk's \
     volatile write cache (this machine's disk caches writes) nor commits file metadata, so \
     its fillsync rate is not that of a power-safe sync; the other engines call \
     `fdatasync`.",
    "**readwhilewriting** counts the readers' gets; the writer's puts beside them are a \
     separate row, because engines divide the machine between the two differently.",
    "**RocksDB** runs with statistics at the ticker level (`ExceptHistogramOrTimers`), which \
     the amplification figures need and which costs it a little.",
];

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The page's Markdown.
pub fn render(page: &Page<'_>) -> String {
    let mut out = String::new();
    let c = page.comparison;
    let config = page.config;
    let _ = writeln!(
        out,
        "# Benchmarks: ShaleDB beside RocksDB and the Rust engines\n"
    );
    let _ = writeln!(
        out,
        "Generated by `shaledb-peers` (`bench/peers`); regenerate it with the command below \
         rather than editing it. Each engine ran the same db_bench workloads with the same key \
         and value generator, in a process of its own, {}.\n",
        if page.rounds_done < page.runs {
            format!(
                "**so far {} of the {} runs asked for** (the comparison was still running or \
                 was cut short); every figure is the median of the runs finished",
                page.rounds_done, page.runs
            )
        } else if page.runs == 1 {
            "once".to_string()
        } else {
            format!(
                "{} times, interleaved (run 1 of every engine, then run 2, ...); every figure \
                 is the median of the {} runs",
                page.runs, page.runs
            )
        }
    );
    let m = page.machine;
    let _ = writeln!(out, "- **Date:** {}", page.date);
    let _ = writeln!(
        out,
        "- **Machine:** {} CPU{} ({}), {} memory, {}",
        m.nproc,
        if m.nproc == 1 { "" } else { "s" },
        m.cpu.as_deref().unwrap_or("unknown CPU"),
        m.memory_bytes.map_or("unknown".into(), gib),
        m.os
    );
    if let Some(disabled) = m.huge_pages_disabled {
        let state = if disabled {
            "off in every engine's process (`PR_SET_THP_DISABLE`, as databases' guides advise)"
        } else {
            "allowed"
        };
        let _ = writeln!(out, "- **Transparent huge pages:** {state}");
    }
    let _ = writeln!(out, "- **Command:** `{}`", page.command);
    let benchmarks: Vec<&str> = config.benchmarks.iter().map(|w| w.name()).collect();
    let _ = writeln!(
        out,
        "- **Workloads:** {} keys of 16 bytes, {}-byte values that compress to half, {} \
         thread{}, {} operations per read benchmark; {}",
        thousands(config.num),
        config.value_size,
        config.threads,
        if config.threads == 1 { "" } else { "s" },
        thousands(config.reads()),
        benchmarks.join(", ")
    );
    if let Some(revision) = page.revision {
        let _ = writeln!(out, "- **ShaleDB:** {revision}");
    }
    if let Some(rate) = page.fsync.describe() {
        let _ = writeln!(
            out,
            "- **Raw fsync rate:** {rate}; measured for 1 s before every run ({} KiB appends, \
             each followed by `fdatasync`, in the database directory)",
            BLOCK >> 10
        );
    }
    if let [Some(start), Some(end)] = &page.load {
        let _ = writeln!(
            out,
            "- **Load average** (1, 5, 15 min): {start} at the start, {end} at the end (other \
             work on the machine slows every engine, and not evenly)"
        );
    }
    let _ = writeln!(
        out,
        "- **Time:** {:.1} minutes in all; median per run: {}\n",
        page.total_minutes,
        c.run_times()
    );

    let _ = writeln!(out, "## Throughput\n");
    let _ = writeln!(
        out,
        "Median ops/sec; in brackets ShaleDB's ratio to the engine (ShaleDB ÷ engine: **above \
         1 means ShaleDB is faster**).\n"
    );
    let _ = writeln!(
        out,
        "{}\n",
        c.throughput_table(page.fsync.median()).to_markdown()
    );
    if let Some(chart) = page.chart {
        let _ = writeln!(
            out,
            "![ops/sec per workload and engine, log scale]({chart})\n"
        );
    }

    let _ = writeln!(out, "## Amplification and memory\n");
    let _ = writeln!(
        out,
        "Write and space amplification when {} ended (medians); peak level-0 files over the \
         whole run; stalls since the database was created for those benchmarks; peak RSS of \
         the engine's process.\n",
        c.amplification_after.as_deref().unwrap_or("the fills")
    );
    let _ = writeln!(out, "{}\n", c.amplification_table().to_markdown());

    let _ = writeln!(out, "## Goals (issue 4, section 4)\n");
    let goals = c.goals();
    let _ = writeln!(out, "{}\n", goals_table(&goals).to_markdown());
    for goal in goals.iter().filter(|g| !g.details.is_empty()) {
        let _ = writeln!(out, "{}: short of the target on\n", goal.what);
        for detail in &goal.details {
            let _ = writeln!(out, "- {detail}");
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Settings\n");
    let _ = writeln!(
        out,
        "Matched as far as each engine allows: log on without an fsync per write (fillsync \
         syncs each), LZ4, bloom filters at 10 bits per key, 4 KiB blocks, a 64 MiB memtable, \
         a 64 MiB block cache, 2 background jobs.\n"
    );
    for engine in page.engines {
        let _ = writeln!(out, "**{}**\n", engine.name);
        for (name, value) in &engine.settings {
            let _ = writeln!(out, "- {name}: {value}");
        }
        out.push('\n');
    }
    for (name, why) in page.skipped {
        let _ = writeln!(out, "**{name}**: not run: {why}.\n");
    }

    let failures: Vec<String> = page
        .engines
        .iter()
        .flat_map(|e| {
            e.failures()
                .into_iter()
                .map(move |f| format!("- {}, {f}", e.name))
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Runs that failed\n");
        let _ = writeln!(out, "{}\n", failures.join("\n"));
    }

    let _ = writeln!(out, "## What is not comparable\n");
    for note in NOT_COMPARABLE {
        let _ = writeln!(out, "- {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::tests::{runs, sample};
    use crate::summary::Outcome;

    #[test]
    fn page_has_every_section() {
        let comparison = sample();
        let machine = Machine {
            nproc: 2,
            memory_bytes: Some(8 << 30),
            cpu: Some("Test CPU".into()),
            os: "linux x86_64".into(),
            huge_pages_disabled: Some(true),
        };
        let engines = [runs("shaledb", vec![Outcome::Failed("killed".into())])];
        let config = BenchConfig::default();
        let mut fsync = FsyncSamples::default();
        fsync.push(crate::fsync::FsyncRate {
            syncs: 500,
            secs: 2.0,
        });
        let page = Page {
            date: "2025-01-01T00:00:00Z",
            machine: &machine,
            command: "cargo peers --num 1000",
            config: &config,
            runs: 3,
            rounds_done: 3,
            comparison: &comparison,
            engines: &engines,
            skipped: &[("rocksdb".into(), "not compiled".into())],
            revision: Some("commit abc1234"),
            fsync: &fsync,
            chart: Some("benchmarks.svg"),
            total_minutes: 1.5,
            load: [Some("0.10 0.20 0.30".into()), Some("1.00 0.50 0.40".into())],
        };
        let md = render(&page);
        for needle in [
            "# Benchmarks",
            "2 CPUs (Test CPU), 8.0 GiB memory",
            "`cargo peers --num 1000`",
            "250/s (median of 1, range 250–250/s)",
            "- **ShaleDB:** commit abc1234",
            "0.10 0.20 0.30 at the start",
            "| workload | shaledb | rocksdb | sled |",
            "fillsync",
            "![ops/sec",
            "## Amplification and memory",
            "| goal | target | measured | met |",
            "- wal: on",
            "**rocksdb**: not run: not compiled.",
            "- shaledb, run 1: killed",
            "## What is not comparable",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        // Every table row has as many cells as its header.
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "{line}");
        }
    }
}
