//! The expected-state oracle: which prefix of the writes a recovered database
//! holds, and the run's totals.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::rngs::StdRng;
use shaledb::Db;

use crate::common::{self, show, show_opt, Model};
use crate::journal::{apply, Op, RoundLog, WriteDesc};
use crate::workload::scan_all;

/// The state a database was recovered to.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Number of writes (globally) the state reflects.
    pub(crate) prefix: u64,
    pub(crate) model: Model,
}

/// Finds the smallest `p >= must_keep` such that the database holds exactly
/// `base` with `writes[..p - start]` applied, where `writes` are numbered from
/// `start`. Keeps a running count of keys on which model and database differ,
/// so each write costs only its own keys.
pub(crate) fn find_prefix(
    db: &Db,
    base: &Model,
    start: u64,
    writes: &[WriteDesc],
    must_keep: u64,
) -> Result<Recovered, String> {
    let state = scan_all(db)?;
    let differs = |model: &Model, key: &[u8]| model.get(key) != state.get(key);
    let mut model = base.clone();
    let mut bad = model
        .keys()
        .chain(state.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| differs(&model, k))
        .count();
    let mut matches: Vec<u64> = Vec::new();
    let (mut fewest, mut fewest_at) = (bad, start);
    if bad == 0 {
        matches.push(start);
    }
    for w in writes {
        let touched: BTreeSet<&[u8]> = w.ops.iter().map(Op::key).collect();
        bad -= touched.iter().filter(|k| differs(&model, k)).count();
        apply(&mut model, w);
        bad += touched.iter().filter(|k| differs(&model, k)).count();
        if bad == 0 {
            matches.push(w.index + 1);
            if w.index + 1 >= must_keep {
                break;
            }
        }
        if bad < fewest {
            (fewest, fewest_at) = (bad, w.index + 1);
        }
    }
    let issued = start + writes.len() as u64;
    match matches.last() {
        Some(&p) if p >= must_keep => {
            let mut model = base.clone();
            for w in &writes[..usize::try_from(p - start).expect("fits")] {
                apply(&mut model, w);
            }
            Ok(Recovered { prefix: p, model })
        }
        Some(&p) => Err(format!(
            "durable writes lost: the database holds the state after {p} writes, but \
             {must_keep} were durable ({} writes issued, round started at {start}); lost \
             writes: {}",
            issued,
            describe_writes(&writes[usize::try_from(p - start).expect("fits")..]),
        )),
        None => {
            let mut model = base.clone();
            for w in &writes[..usize::try_from(fewest_at - start).expect("fits")] {
                apply(&mut model, w);
            }
            let diffs: Vec<String> = model
                .keys()
                .chain(state.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|k| differs(&model, k))
                .take(8)
                .map(|k| {
                    let last_write = writes
                        .iter()
                        .rev()
                        .find(|w| w.ops.iter().any(|op| op.key() == k.as_slice()))
                        .map_or("none this round".to_string(), |w| w.index.to_string());
                    format!(
                        "{}: db {} vs model {} (last written by write {last_write})",
                        show(k),
                        show_opt(state.get(k).map(Vec::as_slice)),
                        show_opt(model.get(k).map(Vec::as_slice)),
                    )
                })
                .collect();
            Err(format!(
                "no prefix of the writes matches the recovered database (a hole, a partial \
                 batch or a wrong value): round started at {start}, {issued} issued, durable \
                 point {must_keep}; closest is the state after {fewest_at} writes, with {fewest} \
                 keys differing: {}",
                diffs.join("; ")
            ))
        }
    }
}

fn describe_writes(writes: &[WriteDesc]) -> String {
    let mut parts: Vec<String> = writes
        .iter()
        .take(5)
        .map(|w| format!("#{} (sync {}, {} ops)", w.index, w.sync, w.ops.len()))
        .collect();
    if writes.len() > 5 {
        parts.push(format!("… {} in all", writes.len()));
    }
    parts.join(", ")
}

/// Finds the recovered prefix and checks the state with gets and full scans
/// in both directions; returns it, or a description of what is wrong.
pub(crate) fn verify(
    db: &Db,
    base: &Model,
    log: &RoundLog,
    must_keep: u64,
    rng: &mut StdRng,
    keys: &[Vec<u8>],
) -> Result<Recovered, String> {
    let recovered = find_prefix(db, base, log.start, &log.writes, must_keep)?;
    let absent = common::absent_keys(rng, &recovered.model, keys, 100);
    common::check_view(db, &recovered.model, &absent)
        .map_err(|e| format!("after recovering {} writes: {e}", recovered.prefix))?;
    Ok(recovered)
}

// ---------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) rounds: u64,
    pub(crate) kills: u64,
    pub(crate) kills_in_open: u64,
    pub(crate) kills_in_flush: u64,
    pub(crate) kills_in_compaction: u64,
    /// Kills the child dealt itself, by file-system operation and file kind.
    pub(crate) kills_at_fs_op: BTreeMap<String, u64>,
    pub(crate) power_losses: u64,
    pub(crate) torn: u64,
    pub(crate) crashes_in_open: u64,
    pub(crate) issued: u64,
    pub(crate) acked: u64,
    pub(crate) synced_acked: u64,
    /// Writes found in recovered states (the sum of each round's prefix growth).
    pub(crate) verified: u64,
    /// Acknowledged but unsynced writes a power loss took (allowed).
    pub(crate) unsynced_lost: u64,
    /// Acknowledged synced writes lost: must stay 0 (the run fails first).
    pub(crate) synced_lost: u64,
    pub(crate) elapsed: Duration,
}

impl Tally {
    pub(crate) fn round(&mut self, log: &RoundLog, prefix: u64) {
        self.rounds += 1;
        self.issued += log.writes.len() as u64;
        self.acked += log.acked - log.start;
        self.synced_acked += log.writes[..usize::try_from(log.acked - log.start).expect("fits")]
            .iter()
            .filter(|w| w.sync)
            .count() as u64;
        self.verified += prefix - log.start;
        self.unsynced_lost += log.acked.saturating_sub(prefix);
        self.synced_lost += log.synced.saturating_sub(prefix);
    }

    pub(crate) fn add(&mut self, o: &Tally) {
        self.rounds += o.rounds;
        self.kills += o.kills;
        self.kills_in_open += o.kills_in_open;
        self.kills_in_flush += o.kills_in_flush;
        self.kills_in_compaction += o.kills_in_compaction;
        for (at, n) in &o.kills_at_fs_op {
            *self.kills_at_fs_op.entry(at.clone()).or_default() += n;
        }
        self.power_losses += o.power_losses;
        self.torn += o.torn;
        self.crashes_in_open += o.crashes_in_open;
        self.issued += o.issued;
        self.acked += o.acked;
        self.synced_acked += o.synced_acked;
        self.verified += o.verified;
        self.unsynced_lost += o.unsynced_lost;
        self.synced_lost += o.synced_lost;
        self.elapsed += o.elapsed;
    }

    /// Prints the summary line and fails a run that checked nothing.
    pub(crate) fn finish(&self, test: &str) {
        let mut line = format!("[{test}] summary: {} rounds", self.rounds);
        if self.kills > 0 {
            let at_ops: Vec<String> = self
                .kills_at_fs_op
                .iter()
                .map(|(at, n)| format!("{n} at {at}"))
                .collect();
            line += &format!(
                ", {} kills ({} in open/recovery, {} in flush, {} in compact_range; {} at \
                 file-system operations: {})",
                self.kills,
                self.kills_in_open,
                self.kills_in_flush,
                self.kills_in_compaction,
                self.kills_at_fs_op.values().sum::<u64>(),
                at_ops.join(", ")
            );
        }
        if self.power_losses > 0 {
            line += &format!(
                ", {} power losses ({} torn, {} more during recovery)",
                self.power_losses + self.crashes_in_open,
                self.torn,
                self.crashes_in_open
            );
        }
        line += &format!(
            ", {} writes issued, {} acked ({} synced), {} writes verified",
            self.issued, self.acked, self.synced_acked, self.verified
        );
        if self.power_losses > 0 {
            line += &format!(
                ", {} unsynced acked writes lost (allowed)",
                self.unsynced_lost
            );
        }
        line += &format!(
            ", {} synced writes lost (must be 0), {:.1?}",
            self.synced_lost, self.elapsed
        );
        eprintln!("{line}");
        assert_eq!(self.synced_lost, 0, "synced writes were lost");
        assert!(self.rounds > 0, "no round ran");
        assert!(
            self.verified > 0 && self.synced_acked > 0,
            "the run verified nothing: {} writes verified, {} synced acks",
            self.verified,
            self.synced_acked
        );
    }
}
