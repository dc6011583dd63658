//! The parent process: measures the fsync rate, starts one child per engine and run
//! (interleaved), reads their reports back, and prints and writes the comparison.
//!
//! Children share this process's stdout and stderr, so their db_bench lines appear as
//! they run. A child that exits non-zero, is killed by a signal, or outlives
//! `--run-timeout` is recorded as a failed run; the others go on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shaledb_bench::system::{format_utc, unix_time, Machine};
use shaledb_bench::EngineFactory;

use crate::cli::Cli;
use crate::command::{child_args, display_command};
use crate::engines;
use crate::error::PeersError;
use crate::fsync::{self, FsyncSamples};
use crate::markdown::{self, Page};
use crate::summary::{goals_table, Comparison, EngineRuns, Outcome, RunRecord};

/// How long the fsync rate is measured each time.
const FSYNC_MEASURE: Duration = Duration::from_secs(1);

/// How often a running child is checked on.
const POLL: Duration = Duration::from_millis(100);

/// Runs the comparison.
pub fn run(cli: &Cli) -> Result<(), PeersError> {
    cli.bench.validate()?;
    let started = Instant::now();
    let date = format_utc(unix_time());
    let engines::Resolved { factories, skipped } = engines::resolve(&cli.engines)?;
    for (name, why) in &skipped {
        println!("skipping {name}: {why}");
    }
    let temp = match &cli.bench.db {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("shaledb-peers-")
                .tempdir()
                .map_err(|e| PeersError::io("cannot create a temporary directory", e))?,
        ),
    };
    let root: PathBuf = match (&cli.bench.db, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory is made when --db is absent"),
    };

    let machine = Machine::current();
    let load_at_start = load_average();
    println!(
        "shaledb-peers: {} engine(s) x {} run(s), --num {}, databases in {}",
        factories.len(),
        cli.runs,
        cli.bench.num,
        root.display()
    );
    println!(
        "machine: {} CPUs, {}, {} MiB memory",
        machine.nproc,
        machine.cpu.as_deref().unwrap_or("unknown CPU"),
        machine.memory_bytes.unwrap_or(0) >> 20
    );
    let mut fsync = FsyncSamples::default();
    measure_fsync(&root, &mut fsync);
    let revision = shaledb_revision();
    if let Some(revision) = &revision {
        println!("shaledb: {revision}");
    }
    print_settings(&factories);

    let mut all: Vec<EngineRuns> = factories
        .iter()
        .map(|f| EngineRuns {
            name: f.name(),
            settings: f.settings(),
            outcomes: Vec::new(),
        })
        .collect();
    let exe = std::env::current_exe()
        .map_err(|e| PeersError::io("cannot find this program's path", e))?;
    let mut published = Published {
        date,
        machine,
        command: display_command(std::env::args().skip(1)),
        revision,
        fsync,
        skipped,
        load_at_start,
        started,
    };
    for run in 1..=cli.runs {
        for engine in &mut all {
            println!("\n=== run {run}/{} · {} ===", cli.runs, engine.name);
            // The disk's sync rate swings with the rest of the machine's work, so it is
            // measured again before every run.
            measure_fsync(&root, &mut published.fsync);
            let outcome = run_child(cli, &exe, &root, &engine.name, run);
            if let Outcome::Failed(why) = &outcome {
                println!("{} run {run} failed: {why}", engine.name);
            }
            engine.outcomes.push(outcome);
            if temp.is_some() {
                // Free the disk and the page cache for the next engine.
                let _ = std::fs::remove_dir_all(root.join(&engine.name));
            }
        }
        // Publish after every round, so that a long comparison cut short still leaves
        // its results so far.
        publish(cli, &published, &all, run)?;
    }
    Ok(())
}

/// What the comparison knows besides its runs.
struct Published {
    date: String,
    machine: Machine,
    command: String,
    revision: Option<String>,
    fsync: FsyncSamples,
    skipped: Vec<(String, String)>,
    load_at_start: Option<String>,
    started: Instant,
}

/// Writes the chart, the page and the JSON for the runs so far (`rounds` of every
/// engine), and after the last round prints the results.
fn publish(cli: &Cli, p: &Published, all: &[EngineRuns], rounds: u32) -> Result<(), PeersError> {
    let last = rounds == cli.runs;
    let comparison = Comparison::new(all, &cli.bench.benchmarks);
    let total_minutes = p.started.elapsed().as_secs_f64() / 60.0;
    let load = [p.load_at_start.clone(), load_average()];
    if last {
        print_results(&comparison, all, &p.fsync, total_minutes);
        if let [Some(start), Some(end)] = &load {
            println!("load average (1, 5, 15 min): {start} at the start, {end} at the end");
        }
    }

    let chart_dir = cli.chart_dir();
    std::fs::create_dir_all(&chart_dir).map_err(|e| PeersError::Chart {
        path: chart_dir.clone(),
        message: e.to_string(),
    })?;
    let chart_path = chart_dir.join("benchmarks.svg");
    let title = format!(
        "db_bench workloads, --num {}, median of {rounds} run{}",
        cli.bench.num,
        if rounds == 1 { "" } else { "s" }
    );
    crate::chart::draw(&comparison, &chart_path, &title)?;
    if let Some(path) = &cli.markdown {
        let chart_link = chart_link(path, &chart_path);
        let page = Page {
            date: &p.date,
            machine: &p.machine,
            command: &p.command,
            config: &cli.bench,
            runs: cli.runs,
            rounds_done: rounds,
            comparison: &comparison,
            engines: all,
            skipped: &p.skipped,
            revision: p.revision.as_deref(),
            fsync: &p.fsync,
            chart: Some(&chart_link),
            total_minutes,
            load,
        };
        write_file(path, &markdown::render(&page))?;
    }
    if let Some(path) = &cli.bench.json {
        write_file(path, &runs_json(all))?;
    }
    let written: Vec<String> = std::iter::once(&chart_path)
        .chain(&cli.markdown)
        .chain(&cli.bench.json)
        .map(|p| p.display().to_string())
        .collect();
    println!(
        "\n{} after {rounds} of {} round(s): {}",
        if last { "wrote" } else { "updated" },
        cli.runs,
        written.join(", ")
    );
    Ok(())
}

/// Runs one child and reads its report.
fn run_child(cli: &Cli, exe: &Path, root: &Path, engine: &str, run: u32) -> Outcome {
    let report = root.join(format!(".{engine}-run{run}.json"));
    let _ = std::fs::remove_file(&report);
    let _ = std::io::stdout().flush();
    let mut child = match Command::new(exe)
        .args(child_args(&cli.bench, root, engine, &report))
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("cannot start: {e}")),
    };
    let started = Instant::now();
    let timeout = Duration::from_secs(cli.run_timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::Failed(format!("killed after the {}s timeout", cli.run_timeout));
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => return Outcome::Failed(format!("cannot wait for it: {e}")),
        }
    };
    if !status.success() {
        return Outcome::Failed(status.to_string());
    }
    let outcome =
        read_record(&report).map_or_else(|e| Outcome::Failed(e.to_string()), Outcome::Done);
    let _ = std::fs::remove_file(&report);
    outcome
}

/// Measures the raw fsync rate in `dir` once more and prints it.
fn measure_fsync(dir: &Path, samples: &mut FsyncSamples) {
    match fsync::measure(dir, FSYNC_MEASURE) {
        Ok(rate) => {
            println!(
                "raw fsync rate now: {:.0}/s ({:.0} µs per 4 KiB append + fdatasync)",
                rate.per_sec(),
                rate.micros_each()
            );
            samples.push(rate);
        }
        Err(e) => println!("raw fsync rate: not measured ({e})"),
    }
}

/// The commit ShaleDB was built from, as `git` in the current directory tells it,
/// with a note when its crates have uncommitted changes.
fn shaledb_revision() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let changed = git(&[
        "status",
        "--porcelain",
        "--",
        "crates/shaledb",
        "crates/shaledb-bench",
    ])
    .is_some_and(|s| !s.is_empty());
    Some(if changed {
        format!("commit {commit}, with uncommitted changes in crates/shaledb*")
    } else {
        format!("commit {commit}")
    })
}

/// The first three fields of `/proc/loadavg`, if there is one.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

fn read_record(path: &Path) -> Result<RunRecord, PeersError> {
    let text = std::fs::read_to_string(path).map_err(|e| PeersError::file(path, e))?;
    let parse_error = |source| PeersError::Report {
        path: path.to_path_buf(),
        source,
    };
    let mut record: RunRecord = serde_json::from_str(&text).map_err(parse_error)?;
    record.raw = serde_json::from_str(&text).map_err(parse_error)?;
    Ok(record)
}

fn print_settings(factories: &[Box<dyn EngineFactory>]) {
    println!("\nsettings:");
    for f in factories {
        println!("  {}:", f.name());
        for (name, value) in f.settings() {
            println!("    {name:<20} {value}");
        }
    }
}

fn print_results(
    comparison: &Comparison,
    all: &[EngineRuns],
    fsync: &FsyncSamples,
    total_minutes: f64,
) {
    println!("\n=== results: median ops/sec (ShaleDB ÷ engine; >1 means ShaleDB is faster) ===\n");
    println!("{}", comparison.throughput_table(fsync.median()).to_text());
    println!(
        "\n=== amplification after {}, peak L0, stalls, peak RSS ===\n",
        comparison
            .amplification_after
            .as_deref()
            .unwrap_or("the fills")
    );
    println!("{}", comparison.amplification_table().to_text());
    println!("\n=== goals (issue 4, section 4) ===\n");
    let goals = comparison.goals();
    println!("{}", goals_table(&goals).to_text());
    for goal in goals.iter().filter(|g| !g.details.is_empty()) {
        println!("\n{}: short of the target on", goal.what);
        for detail in &goal.details {
            println!("  {detail}");
        }
    }
    for engine in all {
        for failure in engine.failures() {
            println!("failed: {} {failure}", engine.name);
        }
    }
    if let Some(rate) = fsync.describe() {
        println!("\nraw fsync rate: {rate}");
    }
    println!("median time per run: {}", comparison.run_times());
    println!("total time: {total_minutes:.1} minutes");
}

/// The chart's path as the page links it: its name when both share a directory.
fn chart_link(page: &Path, chart: &Path) -> String {
    let dir = |p: &Path| p.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir(page) == dir(chart) {
        chart
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    } else {
        chart.display().to_string()
    }
}

/// Every run's full report, per engine (`--json`).
fn runs_json(all: &[EngineRuns]) -> String {
    let engines: Vec<serde_json::Value> = all
        .iter()
        .map(|e| {
            let runs: Vec<serde_json::Value> = e
                .outcomes
                .iter()
                .map(|o| match o {
                    Outcome::Done(r) => r.raw.clone(),
                    Outcome::Failed(why) => serde_json::json!({ "failed": why }),
                })
                .collect();
            serde_json::json!({ "engine": e.name, "settings": e.settings, "runs": runs })
        })
        .collect();
    serde_json::to_string_pretty(&engines).unwrap_or_default()
}

fn write_file(path: &Path, text: &str) -> Result<(), PeersError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PeersError::file(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| PeersError::file(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_links_are_relative_to_the_page() {
        assert_eq!(
            chart_link(
                Path::new("docs/benchmarks.md"),
                Path::new("docs/benchmarks.svg")
            ),
            "benchmarks.svg"
        );
        assert_eq!(
            chart_link(Path::new("out.md"), Path::new("docs/benchmarks.svg")),
            "docs/benchmarks.svg"
        );
    }
}
