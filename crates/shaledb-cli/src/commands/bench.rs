//! `bench`: the db_bench workloads on ShaleDB, through the `shaledb-bench` harness.

use std::io::Write;

use shaledb_bench::{run as run_bench, Progress, ShaleFactory};

use shaledb::{CompactionStyle, Options};

use crate::cli::{BenchArgs, StyleArg};
use crate::error::CliError;

/// Runs the benchmarks with the peers comparison's settings.
pub fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let matched = ShaleFactory::matched();
    let style = match args.compaction {
        StyleArg::Leveled => CompactionStyle::Leveled,
        StyleArg::Tiered => CompactionStyle::Tiered,
    };
    let factory = ShaleFactory::new(Options {
        compaction: style,
        ..matched.options().clone()
    });
    let report = run_bench(&args.config, &factory, out, Progress::for_stderr())?;
    if let Some(path) = &args.config.json {
        writeln!(out, "Results written to {}", path.display())?;
    }
    drop(report);
    Ok(())
}
