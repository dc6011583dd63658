//! `shaledb-peers`: db_bench's workloads side by side on ShaleDB, RocksDB, fjall, sled,
//! redb and rusty-leveldb, with the settings matched as far as each engine allows.
//!
//! The parent process measures the machine's raw fsync rate, then runs every engine
//! `--runs` times, interleaved (run 1 of every engine, then run 2, ...). Each run is a
//! child process, this same binary started with the hidden `--child ENGINE` flag, so
//! that peak memory is the engine's own and a crash costs only that run. The child runs
//! `shaledb_bench::run` and writes its report as JSON to a file the parent names; the
//! parent takes the median of the runs, prints the settings and the comparison table,
//! draws the chart and, with `--markdown`, writes the results page.
//!
//! RocksDB is compiled only with the `rocksdb` feature (its C++ build takes about 20
//! minutes), which the documented command, `cargo peers`, turns on.

/// Every Rust engine here allocates through mimalloc, as the `shaledb` binary does;
/// RocksDB's C++ allocates through the C library's malloc (the crate was built
/// without its jemalloc feature). The results page says so.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod chart;
mod child;
mod cli;
mod command;
mod engines;
mod error;
mod fsync;
mod markdown;
mod median;
mod parent;
mod summary;
mod table;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    shaledb_bench::allocator::tune_process_memory();
    let cli = Cli::parse();
    let result = match &cli.child {
        Some(engine) => child::run(&cli, engine),
        None => parent::run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shaledb-peers: {e}");
            ExitCode::FAILURE
        }
    }
}
