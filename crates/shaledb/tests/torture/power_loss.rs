//! Power-loss mode: the workload in-process on `FaultInjectionFs`, frozen by a
//! timer or after a number of steps, then `power_loss`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::fs::FaultInjectionFs;
use shaledb::{CompactionStyle, Db};

use crate::common::{self, Model};
use crate::journal::RoundLog;
use crate::oracle::{verify, Tally};
use crate::sigkill::style_name;
use crate::workload::{round_options, workload_keys, StepError, Workload};

/// A round that somehow never crashes is crashed after this many steps.
const MAX_STEPS_PER_ROUND: u64 = 200_000;

/// Freezes the disk after a delay unless cancelled first.
struct CrashTimer {
    cancel: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl CrashTimer {
    fn start(fs: FaultInjectionFs, crashed: Arc<AtomicBool>, delay: Duration) -> Self {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(delay) {
                // The flag first, so an error seen after the freeze always finds it set.
                crashed.store(true, Ordering::SeqCst);
                fs.crash();
            }
        });
        CrashTimer { cancel, thread }
    }

    fn stop(self) {
        let _ = self.cancel.send(());
        self.thread.join().expect("crash timer thread");
    }
}

pub(crate) fn run_power_loss(
    test: &str,
    style: CompactionStyle,
    rounds: usize,
    default_seed: u64,
) -> Tally {
    let seed = common::seed(&format!("{test}/{}", style_name(style)), default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = common::scratch_dir();
    let fs = FaultInjectionFs::new();
    let keys = Arc::new(workload_keys());
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut base = Model::new();
    let mut start = 0u64;
    let mut pending: Option<RoundLog> = None;

    // A third of the losses drop every unsynced byte, a third keep a random prefix of
    // each file's unsynced bytes, and a third keep whole appends (a log then often
    // ends cleanly between records).
    let power_loss = |tally: &mut Tally, rng: &mut StdRng| {
        let seed = rng.random();
        let mode = rng.random_range(0..3);
        tally.torn += u64::from(mode > 0);
        let lost = match mode {
            0 => fs.power_loss(None),
            1 => fs.power_loss(Some(seed)),
            _ => fs.power_loss_between_appends(seed),
        };
        lost.expect("simulate power loss");
    };

    for round in 0..=rounds {
        let round_seed: u64 = rng.random();
        let mut opts = round_options(style, round_seed);
        opts.file_system = Arc::new(fs.clone());

        // Reopen; now and then the power fails again during recovery.
        let db = loop {
            let crashed = Arc::new(AtomicBool::new(false));
            let timer = (round > 0 && rng.random_bool(0.15)).then(|| {
                let delay = Duration::from_micros(rng.random_range(0..20_000));
                CrashTimer::start(fs.clone(), crashed.clone(), delay)
            });
            let opened = Db::open(dir.path(), opts.clone());
            if let Some(timer) = timer {
                timer.stop();
            }
            match (opened, crashed.load(Ordering::SeqCst)) {
                (Ok(db), false) => break db,
                (opened, true) => {
                    drop(opened);
                    tally.crashes_in_open += 1;
                    power_loss(&mut tally, &mut rng);
                }
                (Err(e), false) => {
                    panic!("round {round} (seed {seed}): open after power loss failed: {e:?}")
                }
            }
        };

        if let Some(log) = pending.take() {
            let must_keep = log.synced.max(log.flushed);
            let recovered =
                verify(&db, &base, &log, must_keep, &mut rng, &keys).unwrap_or_else(|e| {
                    panic!(
                        "round {} (seed {seed}, round seed {round_seed}, {} compaction): {e}",
                        round - 1,
                        style_name(style)
                    )
                });
            tally.round(&log, recovered.prefix);
            eprintln!(
                "power loss {}: {} issued, {} acked, durable through {}, recovered {}",
                round - 1,
                log.writes.len(),
                log.acked - log.start,
                log.synced.max(log.flushed) - log.start,
                recovered.prefix - log.start
            );
            base = recovered.model;
            start = recovered.prefix;
        }
        if round == rounds {
            db.close().expect("final close");
            break;
        }

        // Run the workload until the power fails: after a random number of
        // steps, or when a timer fires in the middle of whatever is running.
        let crashed = Arc::new(AtomicBool::new(false));
        let (timer, crash_after_steps) = if rng.random_bool(0.5) {
            let delay = Duration::from_micros(rng.random_range(1_000..400_000));
            let timer = CrashTimer::start(fs.clone(), crashed.clone(), delay);
            (Some(timer), MAX_STEPS_PER_ROUND)
        } else {
            (None, rng.random_range(0..4000))
        };
        let mut log = RoundLog::new(start);
        let mut work = Workload::new(
            StdRng::seed_from_u64(round_seed),
            keys.clone(),
            base.clone(),
            start,
        );
        while !crashed.load(Ordering::SeqCst) {
            if work.steps >= crash_after_steps {
                crashed.store(true, Ordering::SeqCst);
                fs.crash();
                break;
            }
            match work.step(&db, &mut log) {
                Ok(()) => {}
                Err(StepError::Db(..)) if crashed.load(Ordering::SeqCst) => break,
                Err(e) => panic!(
                    "round {round} (seed {seed}, round seed {round_seed}), step {}: {e}",
                    work.steps
                ),
            }
        }
        if let Some(timer) = timer {
            timer.stop();
        }
        drop(work);
        drop(db);
        tally.power_losses += 1;
        power_loss(&mut tally, &mut rng);
        pending = Some(log);
    }
    tally.elapsed = began.elapsed();
    tally
}
