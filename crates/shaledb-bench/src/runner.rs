//! Running a whole suite on one engine: the database directory, db_bench's fresh-database
//! rule, printing as results arrive, and the JSON file.
//!
//! The database lives in `<--db or a temporary directory>/<engine name>`. Unless
//! `--use-existing-db` is given, that directory is deleted before the first benchmark;
//! it is deleted again, with the engine closed, before each benchmark that needs a
//! fresh database (fillseq, fillrandom, fillsync, fill100K), unless nothing has touched
//! the database since it was created. Only directories the harness made are deleted
//! (see `db_dir.rs`). The `--json` file is created before the first benchmark, so a
//! path that cannot be written fails the run at once rather than at its end.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::benchmark::{run_benchmark, BenchmarkEnv};
use crate::config::BenchConfig;
use crate::db_dir;
use crate::engine::{Engine, EngineFactory};
use crate::error::BenchError;
use crate::format::{header, result_lines};
use crate::lifetime::DbLifetime;
use crate::progress::Progress;
use crate::result::RunReport;
use crate::system::{format_utc, unix_time, Machine};

/// An engine with its database's history.
struct OpenDb {
    engine: Box<dyn Engine>,
    lifetime: DbLifetime,
    /// Nothing has run on it since it was created empty.
    pristine: bool,
}

fn open(
    factory: &dyn EngineFactory,
    dir: &Path,
    fresh: bool,
    num: u64,
) -> Result<OpenDb, BenchError> {
    if fresh {
        db_dir::prepare_fresh(dir)?;
    } else {
        db_dir::require_existing(dir)?;
    }
    let engine = factory.open(dir).map_err(|source| BenchError::Open {
        engine: factory.name(),
        dir: dir.to_path_buf(),
        source,
    })?;
    let lifetime = if fresh {
        DbLifetime::fresh(num)
    } else {
        DbLifetime::existing()
    };
    Ok(OpenDb {
        engine,
        lifetime,
        pristine: fresh,
    })
}

fn print(out: &mut dyn Write, text: &str) -> Result<(), BenchError> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| BenchError::io("cannot print results", e))
}

/// Runs every benchmark of `config` on the engine `factory` opens, printing db_bench's
/// lines to `out` as each finishes, and writes `--json` if asked. Progress goes to
/// stderr as `progress` says.
pub fn run(
    config: &BenchConfig,
    factory: &dyn EngineFactory,
    out: &mut dyn Write,
    progress: Progress,
) -> Result<RunReport, BenchError> {
    config.validate()?;
    // Checked before the first benchmark, without truncating a previous run's results;
    // a file made here is removed again if the run fails.
    let json_made = match &config.json {
        Some(path) => {
            let existed = path.exists();
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| BenchError::io(format!("cannot write {}", path.display()), e))?;
            (!existed).then_some(path)
        }
        None => None,
    };
    let result = run_suite(config, factory, out, progress);
    if let (Err(_), Some(path)) = (&result, json_made) {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn run_suite(
    config: &BenchConfig,
    factory: &dyn EngineFactory,
    out: &mut dyn Write,
    progress: Progress,
) -> Result<RunReport, BenchError> {
    let temp = match &config.db {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("shaledb-bench-")
                .tempdir()
                .map_err(|e| BenchError::io("cannot create a temporary directory", e))?,
        ),
    };
    if let Some(t) = &temp {
        crate::interrupt::remove_on_interrupt(t.path());
    }
    let root: PathBuf = match (&config.db, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory is made when --db is absent"),
    };
    let db_dir = root.join(factory.name());
    let unix = unix_time();
    let mut report = RunReport {
        engine: factory.name(),
        engine_settings: factory.settings(),
        config: config.clone(),
        key_size: config.key_size(),
        reads: config.reads(),
        db_dir: db_dir.display().to_string(),
        machine: Machine::current(),
        date: format_utc(unix),
        unix_time: unix,
        results: Vec::new(),
    };
    print(
        out,
        &header(
            &report.engine,
            &report.engine_settings,
            config,
            &report.machine,
            &report.date,
        ),
    )?;
    print(out, &format!("Database:   {}", db_dir.display()))?;

    let mut db = open(factory, &db_dir, !config.use_existing_db, config.num)?;
    let mut threads_started = 0;
    for &workload in &config.benchmarks {
        if workload.needs_fresh_db() && config.use_existing_db {
            // As db_bench does: a fill would delete the database the user asked to keep.
            print(
                out,
                &format!(
                    "{:<12} : skipped (--use-existing-db keeps the database)",
                    workload.name()
                ),
            )?;
            continue;
        }
        if workload.needs_fresh_db() && !db.pristine {
            drop(db);
            db = open(factory, &db_dir, true, config.num)?;
        }
        db.pristine = false;
        let mut env = BenchmarkEnv {
            engine: db.engine.as_ref(),
            config,
            lifetime: &db.lifetime,
            db_dir: &db_dir,
            progress,
            threads_started: &mut threads_started,
        };
        let result = run_benchmark(workload, &mut env)?;
        print(out, &result_lines(&result))?;
        report.results.push(result);
    }
    drop(db);
    if let Some(t) = &temp {
        crate::interrupt::forget(t.path());
    }
    if let Some(path) = &config.json {
        report
            .write_json(path)
            .map_err(|e| BenchError::io(format!("cannot write {}", path.display()), e))?;
    }
    Ok(report)
}
