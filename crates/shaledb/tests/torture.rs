//! Crash torture in the manner of RocksDB's `db_crashtest`: a long randomized
//! workload is stopped dead at random moments, and an expected-state oracle
//! checks that what the database recovers is exactly the state after some
//! prefix of the writes, with nothing acknowledged as durable missing.
//!
//! Two ways to stop the workload:
//!
//! * **SIGKILL.** The test binary re-executes itself as a child process (as
//!   `tests/crash.rs` does) that runs the workload against a real directory.
//!   The parent kills it with SIGKILL after a random delay (a few ms, which
//!   lands in process start-up and recovery, where a new manifest is written
//!   and `CURRENT` switched; up to about a second, which lands among memtable
//!   switches, background flushes and compactions), or right after the child
//!   announces an explicit `flush` or `compact_range`. Timers from outside
//!   rarely land inside a sub-millisecond recovery, so in a third of the
//!   rounds the child kills itself with SIGKILL just before its n-th
//!   file-system operation (create, append, flush, sync, rename, remove or
//!   directory sync, through a wrapper on the file-system seam), which puts
//!   kills between any two steps of a flush, a compaction or a manifest switch.
//! * **Simulated power loss.** In-process, through `FaultInjectionFs`: a timer
//!   thread (or the workload itself, after a random number of steps) freezes
//!   the disk, the database is dropped and `power_loss` throws away everything
//!   not synced, or keeps a random prefix of each file's unsynced bytes, or a
//!   random number of its unsynced appends, whole. Now and then the
//!   power also fails while the next `open` is still recovering.
//!
//! The oracle is a journal. Before write `i` is issued the workload records
//! its full description (every key, and for each a put of a value that is a
//! pure function of `(i, op, length)`, see [`value_of`], or a delete); after
//! the write returns `Ok` it records an ack. Explicit flushes and compactions
//! are recorded when they start and when they finish. In the SIGKILL mode the
//! journal is a file outside the database directory, appended one line per
//! `write(2)`, so it survives the kill (the kernel keeps what was written);
//! in the power-loss mode it is kept in memory.
//!
//! After every stop the database is reopened and its whole contents read.
//! Starting from the state the previous round recovered, the checker applies
//! the round's writes one at a time, keeping count of the keys on which the
//! model and the database differ, and accepts the smallest prefix `p` where
//! the count is zero and `p` is at least the durable point: the last
//! acknowledged write for SIGKILL (an acknowledged write was handed to the
//! kernel, see `WriteOptions::sync`), and the last acknowledged *synced* write
//! or completed `flush`/`compact_range` for power loss. A lost write, a hole
//! or a partial batch leaves no such `p` and fails the test with the keys that
//! differ. Gets of every model key and full scans in both directions then
//! check the same state, and the next round continues from it.
//!
//! While it runs, the workload also checks itself against the model: gets,
//! range scans forward, backward and alternating ends over random ranges,
//! reads from snapshots taken earlier, and full checks now and then.
//!
//! Every run prints its seed; `SHALEDB_SEED=<seed>` replays the same workload
//! and the same kill or crash schedule (the exact instruction a SIGKILL or a
//! timer lands on still depends on the machine).
//!
//! Neither a SIGKILL nor a simulated power loss needs the disk to be durable,
//! so the databases live in RAM (`/dev/shm`) when it exists, where an fsync
//! costs nothing and rounds get through far more work;
//! `SHALEDB_TEST_TMPDIR=<dir>` puts them elsewhere (a real disk, say).
//!
//! Long forms (`SHALEDB_TORTURE_ROUNDS`, default 1000, counts kills or power
//! losses; half the rounds use leveled and half tiered compaction):
//!
//! ```text
//! SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_sigkill_long
//! SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_power_loss_long
//! ```
//!
//! The pieces live in `tests/torture/`: `journal.rs` (writes, their values and
//! the journal format), `workload.rs` (the random workload and its self-checks),
//! `oracle.rs` (finding the recovered prefix; the totals), `sigkill.rs` (child
//! and parent), `kill_switch.rs` (the self-killing file system) and
//! `power_loss.rs`.

mod common;
#[path = "torture/journal.rs"]
mod journal;
#[path = "torture/kill_switch.rs"]
mod kill_switch;
#[path = "torture/oracle.rs"]
mod oracle;
#[path = "torture/power_loss.rs"]
mod power_loss;
#[path = "torture/sigkill.rs"]
mod sigkill;
#[path = "torture/workload.rs"]
mod workload;

use common::Model;
use journal::{value_of, Op, WriteDesc};
use oracle::find_prefix;
use power_loss::run_power_loss;
use shaledb::{CompactionStyle, Db, Options};
use sigkill::{child_if_asked, run_sigkill};

const ROUNDS_ENV: &str = "SHALEDB_TORTURE_ROUNDS";

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn torture_sigkill_leveled() {
    child_if_asked();
    let tally = run_sigkill(
        "torture_sigkill_leveled",
        CompactionStyle::Leveled,
        8,
        0x70A7_0001,
    );
    tally.finish("torture_sigkill_leveled");
}

#[test]
fn torture_sigkill_tiered() {
    child_if_asked();
    let tally = run_sigkill(
        "torture_sigkill_tiered",
        CompactionStyle::Tiered,
        8,
        0x70A7_0002,
    );
    tally.finish("torture_sigkill_tiered");
}

#[test]
fn torture_power_loss_leveled() {
    let tally = run_power_loss(
        "torture_power_loss_leveled",
        CompactionStyle::Leveled,
        12,
        0x70A7_0003,
    );
    tally.finish("torture_power_loss_leveled");
}

#[test]
fn torture_power_loss_tiered() {
    let tally = run_power_loss(
        "torture_power_loss_tiered",
        CompactionStyle::Tiered,
        12,
        0x70A7_0004,
    );
    tally.finish("torture_power_loss_tiered");
}

/// `SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_sigkill_long`
#[test]
#[ignore = "long-running; see the file header for the command"]
fn torture_sigkill_long() {
    child_if_asked();
    let name = "torture_sigkill_long";
    let rounds = common::env_usize(ROUNDS_ENV, 1000);
    let mut tally = run_sigkill(
        name,
        CompactionStyle::Leveled,
        rounds.div_ceil(2),
        0x70A7_0011,
    );
    tally.add(&run_sigkill(
        name,
        CompactionStyle::Tiered,
        rounds / 2,
        0x70A7_0012,
    ));
    tally.finish(name);
}

/// `SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_power_loss_long`
#[test]
#[ignore = "long-running; see the file header for the command"]
fn torture_power_loss_long() {
    let name = "torture_power_loss_long";
    let rounds = common::env_usize(ROUNDS_ENV, 1000);
    let mut tally = run_power_loss(
        name,
        CompactionStyle::Leveled,
        rounds.div_ceil(2),
        0x70A7_0013,
    );
    tally.add(&run_power_loss(
        name,
        CompactionStyle::Tiered,
        rounds / 2,
        0x70A7_0014,
    ));
    tally.finish(name);
}

/// The checker itself must reject what it exists to catch: a hole, a partial
/// batch, a lost durable write and a write that was never issued.
#[test]
fn oracle_rejects_states_that_are_not_a_prefix() {
    let writes = [
        WriteDesc {
            index: 0,
            sync: true,
            ops: vec![Op::Put(b"a".to_vec(), 10), Op::Put(b"b".to_vec(), 10)],
        },
        WriteDesc {
            index: 1,
            sync: false,
            ops: vec![Op::Put(b"c".to_vec(), 10)],
        },
        WriteDesc {
            index: 2,
            sync: false,
            ops: vec![Op::Delete(b"a".to_vec()), Op::Put(b"d".to_vec(), 0)],
        },
    ];
    let check = |applied: &[(u64, usize)], deleted: &[&[u8]], issued: usize, must_keep: u64| {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), Options::default()).expect("open");
        for &(index, op) in applied {
            let w = &writes[usize::try_from(index).expect("small index")];
            if let Op::Put(key, len) = &w.ops[op] {
                db.put(key, value_of(index, op, *len)).expect("put");
            }
        }
        for key in deleted {
            db.delete(key).expect("delete");
        }
        find_prefix(&db, &Model::new(), 0, &writes[..issued], must_keep)
    };

    // Valid: writes 0 and 1 (durable point 1).
    let ok = check(&[(0, 0), (0, 1), (1, 0)], &[], 3, 1).expect("a true prefix is accepted");
    assert_eq!(ok.prefix, 2);
    // Valid: all three (the delete of `a` shows as an absent key).
    let ok = check(&[(0, 1), (1, 0), (2, 1)], &[], 3, 1).expect("the full history");
    assert_eq!(ok.prefix, 3);
    // A hole: write 2 without write 1.
    let err = check(&[(0, 1), (2, 1)], &[], 3, 0).expect_err("a hole");
    assert!(err.contains("no prefix"), "{err}");
    // A partial batch: only half of write 0.
    let err = check(&[(0, 0)], &[], 3, 0).expect_err("a partial batch");
    assert!(err.contains("no prefix"), "{err}");
    // A lost durable write: only write 0 survived, but 2 were durable.
    let err = check(&[(0, 0), (0, 1)], &[], 3, 2).expect_err("a lost write");
    assert!(err.contains("lost"), "{err}");
    // A write that was never issued: write 2 is there but only 2 were issued.
    let err = check(&[(0, 1), (1, 0), (2, 1)], &[], 2, 0).expect_err("an unissued write");
    assert!(err.contains("no prefix"), "{err}");
    // A key nobody wrote.
    let err = check(&[(0, 0), (0, 1)], &[b"zz"], 3, 0);
    assert!(
        err.is_ok(),
        "deleting an absent key changes nothing: {err:?}"
    );
}
