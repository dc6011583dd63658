//! SIGKILL mode: the child process running the workload, and the parent that
//! kills it and verifies what it recovers.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{CompactionStyle, Db};

use crate::common::{self, Model};
use crate::journal::{Event, FileJournal, Job, Journal, RoundLog};
use crate::kill_switch::{KillSwitch, KillSwitchFs};
use crate::oracle::{verify, Tally};
use crate::workload::{round_options, scan_all, workload_keys, Workload};

const CHILD_ENV: &str = "SHALEDB_TORTURE_CHILD";
const DIR_ENV: &str = "SHALEDB_TORTURE_DIR";
const JOURNAL_ENV: &str = "SHALEDB_TORTURE_JOURNAL";
const START_ENV: &str = "SHALEDB_TORTURE_START";
const ROUND_SEED_ENV: &str = "SHALEDB_TORTURE_ROUND_SEED";
const STYLE_ENV: &str = "SHALEDB_TORTURE_STYLE";
const KILL_AT_OP_ENV: &str = "SHALEDB_TORTURE_KILL_AT_OP";

/// A child that was never killed (its parent died, say) stops on its own.
const CHILD_MAX_LIFETIME: Duration = Duration::from_secs(120);

/// Kills the child if the parent panics before doing so itself.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn required_env(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("child: {name} is not set"))
}

pub(crate) fn style_name(style: CompactionStyle) -> &'static str {
    match style {
        CompactionStyle::Leveled => "leveled",
        CompactionStyle::Tiered => "tiered",
    }
}

/// In a child process, runs the workload and never returns.
pub(crate) fn child_if_asked() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let dir = PathBuf::from(required_env(DIR_ENV));
    let journal_path = PathBuf::from(required_env(JOURNAL_ENV));
    let start: u64 = required_env(START_ENV).parse().expect("child: bad start");
    let round_seed: u64 = required_env(ROUND_SEED_ENV)
        .parse()
        .expect("child: bad seed");
    let style = match required_env(STYLE_ENV).as_str() {
        "leveled" => CompactionStyle::Leveled,
        "tiered" => CompactionStyle::Tiered,
        other => panic!("child: bad style {other:?}"),
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .unwrap_or_else(|e| panic!("child: open {}: {e}", journal_path.display()));
    let mut journal = FileJournal(file);
    fn fail(journal: &mut FileJournal, msg: String) -> ! {
        journal.record(Event::Failure(msg.clone()));
        panic!("child: {msg}");
    }

    let mut options = round_options(style, round_seed);
    if let Ok(n) = env::var(KILL_AT_OP_ENV) {
        options.file_system = Arc::new(KillSwitch(Arc::new(KillSwitchFs {
            countdown: AtomicU64::new(n.parse().expect("child: bad operation count")),
            journal: journal_path.clone(),
        })));
    }
    let db = match Db::open(&dir, options) {
        Ok(db) => db,
        Err(e) => fail(&mut journal, format!("open: {e:?}")),
    };
    journal.record(Event::Opened);
    // The parent has checked this state against the oracle.
    let model = match scan_all(&db) {
        Ok(model) => model,
        Err(e) => fail(&mut journal, e),
    };
    let mut work = Workload::new(
        StdRng::seed_from_u64(round_seed),
        Arc::new(workload_keys()),
        model,
        start,
    );
    let deadline = Instant::now() + CHILD_MAX_LIFETIME;
    loop {
        if let Err(e) = work.step(&db, &mut journal) {
            fail(&mut journal, e.to_string());
        }
        if work.steps.is_multiple_of(256) && Instant::now() > deadline {
            eprintln!("child: not killed within {CHILD_MAX_LIFETIME:?}; exiting");
            std::process::exit(3);
        }
    }
}

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum KillPlan {
    /// After this delay from spawning.
    After(Duration),
    /// At the first flush or compaction that starts after this delay, then
    /// after a further pause of up to a few milliseconds.
    AtJob(Duration, Duration),
    /// This long after the child creates its journal, which it does just
    /// before `Db::open`: during recovery, which replays the logs, flushes
    /// them, writes a new manifest and switches `CURRENT` to it.
    InOpen(Duration),
    /// The child kills itself just before its n-th mutating file-system
    /// operation (counting from 1).
    AtFsOp(u64),
}

fn kill_plan(rng: &mut StdRng) -> KillPlan {
    let ms = |lo: u64, hi: u64, rng: &mut StdRng| Duration::from_millis(rng.random_range(lo..=hi));
    match rng.random_range(0..100) {
        0..=9 => KillPlan::InOpen(Duration::from_micros(rng.random_range(0..600))),
        // Recovery takes a few dozen operations: a log replayed and flushed, a
        // new manifest, CURRENT.tmp written, renamed and the directory synced.
        10..=24 => KillPlan::AtFsOp(rng.random_range(1..=30)),
        25..=34 => {
            // Log-uniform over 30 .. 20,000 operations.
            let f: f64 = rng.random_range(0.0..1.0);
            KillPlan::AtFsOp((30.0 * 666f64.powf(f)) as u64)
        }
        35..=54 => {
            let wait = ms(20, 400, rng);
            let pause = Duration::from_micros(rng.random_range(0..5_000));
            KillPlan::AtJob(wait, pause)
        }
        _ => {
            // Log-uniform over 40 ms .. 1 s.
            let f: f64 = rng.random_range(0.0..1.0);
            KillPlan::After(Duration::from_secs_f64(0.04 * 25f64.powf(f)))
        }
    }
}

/// Spins until `path` exists, or `limit` (recovery of a small database can
/// take well under a millisecond, below what `thread::sleep` resolves).
fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() && Instant::now() < deadline {
        thread::yield_now();
    }
}

/// Sleeps for `pause` by spinning, for sub-millisecond precision.
fn spin_for(pause: Duration) {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        thread::yield_now();
    }
}

/// Waits for the child to exit, up to `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the journal shows a flush or compaction starting, or `limit`.
fn wait_for_job(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut offset = 0u64;
    let mut carry = Vec::new();
    while Instant::now() < deadline {
        if let Ok(mut f) = File::open(path) {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let mut fresh = Vec::new();
                if f.read_to_end(&mut fresh).is_ok() {
                    offset += fresh.len() as u64;
                    carry.extend_from_slice(&fresh);
                    let end = carry.iter().rposition(|&b| b == b'\n').map_or(0, |e| e + 1);
                    let started = carry[..end]
                        .split(|&b| b == b'\n')
                        .any(|line| line.starts_with(b"F ") || line.starts_with(b"C "));
                    if started {
                        return;
                    }
                    carry.drain(..end);
                }
            }
        }
        thread::sleep(Duration::from_micros(500));
    }
}

pub(crate) fn run_sigkill(
    test: &str,
    style: CompactionStyle,
    rounds: usize,
    default_seed: u64,
) -> Tally {
    let seed = common::seed(&format!("{test}/{}", style_name(style)), default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let root = common::scratch_dir();
    let db_dir = root.path().join("db");
    let exe = env::current_exe().expect("current_exe");
    let keys = workload_keys();
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut base = Model::new();
    let mut start = 0u64;

    for round in 0..rounds {
        let round_seed: u64 = rng.random();
        let plan = kill_plan(&mut rng);
        let journal = root.path().join(format!("round-{round:05}.journal"));
        let mut command = Command::new(&exe);
        command
            .args([
                test,
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "--include-ignored",
            ])
            .env(CHILD_ENV, "1")
            .env(DIR_ENV, &db_dir)
            .env(JOURNAL_ENV, &journal)
            .env(START_ENV, start.to_string())
            .env(ROUND_SEED_ENV, round_seed.to_string())
            .env(STYLE_ENV, style_name(style))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let KillPlan::AtFsOp(n) = plan {
            command.env(KILL_AT_OP_ENV, n.to_string());
        }
        let mut child = ChildGuard(command.spawn().expect("spawn the child"));
        let exited = match plan {
            KillPlan::After(delay) => {
                thread::sleep(delay);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::InOpen(pause) => {
                wait_for_file(&journal, Duration::from_secs(5));
                spin_for(pause);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::AtJob(wait, pause) => {
                thread::sleep(wait);
                wait_for_job(&journal, Duration::from_secs(3));
                thread::sleep(pause);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::AtFsOp(_) => wait_for_exit(&mut child.0, Duration::from_secs(10)),
        };
        match exited {
            Some(status) if status.signal() == Some(9) => {}
            Some(status) => {
                let log = RoundLog::read(&journal, start);
                panic!(
                    "round {round}: the child exited on its own ({status}) before the kill; \
                     its failure: {:?} (round seed {round_seed}; see its stderr above)",
                    log.ok().and_then(|l| l.failure)
                );
            }
            None => {
                child.0.kill().expect("kill the child");
                child.0.wait().expect("wait for the child");
            }
        }
        tally.kills += 1;

        let log = RoundLog::read(&journal, start)
            .unwrap_or_else(|e| panic!("round {round}: bad journal: {e}"));
        if let Some(failure) = &log.failure {
            panic!(
                "round {round}: the child's self-check failed (round seed {round_seed}): {failure}"
            );
        }
        if !log.opened {
            tally.kills_in_open += 1;
        }
        if let Some(at) = &log.killed_at {
            *tally.kills_at_fs_op.entry(at.clone()).or_default() += 1;
        }
        match log.running {
            Some(Job::Flush) => tally.kills_in_flush += 1,
            Some(Job::Compaction) => tally.kills_in_compaction += 1,
            None => {}
        }

        // Everything acknowledged was handed to the kernel, which a SIGKILL
        // does not undo.
        let must_keep = log.acked.max(log.flushed);
        let db = Db::open(&db_dir, round_options(style, round_seed))
            .unwrap_or_else(|e| panic!("round {round}: reopening after SIGKILL failed: {e:?}"));
        let recovered = verify(&db, &base, &log, must_keep, &mut rng, &keys).unwrap_or_else(|e| {
            panic!(
                "round {round} ({plan:?}, round seed {round_seed}, {} compaction): {e}",
                style_name(style)
            )
        });
        db.close()
            .unwrap_or_else(|e| panic!("round {round}: close after verification: {e:?}"));
        tally.round(&log, recovered.prefix);
        eprintln!(
            "round {round}: {plan:?}: {} issued, {} acked, recovered {} of {} writes",
            log.writes.len(),
            log.acked - start,
            recovered.prefix - start,
            log.writes.len()
        );
        base = recovered.model;
        start = recovered.prefix;
        let _ = fs::remove_file(&journal);
    }
    tally.elapsed = began.elapsed();
    tally
}
