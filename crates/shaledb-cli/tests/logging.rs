//! The engine's warnings reach stderr, and `SHALEDB_LOG` chooses what is printed.

mod common;

use common::{files_ending, serial, shaledb};
use predicates::prelude::*;

/// A database whose only write sits in a log with one damaged byte.
fn damaged_log_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["k1", "v1"])
        .assert()
        .success();
    let log = files_ending(&db, ".log").pop().expect("a log");
    let mut bytes = std::fs::read(&log).expect("read log");
    bytes[10] ^= 0xff;
    std::fs::write(&log, bytes).expect("write log");
    (dir, db)
}

#[test]
fn a_damaged_log_is_reported_on_stderr_and_set_aside_only_by_a_command_that_writes() {
    let _serial = serial();
    let (_dir, db) = damaged_log_db();
    let logs = files_ending(&db, ".log");
    // A read opens the database read-only: it warns, and changes nothing.
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("k1")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "WARN log replay stops at a damaged record",
        ))
        .stderr(predicate::str::contains("error: key not found: k1"));
    assert!(!db.join("lost").exists());
    assert_eq!(files_ending(&db, ".log"), logs);
    // A write recovers for good, and keeps the damaged log in lost/.
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["k2", "v2"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "WARN log replay stops at a damaged record",
        ));
    assert_eq!(files_ending(&db.join("lost"), ".log").len(), 1);
}

#[test]
fn shaledb_log_turns_events_off_and_on() {
    let _serial = serial();
    let (_dir, db) = damaged_log_db();
    shaledb()
        .env("SHALEDB_LOG", "off")
        .arg("get")
        .arg(&db)
        .arg("k1")
        .assert()
        .code(1)
        .stderr("error: key not found: k1\n");
    shaledb()
        .env("SHALEDB_LOG", "info")
        .arg("compact")
        .arg(&db)
        .assert()
        .success();
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["k2", "v2"])
        .assert()
        .success();
    shaledb()
        .env("SHALEDB_LOG", "info")
        .arg("compact")
        .arg(&db)
        .assert()
        .success()
        .stderr(predicate::str::contains("INFO compaction done"));
}

#[test]
fn a_bad_shaledb_log_value_is_one_line_of_error() {
    let _serial = serial();
    let (_dir, db) = damaged_log_db();
    shaledb()
        .env("SHALEDB_LOG", "warn=info=debug")
        .arg("get")
        .arg(&db)
        .arg("k1")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: SHALEDB_LOG="))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}
