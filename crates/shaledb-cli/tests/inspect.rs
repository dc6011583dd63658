//! `stats`, `check`, `compact` and `dump`, and the damaged and locked cases.

mod common;

use common::{db_with, files_ending, serial, shaledb, stdout_of};
use predicates::prelude::*;
use shaledb::{Db, Options};

fn numbered(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("key{i:05}").into_bytes(),
                format!("value-{i}-{}", "x".repeat(40)).into_bytes(),
            )
        })
        .collect()
}

/// A database with 2000 entries in one table.
fn table_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let entries = numbered(2000);
    let refs: Vec<(&[u8], &[u8])> = entries
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    db_with(&refs, true)
}

#[test]
fn stats_prints_the_report_and_numeric_properties() {
    let _serial = serial();
    let (_dir, db) = table_db();
    let out = shaledb().arg("stats").arg(&db).assert().success();
    let text = stdout_of(out.get_output());
    for name in [
        "shaledb.total-sst-size: ",
        "shaledb.live-sst-size: ",
        "shaledb.estimate-num-keys: ",
        "shaledb.live-data-size: ",
        "shaledb.num-files-at-level0: ",
        "shaledb.num-files-at-level6: ",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    assert!(text.contains("Write amplification"), "{text}");
}

#[test]
fn check_passes_on_a_healthy_database() {
    let _serial = serial();
    let (_dir, db) = table_db();
    shaledb()
        .arg("check")
        .arg(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("entries: ok"));
}

#[test]
fn compact_leaves_the_data_readable() {
    let _serial = serial();
    let (_dir, db) = table_db();
    shaledb()
        .arg("compact")
        .arg(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("before: files per level"))
        .stdout(predicate::str::contains("after:"));
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("key01234")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("value-1234-"));
    shaledb().arg("check").arg(&db).assert().success();
}

#[test]
fn dump_of_a_table_shows_properties_blocks_and_entries() {
    let _serial = serial();
    let (_dir, db) = table_db();
    let tables = files_ending(&db, ".sst");
    assert_eq!(tables.len(), 1, "{tables:?}");
    let out = shaledb().arg("dump").arg(&tables[0]).assert().success();
    let text = stdout_of(out.get_output());
    assert!(text.contains("file size: "), "{text}");
    assert!(text.contains("properties:"), "{text}");
    assert!(text.contains("data blocks: "), "{text}");
    assert!(text.contains("entries: 2000"), "{text}");
    assert!(
        !text.contains("key00000\t"),
        "entries only with --entries: {text}"
    );

    let out = shaledb()
        .arg("dump")
        .arg(&tables[0])
        .args(["--limit", "3"])
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    let entries: Vec<&str> = text.lines().filter(|l| l.starts_with("key")).collect();
    assert_eq!(entries.len(), 3, "{text}");
    assert!(entries[0].starts_with("key00000\t@"), "{text}");
    assert!(entries[0].contains("\tput\tvalue-0-"), "{text}");

    let out = shaledb()
        .arg("dump")
        .arg(&tables[0])
        .arg("--entries")
        .assert()
        .success();
    assert_eq!(
        stdout_of(out.get_output())
            .lines()
            .filter(|l| l.starts_with("key"))
            .count(),
        2000
    );
}

#[test]
fn dump_of_a_log_shows_its_records() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let dump_logs = || {
        let mut seen = String::new();
        for log in files_ending(&db, ".log") {
            let out = shaledb()
                .arg("dump")
                .arg(&log)
                .arg("--entries")
                .assert()
                .success();
            seen.push_str(&stdout_of(out.get_output()));
        }
        seen
    };
    shaledb()
        .arg("put")
        .arg(&db)
        .args(["k1", "v1"])
        .assert()
        .success();
    let seen = dump_logs();
    assert!(seen.contains("records: 1, entries: 1"), "{seen}");
    assert!(
        seen.contains("record at offset 0: sequence 1, 1 entries"),
        "{seen}"
    );
    assert!(seen.contains("k1\t@1\tput\tv1"), "{seen}");
    shaledb()
        .arg("delete")
        .arg(&db)
        .arg("k1")
        .assert()
        .success();
    assert!(dump_logs().contains("k1\t@2\tdel\t"), "{}", dump_logs());
}

/// Found by an audit: `dump LOG --limit 3` printed a header for every record of a
/// 40,000-record log after its three entries.
#[test]
fn dump_of_a_log_with_a_limit_stops_listing_records_there() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    {
        let handle = shaledb::Db::open(&db, shaledb::Options::default()).expect("open");
        for i in 0..50 {
            handle.put(format!("k{i:02}"), b"v").expect("put");
        }
        handle.close().expect("close");
    }
    let log = files_ending(&db, ".log").pop().expect("a log");
    let out = shaledb()
        .arg("dump")
        .arg(&log)
        .args(["--limit", "3"])
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    assert!(text.contains("records: 50, entries: 50"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("record at")).count(),
        3,
        "{text}"
    );
    assert!(text.contains("... 47 more records"), "{text}");
}

#[test]
fn dump_reports_a_damaged_log() {
    let _serial = serial();
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
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&log, bytes).expect("write log");
    shaledb()
        .arg("dump")
        .arg(&log)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is damaged at offset 0"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn dump_rejects_other_files_and_missing_ones() {
    let _serial = serial();
    let (_dir, db) = table_db();
    shaledb()
        .arg("dump")
        .arg(db.join("CURRENT"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "expected a table (.sst) or a log (.log)",
        ));
    shaledb()
        .arg("dump")
        .arg(db.join("999999.sst"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("No such file"));
}

#[test]
fn a_fifo_in_place_of_a_database_file_is_an_error_not_a_hang() {
    let _serial = serial();
    let (_dir, db) = table_db();
    let make_fifo = |path: &std::path::Path| {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    };
    let fifo_table = db.join("999999.sst");
    make_fifo(&fifo_table);
    shaledb()
        .arg("dump")
        .arg(&fifo_table)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("999999.sst: not a regular file"));
    std::fs::remove_file(&fifo_table).unwrap();
    make_fifo(&db.join("999999.log"));
    for args in [&["get", "key00001"][..], &["put", "k", "v"], &["check"]] {
        shaledb()
            .arg(args[0])
            .arg(&db)
            .args(&args[1..])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("999999.log: not a regular file"));
    }
}

/// Flips bytes in the middle of the first data block of every table.
fn corrupt_tables(db: &std::path::Path) {
    for table in files_ending(db, ".sst") {
        let mut bytes = std::fs::read(&table).expect("read table");
        for b in &mut bytes[20..60] {
            *b ^= 0x5a;
        }
        std::fs::write(&table, bytes).expect("write table");
    }
}

#[test]
fn check_fails_on_a_corrupt_table() {
    let _serial = serial();
    let (_dir, db) = table_db();
    corrupt_tables(&db);
    let out = shaledb().arg("check").arg(&db).assert().code(1);
    let output = out.get_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let all = format!("{}{stderr}", stdout_of(output));
    assert!(
        all.contains("damaged") || all.contains("corruption"),
        "{all}"
    );
}

/// `check` used to open the database normally, which set a damaged log tail aside in
/// `lost/` and then reported "ok". It now fails at the damage, and changes nothing.
#[test]
fn check_fails_on_a_torn_log_and_leaves_it_in_place() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    {
        let handle = Db::open(&db, Options::default()).expect("open");
        for i in 0..50 {
            handle.put(format!("k{i:02}"), b"v").expect("put");
        }
        handle.close().expect("close");
    }
    let log = files_ending(&db, ".log").pop().expect("a log");
    let torn = std::fs::metadata(&log).expect("log").len() - 3;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(torn))
        .expect("tear the log");
    shaledb()
        .arg("check")
        .arg(&db)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: "))
        .stderr(predicate::str::contains(".log is damaged at offset"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    assert_eq!(std::fs::metadata(&log).expect("log kept").len(), torn);
    assert!(!db.join("lost").exists(), "check set the log aside");
    // A normal open then keeps every record before the torn one.
    shaledb().arg("get").arg(&db).arg("k48").assert().success();
}

/// Found by an audit: one damaged block made `dump` print nothing but the error.
#[test]
fn dump_of_a_table_with_a_damaged_block_prints_the_rest_and_fails() {
    let _serial = serial();
    let (_dir, db) = table_db();
    corrupt_tables(&db);
    let table = files_ending(&db, ".sst").remove(0);
    let out = shaledb()
        .arg("dump")
        .arg("--entries")
        .arg(&table)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: "))
        .stderr(predicate::str::contains("1 damaged data block"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    let text = stdout_of(out.get_output());
    assert!(text.contains("properties:"), "{text}");
    let damaged: Vec<&str> = text.lines().filter(|l| l.contains("DAMAGED: ")).collect();
    assert_eq!(damaged.len(), 1, "{text}");
    assert!(damaged[0].contains("checksum"), "{}", damaged[0]);
    // The first block is the damaged one; the entries of the others are all printed.
    let printed = text.lines().filter(|l| l.contains("\t@")).count();
    let blocks: Vec<u64> = text
        .lines()
        .skip_while(|l| !l.starts_with("data blocks:"))
        .skip(2)
        .take_while(|l| !l.starts_with("entries:"))
        .map(|l| {
            l.split_whitespace()
                .nth(2)
                .expect("entries column")
                .parse()
                .expect("a count")
        })
        .collect();
    assert!(blocks.len() > 2, "{text}");
    assert_eq!(printed as u64, blocks.iter().sum::<u64>(), "{text}");
    assert!(printed > 1_000, "only {printed} entries printed");
}

#[test]
fn a_locked_database_is_reported_not_opened() {
    let _serial = serial();
    let (_dir, db) = table_db();
    let held = Db::open(&db, Options::default()).expect("open db in the test process");
    for cmd in [
        vec!["get", "key00001"],
        vec!["put", "k", "v"],
        vec!["scan"],
        vec!["stats"],
        vec!["check"],
        vec!["compact"],
    ] {
        shaledb()
            .arg(cmd[0])
            .arg(&db)
            .args(&cmd[1..])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("locked"))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    held.close().expect("close");
    shaledb()
        .arg("get")
        .arg(&db)
        .arg("key00001")
        .assert()
        .success();
}

#[test]
fn repair_recovers_a_corrupt_table_and_check_passes_after() {
    let _serial = serial();
    let (_dir, db) = table_db();
    corrupt_tables(&db);
    shaledb().arg("check").arg(&db).assert().code(1);
    shaledb()
        .arg("repair")
        .arg(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("salvaged 1"))
        .stdout(predicate::str::contains("moved to"));
    shaledb().arg("check").arg(&db).assert().success();
    assert!(db.join("lost").is_dir());
}

#[test]
fn repair_of_a_missing_directory_fails_cleanly() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    shaledb()
        .arg("repair")
        .arg(dir.path().join("nope"))
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: "));
}

/// Found by an audit: repair turned any directory into an empty database and reported
/// success, and called a plain file a missing directory.
#[test]
fn repair_refuses_a_directory_without_database_files_and_a_plain_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("notes.txt"), b"not a database").unwrap();
    shaledb()
        .arg("repair")
        .arg(&junk)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no database to repair"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    let mut left: Vec<_> = std::fs::read_dir(&junk)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    shaledb()
        .arg("repair")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a directory"));
}
