//! The command line: every `shaledb bench` option (flattened [`BenchConfig`]), the
//! engines and the number of runs, where the chart and the results page go, and the
//! hidden flags with which the parent starts each child.

use std::path::PathBuf;

use clap::Parser;
use shaledb_bench::BenchConfig;

use crate::engines::DEFAULT_ENGINES;

/// Runs db_bench's workloads on ShaleDB and its peers and compares them.
///
/// Every engine runs in a child process of its own, `--runs` times, interleaved; the
/// table shows each engine's median ops/sec and ShaleDB's ratio to it (ShaleDB ÷
/// engine: above 1 means ShaleDB is faster).
#[derive(Debug, Parser)]
#[command(name = "shaledb-peers", version)]
pub struct Cli {
    /// The benchmark options, shared with `shaledb bench`. Each engine's databases live
    /// in `--db DIR`/<engine>; `--json FILE` writes every run's report.
    #[command(flatten)]
    pub bench: BenchConfig,

    /// Engines to run, comma-separated: shaledb, rocksdb, fjall, sled, redb, leveldb
    /// (rusty-leveldb); also shaledb-tiered and rocksdb-universal, the two engines with
    /// size-tiered compaction and otherwise the same settings. rocksdb and
    /// rocksdb-universal need the `rocksdb` feature (`cargo peers` has it).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ENGINES)]
    pub engines: Vec<String>,

    /// Runs of every engine; the table shows the median. Run order is interleaved:
    /// run 1 of every engine, then run 2, ...
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub runs: u32,

    /// Directory for the chart, benchmarks.svg. By default, the directory of
    /// `--markdown` when that is given (the page links its chart), else
    /// `shaledb-peers` in the system's temporary directory: a run rewrites the chart
    /// in docs/ only when asked to.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Also write the results page (machine, date, command, settings, table, chart and
    /// notes) as Markdown to FILE, e.g. docs/benchmarks.md.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,

    /// Seconds one engine's run may take before it is killed and recorded as failed.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub run_timeout: u64,

    /// Internal: run one engine in this process (the parent starts children so).
    #[arg(long, hide = true, value_name = "ENGINE")]
    pub child: Option<String>,

    /// Internal: where the child writes its report.
    #[arg(long, hide = true, value_name = "FILE", requires = "child")]
    pub child_report: Option<PathBuf>,
}

impl Cli {
    /// Where the chart goes (see `--out`).
    pub fn chart_dir(&self) -> PathBuf {
        if let Some(dir) = &self.out {
            return dir.clone();
        }
        match &self.markdown {
            Some(page) => page
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            None => std::env::temp_dir().join("shaledb-peers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let cli = Cli::parse_from(["shaledb-peers"]);
        assert_eq!(cli.runs, 3);
        assert_eq!(
            cli.engines,
            ["shaledb", "rocksdb", "fjall", "sled", "redb", "leveldb"]
        );
        assert_eq!(cli.chart_dir(), std::env::temp_dir().join("shaledb-peers"));
        assert!(cli.child.is_none() && cli.markdown.is_none());
        assert!(Cli::try_parse_from(["shaledb-peers", "--runs", "0"]).is_err());
        assert!(Cli::try_parse_from(["shaledb-peers", "--child-report", "x"]).is_err());
    }

    #[test]
    fn the_chart_goes_beside_the_page_unless_out_says_otherwise() {
        let dir = |args: &[&str]| Cli::parse_from(args).chart_dir();
        assert_eq!(
            dir(&["p", "--markdown", "docs/benchmarks.md"]),
            PathBuf::from("docs")
        );
        assert_eq!(dir(&["p", "--markdown", "page.md"]), PathBuf::from("."));
        assert_eq!(
            dir(&["p", "--markdown", "docs/benchmarks.md", "--out", "/tmp/x"]),
            PathBuf::from("/tmp/x")
        );
    }
}
