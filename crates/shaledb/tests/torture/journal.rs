//! The oracle's journal: writes as the workload issues them, acks, and the
//! start and end of explicit flushes and compactions; one text line each.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use shaledb::WriteBatch;

use crate::common::Model;

/// One operation of a write; a put's value is `value_of(write, op, len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Put(Vec<u8>, usize),
    Delete(Vec<u8>),
}

impl Op {
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
        }
    }
}

/// One write as the journal records it: the global write number, whether it
/// was synced, and its operations in order (one for a plain put or delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteDesc {
    pub(crate) index: u64,
    pub(crate) sync: bool,
    pub(crate) ops: Vec<Op>,
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The value op `op` of write `index` puts: it starts with `"{index}.{op};"`
/// (so a wrong value names the write it came from) and continues with bytes
/// derived from both; `len` cuts it (so very short values may repeat).
pub(crate) fn value_of(index: u64, op: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{index}.{op};").into_bytes();
    let mut x = mix(index.rotate_left(17) ^ op as u64);
    while v.len() < len {
        x = mix(x);
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Applies `w` to `model`.
pub(crate) fn apply(model: &mut Model, w: &WriteDesc) {
    for (j, op) in w.ops.iter().enumerate() {
        match op {
            Op::Put(k, len) => {
                model.insert(k.clone(), value_of(w.index, j, *len));
            }
            Op::Delete(k) => {
                model.remove(k);
            }
        }
    }
}

pub(crate) fn batch_of(w: &WriteDesc) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (j, op) in w.ops.iter().enumerate() {
        match op {
            Op::Put(k, len) => batch.put(k, value_of(w.index, j, *len)),
            Op::Delete(k) => batch.delete(k),
        };
    }
    batch
}

// ---------------------------------------------------------------------------
// The journal
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    Flush,
    Compaction,
}

/// What the workload tells the oracle.
#[derive(Debug)]
pub(crate) enum Event {
    /// The database is open (SIGKILL mode: recovery is over).
    Opened,
    /// Write `index` is about to be issued.
    Issue(WriteDesc),
    /// Write `index` returned `Ok`.
    Ack(u64),
    /// A `flush` or `compact_range` starts, with this many writes acknowledged.
    Begin(Job, u64),
    /// ... and returned `Ok`: those writes are now in synced tables.
    Done(Job, u64),
    /// A self-check of the workload failed (the child then panics).
    Failure(String),
    /// The child is about to SIGKILL itself at this file-system operation.
    Killing(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("hex {s:?}: {e}")))
        .collect()
}

impl Event {
    /// One journal line, newline included. Format:
    /// `O` | `W <index> <0|1> <op>...` with op `P<hex key>:<len>` or `D<hex key>` |
    /// `A <index>` | `F <acked>` / `f <acked>` (flush start / done) |
    /// `C <acked>` / `c <acked>` (compaction start / done) | `E <message>` |
    /// `K <operation> <file kind>`.
    pub(crate) fn to_line(&self) -> String {
        match self {
            Event::Opened => "O\n".to_string(),
            Event::Issue(w) => {
                let mut line = format!("W {} {}", w.index, u8::from(w.sync));
                for op in &w.ops {
                    match op {
                        Op::Put(k, len) => line.push_str(&format!(" P{}:{len}", hex(k))),
                        Op::Delete(k) => line.push_str(&format!(" D{}", hex(k))),
                    }
                }
                line.push('\n');
                line
            }
            Event::Ack(i) => format!("A {i}\n"),
            Event::Begin(Job::Flush, n) => format!("F {n}\n"),
            Event::Done(Job::Flush, n) => format!("f {n}\n"),
            Event::Begin(Job::Compaction, n) => format!("C {n}\n"),
            Event::Done(Job::Compaction, n) => format!("c {n}\n"),
            Event::Failure(msg) => format!("E {}\n", msg.replace('\n', " | ")),
            Event::Killing(at) => format!("K {at}\n"),
        }
    }

    fn parse(line: &str) -> Result<Event, String> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number = |s: &str| {
            s.parse::<u64>()
                .map_err(|e| format!("bad number {s:?}: {e}"))
        };
        Ok(match tag {
            "O" => Event::Opened,
            "A" => Event::Ack(number(rest)?),
            "F" => Event::Begin(Job::Flush, number(rest)?),
            "f" => Event::Done(Job::Flush, number(rest)?),
            "C" => Event::Begin(Job::Compaction, number(rest)?),
            "c" => Event::Done(Job::Compaction, number(rest)?),
            "E" => Event::Failure(rest.to_string()),
            "K" => Event::Killing(rest.to_string()),
            "W" => {
                let mut fields = rest.split(' ');
                let index = number(fields.next().unwrap_or(""))?;
                let sync = match fields.next() {
                    Some("0") => false,
                    Some("1") => true,
                    other => return Err(format!("bad sync flag {other:?}")),
                };
                let ops = fields
                    .map(|f| {
                        if let Some(put) = f.strip_prefix('P') {
                            let (k, len) = put
                                .split_once(':')
                                .ok_or_else(|| format!("bad put {f:?}"))?;
                            let len = usize::try_from(number(len)?)
                                .map_err(|e| format!("bad length in {f:?}: {e}"))?;
                            Ok(Op::Put(unhex(k)?, len))
                        } else if let Some(k) = f.strip_prefix('D') {
                            Ok(Op::Delete(unhex(k)?))
                        } else {
                            Err(format!("bad op {f:?}"))
                        }
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Event::Issue(WriteDesc { index, sync, ops })
            }
            _ => return Err(format!("unknown journal line {line:?}")),
        })
    }
}

/// Where the workload reports to.
pub(crate) trait Journal {
    fn record(&mut self, event: Event);
}

/// The SIGKILL-mode journal: one `write(2)` per line, unbuffered, so a kill
/// leaves at most one partial line at the end (and even that only if the
/// kernel splits the write).
pub(crate) struct FileJournal(pub(crate) File);

impl Journal for FileJournal {
    fn record(&mut self, event: Event) {
        self.0
            .write_all(event.to_line().as_bytes())
            .expect("child: append to the journal");
    }
}

/// One round as the journal tells it, checked for internal consistency.
#[derive(Debug)]
pub(crate) struct RoundLog {
    pub(crate) start: u64,
    pub(crate) opened: bool,
    /// Issued writes, numbered `start..`.
    pub(crate) writes: Vec<WriteDesc>,
    /// Writes `..acked` were acknowledged.
    pub(crate) acked: u64,
    /// Writes `..synced` are durable through a synced acknowledged write.
    pub(crate) synced: u64,
    /// Writes `..flushed` are durable through a completed flush or compaction.
    pub(crate) flushed: u64,
    /// A flush or compaction that started and had not returned.
    pub(crate) running: Option<Job>,
    pub(crate) failure: Option<String>,
    /// The file-system operation the child killed itself at.
    pub(crate) killed_at: Option<String>,
}

impl RoundLog {
    pub(crate) fn new(start: u64) -> Self {
        RoundLog {
            start,
            opened: false,
            writes: Vec::new(),
            acked: start,
            synced: start,
            flushed: start,
            running: None,
            failure: None,
            killed_at: None,
        }
    }

    pub(crate) fn issued(&self) -> u64 {
        self.start + self.writes.len() as u64
    }

    pub(crate) fn apply(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Opened => self.opened = true,
            Event::Issue(w) => {
                if w.index != self.issued() || self.acked != self.issued() {
                    return Err(format!(
                        "write {} issued after {} issued and {} acked",
                        w.index,
                        self.issued(),
                        self.acked
                    ));
                }
                self.writes.push(w);
            }
            Event::Ack(i) => {
                if i != self.acked || i >= self.issued() {
                    return Err(format!("ack of {i}, expected {}", self.acked));
                }
                self.acked = i + 1;
                if self.writes[usize::try_from(i - self.start).expect("fits")].sync {
                    self.synced = i + 1;
                }
            }
            Event::Begin(job, _) => self.running = Some(job),
            Event::Done(job, n) => {
                if self.running != Some(job) || n > self.acked {
                    return Err(format!("{job:?} done at {n} without a start"));
                }
                self.running = None;
                self.flushed = self.flushed.max(n);
            }
            Event::Failure(msg) => self.failure = Some(msg),
            Event::Killing(at) => self.killed_at = Some(at),
        }
        Ok(())
    }

    /// Parses a journal file; only newline-terminated lines count.
    pub(crate) fn read(path: &Path, start: u64) -> Result<RoundLog, String> {
        let mut log = RoundLog::new(start);
        let text = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(log),
            Err(e) => return Err(format!("read {}: {e}", path.display())),
        };
        let complete = match text.iter().rposition(|&b| b == b'\n') {
            Some(end) => &text[..=end],
            None => &[][..],
        };
        let complete = std::str::from_utf8(complete).map_err(|e| format!("journal: {e}"))?;
        for (n, line) in complete.lines().enumerate() {
            let event = Event::parse(line).map_err(|e| format!("journal line {}: {e}", n + 1))?;
            log.apply(event)
                .map_err(|e| format!("journal line {}: {e}", n + 1))?;
        }
        Ok(log)
    }
}

impl Journal for RoundLog {
    fn record(&mut self, event: Event) {
        if let Err(e) = self.apply(event) {
            panic!("the workload broke its own journal: {e}");
        }
    }
}
