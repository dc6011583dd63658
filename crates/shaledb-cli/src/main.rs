//! The `shaledb` command line: inspect, edit, check and benchmark ShaleDB databases.
//!
//! Every failure is one line on stderr (`error: ...`) and exit status 1; bad arguments
//! exit with clap's status 2. The binary never panics on user input.

#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod codec;
mod commands;
mod error;
mod logging;
mod open;

/// mimalloc returns freed memtable memory to the OS promptly, where glibc's allocator
/// keeps it mapped; the library itself leaves the allocator to the application.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    shaledb_bench::allocator::tune_process_memory();
    let cli = cli::Cli::parse();
    if let Err(message) = logging::init() {
        let _ = writeln!(io::stderr(), "error: {message}");
        return ExitCode::FAILURE;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = commands::run(cli, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        // The interrupt handler is removing the run's files, which fails the run; it
        // exits the process itself when it is done.
        Err(_) if shaledb_bench::interrupt::interrupted() => loop {
            std::thread::park();
        },
        Err(e) => {
            // Show what was printed before the failure, then the error.
            let _ = out.flush();
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
