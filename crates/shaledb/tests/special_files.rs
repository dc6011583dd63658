//! Files in the database directory that are not regular files: a FIFO or a symlink to
//! a device under the name of a log, a table, `CURRENT`, `CURRENT.tmp` or `LOCK`. Every
//! call that would read or write one returns an error naming it, promptly: opening a
//! FIFO for reading waits for a writer, and `/dev/zero` never ends, so a plain `open`
//! would hang or fill memory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use shaledb::{Db, Error, Options};

/// Long enough for any of these calls on a tiny database; a hang fails the test.
const TIMEOUT: Duration = Duration::from_secs(20);

fn options() -> Options {
    Options {
        memtable_size: 4 << 10,
        disable_auto_compactions: true,
        ..Default::default()
    }
}

/// A closed database with a few tables and a log holding the last writes.
fn build(dir: &Path) {
    let db = Db::open(dir, options()).unwrap();
    for i in 0..300u32 {
        db.put(format!("key{i:05}"), vec![b'v'; 40]).unwrap();
    }
    db.flush().unwrap();
    db.put("in-the-log", "yes").unwrap();
    db.close().unwrap();
}

fn make_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn link_to_dev_zero(path: &Path) {
    let _ = std::fs::remove_file(path);
    std::os::unix::fs::symlink("/dev/zero", path).unwrap();
}

/// Runs `f` on another thread; fails the test if it does not return in time (the
/// thread is leaked) or panics.
fn within_timeout<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no answer in {TIMEOUT:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// The error must name `file` and say it is not a regular file.
fn assert_names(what: &str, err: &Error, file: &Path) {
    let message = err.to_string();
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(
        message.contains(name.as_ref()) && message.contains("not a regular file"),
        "{what}: the error should name {name} as not a regular file: {message}"
    );
}

fn newest_table(dir: &Path) -> PathBuf {
    let mut tables = common::files_with_extension(dir, "sst");
    tables.sort();
    tables.pop().expect("a table")
}

/// Replaces `name` in a fresh copy of a built database using `replace`, then checks
/// that opening it (read-write and read-only) and repairing it fail with an error
/// naming the file, and that the calls return.
fn check_open_fails(name: &str, replace: fn(&Path)) {
    let dir = common::scratch_dir();
    build(dir.path());
    let target = dir.path().join(name);
    replace(&target);
    let path = dir.path().to_path_buf();
    let (p, t) = (path.clone(), target.clone());
    let opened = within_timeout(&format!("open with {name} replaced"), move || {
        Db::open(&p, options()).map(|_| ())
    });
    assert_names(&format!("open with {name}"), &opened.unwrap_err(), &t);
    let p = path.clone();
    let opened = within_timeout(&format!("read-only open with {name} replaced"), move || {
        Db::open_read_only(&p, options()).map(|_| ())
    });
    assert_names(
        &format!("read-only open with {name}"),
        &opened.unwrap_err(),
        &target,
    );
}

#[test]
fn a_fifo_named_as_a_log_is_an_error_not_a_hang() {
    check_open_fails("000999.log", make_fifo);
}

#[test]
fn a_log_linked_to_dev_zero_is_an_error_not_endless_reading() {
    check_open_fails("000999.log", link_to_dev_zero);
}

#[test]
fn a_fifo_named_current_is_an_error_not_a_hang() {
    check_open_fails("CURRENT", make_fifo);
}

#[test]
fn a_fifo_named_current_tmp_is_an_error_or_removed_not_a_hang() {
    let dir = common::scratch_dir();
    build(dir.path());
    let tmp = dir.path().join("CURRENT.tmp");
    make_fifo(&tmp);
    let p = dir.path().to_path_buf();
    let opened = within_timeout("open with a FIFO as CURRENT.tmp", move || {
        Db::open(&p, options()).and_then(|db| {
            let got = db.get("in-the-log")?;
            db.close()?;
            Ok(got)
        })
    });
    match opened {
        Ok(got) => assert_eq!(got.as_deref(), Some(&b"yes"[..])),
        Err(e) => assert_names("open with CURRENT.tmp", &e, &tmp),
    }
}

#[test]
fn a_table_replaced_by_a_fifo_is_an_error_not_a_hang() {
    for replace in [make_fifo as fn(&Path), link_to_dev_zero] {
        let dir = common::scratch_dir();
        build(dir.path());
        let table = newest_table(dir.path());
        replace(&table);
        let p = dir.path().to_path_buf();
        let t = table.clone();
        let outcome = within_timeout("reads of a database whose table is a FIFO", move || {
            let db = match Db::open(&p, options()) {
                Ok(db) => db,
                Err(e) => return vec![e],
            };
            let mut errors = Vec::new();
            for i in 0..300u32 {
                if let Err(e) = db.get(format!("key{i:05}")) {
                    errors.push(e);
                    break;
                }
            }
            match db.verify() {
                Ok(report) => errors.extend(report.damaged),
                Err(e) => errors.push(e),
            }
            let _ = db.close();
            errors
        });
        assert!(
            !outcome.is_empty(),
            "reads of {} gave no error",
            t.display()
        );
        for e in &outcome {
            assert_names("reading a replaced table", e, &t);
        }
    }
}

#[test]
fn a_fifo_named_lock_is_an_error_for_a_read_only_open_not_a_hang() {
    let dir = common::scratch_dir();
    build(dir.path());
    let lock = dir.path().join("LOCK");
    make_fifo(&lock);
    let p = dir.path().to_path_buf();
    let opened = within_timeout("read-only open with a FIFO as LOCK", move || {
        Db::open_read_only(&p, options()).map(|_| ())
    });
    assert_names("read-only open with LOCK", &opened.unwrap_err(), &lock);
    let p = dir.path().to_path_buf();
    let opened = within_timeout("open with a FIFO as LOCK", move || {
        Db::open(&p, options()).map(|_| ())
    });
    assert_names("open with LOCK", &opened.unwrap_err(), &lock);
}

#[test]
fn repair_of_a_directory_with_a_fifo_log_returns() {
    let dir = common::scratch_dir();
    build(dir.path());
    let log = dir.path().join("000999.log");
    make_fifo(&log);
    let p = dir.path().to_path_buf();
    let repaired = within_timeout("repair with a FIFO log", move || {
        shaledb::repair(&p).map(|_| ())
    });
    if let Err(e) = repaired {
        assert_names("repair with a FIFO log", &e, &log);
    }
}
