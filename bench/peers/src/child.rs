//! The child process: one run of one engine.
//!
//! The parent starts this binary with `--child ENGINE --child-report FILE` and the
//! benchmark options. The child runs the whole suite with `shaledb_bench::run`, printing
//! db_bench's lines to its stdout (which the parent shares), and writes a
//! [`ChildReport`] as JSON to FILE. Exiting non-zero, or not at all, is how a run fails.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use serde::Serialize;
use shaledb_bench::{system, Progress, RunReport};

use crate::cli::Cli;
use crate::engines::{self, Unavailable};
use crate::error::PeersError;

/// What a child hands back: the harness's report, and the process's peak memory after
/// every benchmark ran (the report has it only after the writing ones).
#[derive(Debug, Serialize)]
pub struct ChildReport<'a> {
    /// The harness's report of the run.
    pub report: &'a RunReport,
    /// Peak resident memory of the child (`VmHWM`) at the end.
    pub peak_rss_bytes: Option<u64>,
    /// Seconds the run took, opening and closing included.
    pub wall_secs: f64,
}

/// Runs the suite on `engine` and writes the report file.
pub fn run(cli: &Cli, engine: &str) -> Result<(), PeersError> {
    let started = Instant::now();
    let factory = match engines::factory(engine) {
        Ok(factory) => factory,
        Err(Unavailable::Unknown) => return Err(PeersError::UnknownEngine(engine.into())),
        Err(Unavailable::NotCompiled(why)) => {
            return Err(PeersError::UnknownEngine(format!("{engine} ({why})")))
        }
    };
    let stdout = std::io::stdout();
    let report = shaledb_bench::run(
        &cli.bench,
        factory.as_ref(),
        &mut stdout.lock(),
        Progress::for_stderr(),
    )?;
    let child_report = ChildReport {
        report: &report,
        peak_rss_bytes: system::peak_rss_bytes(),
        wall_secs: started.elapsed().as_secs_f64(),
    };
    let Some(path) = &cli.child_report else {
        return Ok(()); // run by hand: the printed lines are the result
    };
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer(&mut out, &child_report)?;
        out.flush()
    };
    write().map_err(|e| PeersError::file(path, e))
}
