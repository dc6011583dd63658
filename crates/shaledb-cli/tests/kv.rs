//! `get`, `put`, `delete` and `scan`, in text and hex, and their error cases.

mod common;

use common::{db_with, serial, shaledb};
use predicates::prelude::*;

#[test]
fn put_then_get_round_trips_and_creates_the_database() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("new-db");
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["user:1", "ada"])
        .assert()
        .success();
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("user:1")
        .assert()
        .success()
        .stdout("ada\n");
}

#[test]
fn put_with_sync_is_durable_and_readable() {
    let _serial = serial();
    let (_dir, db) = db_with(&[], false);
    shaledb()
        .arg("put")
        .arg("--sync")
        .arg(&db)
        .args(["k", "v"])
        .assert()
        .success();
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("k")
        .assert()
        .success()
        .stdout("v\n");
}

#[test]
fn get_of_an_absent_key_fails_with_one_line() {
    let _serial = serial();
    let (_dir, db) = db_with(&[(b"a", b"1")], false);
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("zzz")
        .assert()
        .code(1)
        .stdout("")
        .stderr("error: key not found: zzz\n");
}

#[test]
fn delete_removes_the_key() {
    let _serial = serial();
    let (_dir, db) = db_with(&[(b"a", b"1"), (b"b", b"2")], true);
    shaledb().arg("delete").arg(&db).arg("a").assert().success();
    shaledb().arg("get").arg(&db).arg("a").assert().code(1);
    shaledb()
        .arg("scan")
        .arg(&db)
        .assert()
        .success()
        .stdout("b\t2\n");
}

#[test]
fn hex_keys_and_values_round_trip() {
    let _serial = serial();
    let (_dir, db) = db_with(&[], false);
    shaledb()
        .args(["--hex", "put"])
        .arg(&db)
        .args(["00ff", "0a0b"])
        .assert()
        .success();
    shaledb()
        .arg("get")
        .arg(&db)
        .args(["00ff", "--hex"])
        .assert()
        .success()
        .stdout("0a0b\n");
    // Binary bytes are escaped in text mode, so each entry stays on one line.
    shaledb()
        .arg("scan")
        .arg(&db)
        .assert()
        .success()
        .stdout("\\x00\\xff\t\\n\\x0b\n");
    shaledb()
        .args(["scan", "--hex"])
        .arg(&db)
        .assert()
        .success()
        .stdout("00ff\t0a0b\n");
}

#[test]
fn bad_hex_is_a_clear_error() {
    let _serial = serial();
    let (_dir, db) = db_with(&[], false);
    shaledb()
        .args(["--hex", "get"])
        .arg(&db)
        .arg("xyz")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: KEY is not valid hex"))
        .stderr(predicate::str::contains("panicked").not());
    shaledb()
        .args(["--hex", "put"])
        .arg(&db)
        .args(["00", "abc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("VALUE is not valid hex"));
}

fn sample_db() -> (tempfile::TempDir, std::path::PathBuf) {
    db_with(
        &[
            (b"apple", b"1"),
            (b"user:1", b"ada"),
            (b"user:2", b"grace"),
            (b"user:3", b"linus"),
            (b"zebra", b"2"),
        ],
        true,
    )
}

#[test]
fn scan_prints_everything_in_order() {
    let _serial = serial();
    let (_dir, db) = sample_db();
    shaledb()
        .arg("scan")
        .arg(&db)
        .assert()
        .success()
        .stdout("apple\t1\nuser:1\tada\nuser:2\tgrace\nuser:3\tlinus\nzebra\t2\n");
}

#[test]
fn scan_honours_from_to_prefix_limit_and_reverse() {
    let _serial = serial();
    let (_dir, db) = sample_db();
    let scan = |args: &[&str]| {
        let out = shaledb().arg("scan").arg(&db).args(args).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).into_owned()
    };
    assert_eq!(
        scan(&["--from", "user:2"]),
        "user:2\tgrace\nuser:3\tlinus\nzebra\t2\n"
    );
    assert_eq!(scan(&["--to", "user:2"]), "apple\t1\nuser:1\tada\n");
    assert_eq!(
        scan(&["--prefix", "user:"]),
        "user:1\tada\nuser:2\tgrace\nuser:3\tlinus\n"
    );
    assert_eq!(
        scan(&["--prefix", "user:", "--limit", "2"]),
        "user:1\tada\nuser:2\tgrace\n"
    );
    assert_eq!(
        scan(&["--prefix", "user:", "--reverse", "--limit", "2"]),
        "user:3\tlinus\nuser:2\tgrace\n"
    );
    assert_eq!(
        scan(&["--reverse", "--from", "b", "--to", "user:3"]),
        "user:2\tgrace\nuser:1\tada\n"
    );
    assert_eq!(scan(&["--prefix", "nothing"]), "");
}

#[test]
fn read_commands_on_a_missing_directory_fail_without_creating_it() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope");
    for cmd in [
        vec!["get", "k"],
        vec!["delete", "k"],
        vec!["scan"],
        vec!["stats"],
        vec!["check"],
        vec!["compact"],
    ] {
        shaledb()
            .arg(cmd[0])
            .arg(&missing)
            .args(&cmd[1..])
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with("error: no database at"))
            .stderr(predicate::str::contains("does not exist"))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
        assert!(!missing.exists(), "{} created the directory", cmd[0]);
    }
}

#[test]
fn an_empty_directory_is_not_a_database() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    shaledb()
        .arg("get")
        .arg(dir.path())
        .arg("k")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: "))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    // Found by an audit: the failed get left a LOCK file behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Every file in `dir` with its length and modification time.
fn listing(dir: &std::path::Path) -> Vec<(std::ffi::OsString, u64, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| {
            let e = e.expect("entry");
            let meta = e.metadata().expect("metadata");
            (e.file_name(), meta.len(), meta.modified().expect("mtime"))
        })
        .collect();
    out.sort();
    out
}

/// Found by an audit: every `get` flushed the log it replayed into a new table and
/// started a new log and manifest, so reads needed write access and changed the
/// database. Read commands now open it read-only, and share it with each other.
#[test]
fn read_commands_change_nothing_and_share_the_database() {
    let _serial = serial();
    let (_dir, db) = db_with(&[(b"in-a-table", b"1")], true);
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["in-the-log", "2"])
        .assert()
        .success();
    let before = listing(&db);
    // Another reader holds the database open meanwhile.
    let reader = shaledb::Db::open_read_only(&db, shaledb::Options::default()).expect("open");
    for cmd in [
        vec!["get", "in-the-log"],
        vec!["get", "in-a-table"],
        vec!["scan"],
        vec!["stats"],
        vec!["check"],
    ] {
        shaledb()
            .arg(cmd[0])
            .arg(&db)
            .args(&cmd[1..])
            .assert()
            .success();
    }
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("in-the-log")
        .assert()
        .stdout("2\n");
    // A writer must wait for the readers.
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["k", "v"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("locked"));
    drop(reader);
    assert_eq!(listing(&db), before, "a read command changed the database");
}

#[test]
fn bad_arguments_exit_with_usage_errors() {
    let _serial = serial();
    shaledb().assert().code(2);
    shaledb().arg("frobnicate").assert().code(2);
    shaledb()
        .arg("get")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
    shaledb()
        .args(["scan", "db", "--limit", "many"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value"));
}

#[test]
fn every_subcommand_has_help() {
    let _serial = serial();
    shaledb()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--hex"));
    for (cmd, expect) in [
        ("get", "Exits with status 1 if the key is absent"),
        ("put", "creating the database"),
        ("delete", "--sync"),
        ("scan", "--prefix"),
        ("stats", "levels table"),
        ("check", "checksum"),
        ("compact", "whole key space"),
        ("dump", "--entries"),
        ("bench", "--benchmarks"),
    ] {
        shaledb()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(expect));
    }
}
