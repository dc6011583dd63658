//! Crash-recovery test that SIGKILLs a real writer process.
//!
//! The test binary re-executes itself. When `SHALEDB_CRASH_CHILD` is set, the
//! test function is the *child*: it opens the db at `SHALEDB_CRASH_DIR` and
//! writes batches `i = SHALEDB_CRASH_START, START + 1, ...` forever. Batch `i`:
//!
//! * puts `k{i:08}` and `b{i:08}`, both with `value(i)`;
//! * puts `d{i:08}` with `value(i)` and deletes `d{i-3:08}` (written three
//!   batches earlier), so tombstones are exercised as well.
//!
//! Most batches are written with `sync: true`, the rest without (see
//! [`is_synced`]). After each write returns `Ok`, the child appends `i` to
//! the "acked" file (outside the db directory) and syncs it.
//!
//! The parent starts the child, kills it (SIGKILL) after a random 50–600 ms,
//! reopens the db and checks that:
//! * the recovered batches are exactly `0..n` (no holes, nothing extra);
//! * no batch is partial (`k`, `b` and `d` effects all there or all missing);
//! * every acked synced batch survived (`n` > its index), so only unsynced
//!   batches after the last synced one can be lost;
//! * nothing from earlier rounds was lost (`n` >= the round's start).
//!
//! The next round continues from the recovered `n`.
//!
//! Knobs: `SHALEDB_CRASH_ROUNDS` (default 8), `SHALEDB_SEED` (kill timings).
//! Long run: `cargo test -p shaledb --test crash -- --ignored`.

mod common;

use std::env;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{show, Entry};
use rand::Rng;
use shaledb::{Db, Options, WriteBatch, WriteOptions};

const CHILD_ENV: &str = "SHALEDB_CRASH_CHILD";
const DIR_ENV: &str = "SHALEDB_CRASH_DIR";
const ACKED_ENV: &str = "SHALEDB_CRASH_ACKED";
const START_ENV: &str = "SHALEDB_CRASH_START";

/// `d{i}` is deleted by batch `i + DELETE_LAG`.
const DELETE_LAG: u64 = 3;
/// A child that was never killed (e.g. its parent died) stops on its own.
const CHILD_MAX_LIFETIME: Duration = Duration::from_secs(60);

#[test]
fn crash_recovery_sigkill() {
    if env::var_os(CHILD_ENV).is_some() {
        child_main();
    }
    run_rounds("crash_recovery_sigkill", 8);
}

/// Run with `cargo test -p shaledb --test crash -- --ignored`.
#[test]
#[ignore = "long-running; run with `cargo test -p shaledb --test crash -- --ignored`"]
fn crash_recovery_sigkill_long() {
    if env::var_os(CHILD_ENV).is_some() {
        child_main();
    }
    run_rounds("crash_recovery_sigkill_long", 200);
}

// ---------------------------------------------------------------------------
// The workload (shared by child and parent)
// ---------------------------------------------------------------------------

fn options() -> Options {
    // Small enough that memtable flushes happen within a round.
    Options {
        memtable_size: 64 << 10,
        ..Default::default()
    }
}

fn k_key(i: u64) -> Vec<u8> {
    format!("k{i:08}").into_bytes()
}

fn b_key(i: u64) -> Vec<u8> {
    format!("b{i:08}").into_bytes()
}

fn d_key(i: u64) -> Vec<u8> {
    format!("d{i:08}").into_bytes()
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The value of batch `i`: self-describing, 16..1516 bytes long.
fn value(i: u64) -> Vec<u8> {
    let len = 16 + (mix(i) % 1500) as usize;
    let mut v = format!("value-{i:08}-").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

/// About 80% of batches are synced; the rest are not.
fn is_synced(i: u64) -> bool {
    mix(i ^ 0xA5A5_A5A5) % 10 < 8
}

fn batch_for(i: u64) -> WriteBatch {
    let v = value(i);
    let mut batch = WriteBatch::new();
    batch.put(k_key(i), &v);
    batch.put(b_key(i), &v);
    batch.put(d_key(i), &v);
    if i >= DELETE_LAG {
        batch.delete(d_key(i - DELETE_LAG));
    }
    batch
}

// ---------------------------------------------------------------------------
// Child
// ---------------------------------------------------------------------------

fn required_env(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("child: {name} is not set"))
}

fn child_main() -> ! {
    let dir = PathBuf::from(required_env(DIR_ENV));
    let acked_path = PathBuf::from(required_env(ACKED_ENV));
    let start: u64 = required_env(START_ENV)
        .parse()
        .expect("child: bad start counter");

    let db = Db::open(&dir, options())
        .unwrap_or_else(|e| panic!("child: open {}: {e:?}", dir.display()));
    let mut acked = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&acked_path)
        .unwrap_or_else(|e| panic!("child: open {}: {e}", acked_path.display()));

    let deadline = Instant::now() + CHILD_MAX_LIFETIME;
    for i in start.. {
        if Instant::now() > deadline {
            eprintln!("child: not killed within {CHILD_MAX_LIFETIME:?}; exiting");
            std::process::exit(3);
        }
        let opts = WriteOptions {
            sync: is_synced(i),
            ..Default::default()
        };
        if let Err(e) = db.write_opt(batch_for(i), &opts) {
            panic!("child: write of batch {i} failed: {e:?}");
        }
        // One write call per line, so a kill leaves at most a partial last line.
        acked
            .write_all(format!("{i}\n").as_bytes())
            .expect("child: append ack");
        acked.flush().expect("child: flush ack");
        acked.sync_data().expect("child: sync ack");
    }
    unreachable!("the batch counter overflowed")
}

// ---------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------

/// Kills the child if the parent panics before doing so itself.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_rounds(test_name: &str, default_rounds: usize) {
    let rounds = common::env_usize("SHALEDB_CRASH_ROUNDS", default_rounds);
    let mut rng = common::rng(test_name, 0xC0FF_EE00);
    let root = tempfile::tempdir().expect("create temp dir");
    let db_dir = root.path().join("db");
    let ack_dir = root.path().join("acks");
    fs::create_dir_all(&ack_dir).expect("create ack dir");
    let exe = env::current_exe().expect("current_exe");

    let started = Instant::now();
    let mut next: u64 = 0; // number of batches recovered so far == first batch of the next round
    let mut synced_acks = 0usize;

    for round in 0..rounds {
        let acked_path = ack_dir.join(format!("round-{round:04}.acked"));
        let child = Command::new(&exe)
            .args([
                test_name,
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "--include-ignored",
            ])
            .env(CHILD_ENV, "1")
            .env(DIR_ENV, &db_dir)
            .env(ACKED_ENV, &acked_path)
            .env(START_ENV, next.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child process");
        let mut child = ChildGuard(child);

        let delay = Duration::from_millis(rng.random_range(50..=600));
        thread::sleep(delay);
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            panic!("round {round}: the child exited on its own ({status}) before being killed; see its stderr above");
        }
        child.0.kill().expect("kill child");
        child.0.wait().expect("wait for child");

        let acked = read_acked(&acked_path, round, next);
        synced_acks += acked.iter().filter(|&&i| is_synced(i)).count();
        let recovered = verify_recovery(&db_dir, round, next, &acked);
        eprintln!(
            "round {round}: killed after {delay:?}; started at {next}, acked {}, recovered {recovered} batches",
            acked.len()
        );
        next = recovered;
    }

    assert!(
        synced_acks > 0,
        "no synced write was acknowledged in {rounds} rounds; the test checked nothing (is the child too slow to start?)"
    );
    eprintln!(
        "{rounds} rounds, {next} batches in the db, {:?} total",
        started.elapsed()
    );
}

/// The acknowledged batch numbers of one round, in order. A kill can land
/// mid-line, so only newline-terminated lines count.
fn read_acked(path: &Path, round: usize, start: u64) -> Vec<u64> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    let acked: Vec<u64> = complete
        .lines()
        .map(|line| {
            line.parse()
                .unwrap_or_else(|_| panic!("round {round}: bad ack line {line:?}"))
        })
        .collect();
    let expected: Vec<u64> = (start..start + acked.len() as u64).collect();
    assert_eq!(
        acked, expected,
        "round {round}: the child acknowledged batches out of order"
    );
    acked
}

fn scan_prefix(db: &Db, prefix: &[u8], round: usize) -> Vec<Entry> {
    db.prefix(prefix)
        .collect::<shaledb::Result<Vec<_>>>()
        .unwrap_or_else(|e| {
            panic!(
                "round {round}: scanning prefix {} failed: {e:?}",
                show(prefix)
            )
        })
}

/// Checks the recovered database and returns the number of batches in it.
fn verify_recovery(db_dir: &Path, round: usize, start: u64, acked: &[u64]) -> u64 {
    let db = Db::open(db_dir, options())
        .unwrap_or_else(|e| panic!("round {round}: reopening after SIGKILL failed: {e:?}"));

    // The k-keys must be exactly k0..k{n}: a prefix of the batch sequence.
    let ks = scan_prefix(&db, b"k", round);
    let n = ks.len() as u64;
    for (i, (key, val)) in (0u64..).zip(&ks) {
        if *key != k_key(i) {
            panic!(
                "round {round}: hole in the recovered batches: the {i}th k-key is {} (expected {}); {n} k-keys in total",
                show(key),
                show(&k_key(i))
            );
        }
        assert!(
            *val == value(i),
            "round {round}: wrong value for {}: {}",
            show(key),
            show(val)
        );
    }

    // Batches are atomic: the b-keys match the k-keys exactly ...
    let bs = scan_prefix(&db, b"b", round);
    let b_keys: Vec<Vec<u8>> = bs.iter().map(|(k, _)| k.clone()).collect();
    let want_b: Vec<Vec<u8>> = (0..n).map(b_key).collect();
    if b_keys != want_b {
        panic!(
            "round {round}: partial batch: {n} k-keys (k0..k{n}) but {} b-keys (first {:?}, last {:?})",
            b_keys.len(),
            b_keys.first().map(|k| show(k)),
            b_keys.last().map(|k| show(k))
        );
    }
    for (i, (key, val)) in (0u64..).zip(&bs) {
        assert!(
            *val == value(i),
            "round {round}: wrong value for {}: {}",
            show(key),
            show(val)
        );
    }

    // ... and so do the d-keys: after batches 0..n exactly the last
    // DELETE_LAG of them are alive; older ones were deleted.
    let ds = scan_prefix(&db, b"d", round);
    let want_d: Vec<Entry> = (n.saturating_sub(DELETE_LAG)..n)
        .map(|i| (d_key(i), value(i)))
        .collect();
    if ds != want_d {
        let got: Vec<String> = ds.iter().map(|(k, _)| show(k)).collect();
        let want: Vec<String> = want_d.iter().map(|(k, _)| show(k)).collect();
        panic!("round {round}: after {n} batches the live d-keys are {got:?}, expected {want:?} (or a value differs)");
    }

    // Durability: every batch acknowledged with sync=true survived, so only
    // unsynced batches after the last synced one may be missing.
    if let Some(last_synced) = acked.iter().copied().filter(|&i| is_synced(i)).max() {
        assert!(
            n > last_synced,
            "round {round}: batch {last_synced} was acknowledged with sync=true, but only batches 0..{n} survived"
        );
    }
    assert!(
        n >= start,
        "round {round}: batches from earlier rounds were lost: {n} recovered, {start} before"
    );
    // The child may have committed one batch after its last ack before dying.
    let attempted = acked.last().map_or(start, |&last| last + 1) + 1;
    assert!(
        n <= attempted,
        "round {round}: {n} batches recovered but at most {attempted} were ever written"
    );

    // Point reads agree with the scans: the newest batches (including the
    // round's own) and the first absent one.
    for i in start.saturating_sub(20)..n {
        for key in [k_key(i), b_key(i)] {
            let got = db.get(&key);
            if !matches!(&got, Ok(Some(v)) if *v == value(i)) {
                panic!(
                    "round {round}: get({}) = {}, expected the batch's value",
                    show(&key),
                    common::show_get(&got)
                );
            }
        }
    }
    for key in [k_key(n), b_key(n), d_key(n)] {
        let got = db.get(&key);
        assert!(
            matches!(got, Ok(None)),
            "round {round}: get({}) = {}, expected Ok(None)",
            show(&key),
            common::show_get(&got)
        );
    }
    if n > 0 {
        let last = db.prefix(b"k").next_back();
        let ok = matches!(&last, Some(Ok((k, _))) if *k == k_key(n - 1));
        assert!(
            ok,
            "round {round}: reverse scan of the k-keys did not start at {}",
            show(&k_key(n - 1))
        );
    }

    db.close()
        .unwrap_or_else(|e| panic!("round {round}: close after verification failed: {e:?}"));
    n
}
