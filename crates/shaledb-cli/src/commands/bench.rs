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
    override_with(&mut options.max_background_jobs, args.max_background_jobs);
    override_with(
        &mut options.level0_compaction_trigger,
        args.level0_compaction_trigger,
    );
    override_with(&mut options.level_base_size, args.level_base_size);
    override_with(&mut options.tiered_run_trigger, args.tiered_run_trigger);
    override_with(
        &mut options.tiered_size_ratio_percent,
        args.tiered_size_ratio,
    );
    override_with(
        &mut options.tiered_min_merge_width,
        args.tiered_min_merge_width,
    );
    override_with(
        &mut options.tiered_max_size_amplification_percent,
        args.tiered_max_size_amplification,
    );
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

/// Replaces an engine default with the value given on the command line, if any.
fn override_with<T>(field: &mut T, given: Option<T>) {
    if let Some(value) = given {
        *field = value;
    }
}
