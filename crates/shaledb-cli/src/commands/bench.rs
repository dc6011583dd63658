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
    let mut options = Options {
        compaction: style,
        ..matched.options().clone()
    };
    if args.through_fault_fs {
        options.file_system = std::sync::Arc::new(shaledb::fs::FaultInjectionFs::new());
    }
    let factory = ShaleFactory::new(options);
    let report = run_bench(&args.config, &factory, out, Progress::for_stderr())?;
    if let Some(path) = &args.config.json {
        writeln!(out, "Results written to {}", path.display())?;
    }
    drop(report);
    Ok(())
}
