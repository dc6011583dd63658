//! Repair: rebuilds a database's manifest from the tables and logs that survive, in
//! the manner of LevelDB's `RepairDB`, for when `open` fails on a damaged manifest or
//! table.
//!
//! 0. The manifest `CURRENT` names (else the highest-numbered one that can be read) is
//!    replayed up to its first damaged record. If every table its last state lists is
//!    present and intact, that state is whole, and the files an open would delete as
//!    obsolete are moved to `lost/` instead of used: tables it does not list that are
//!    numbered below its next file number, and logs below its log number. An
//!    interrupted compaction or a failed delete can leave such files behind, and their
//!    versions would outrank newer ones that the bottom level stores at sequence number
//!    0, so a value overwritten long ago would come back. If the state is not whole (a
//!    listed table missing or damaged), those files are used as below: they may hold
//!    the only copy of some data.
//! 1. Every other table is read in full. An intact table is kept as it is. A damaged one
//!    has the entries of its intact data blocks copied to new tables (a damaged block
//!    costs its own entries only), and the original is moved to `lost/`.
//! 2. Every other log is replayed into new tables, reading on past damage from the next
//!    record that starts after it, then moved to `lost/`.
//! 3. A new manifest lists every table in level 0; old manifests move to `lost/`.
//! 4. The database is opened and fully compacted, which orders every key's versions by
//!    sequence number whatever the tables' origins, and leaves a normal tree.
//!
//! Nothing is deleted: every file repair does not use ends up in `lost/`. New files are
//! numbered past every number on disk or in a manifest, so a second run never mistakes
//! the first run's output for a file an edit deleted. Like LevelDB's, repair can still
//! bring back old versions (deleted keys, overwritten values) when the manifest's state
//! is not whole or cannot be read at all.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{filename, flush, Db};
use crate::error::{Error, Result};
use crate::fs::{read_all, FileSystem};
use crate::iter::InternalIterator;
use crate::key::{parse_internal_key, SequenceNumber};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::table::{BlockIter, TableReader};
use crate::version::{FileMeta, VersionEdit, VersionSet};
use crate::wal::{LogReader, ReadOutcome, WalRecord};

/// What [`repair`] found and did.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// Tables kept unchanged.
    pub tables_kept: usize,
    /// Damaged tables whose readable entries were copied to a new table.
    pub tables_salvaged: usize,
    /// Logs replayed into new tables.
    pub logs_replayed: usize,
    /// Entries in the rebuilt database before the final compaction.
    pub entries_recovered: u64,
    /// Files moved to `lost/`, with the reason for each.
    pub moved_to_lost: Vec<(PathBuf, String)>,
}

/// Repairs the database in `dir` with default options. See the module documentation.
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport> {
    repair_with_options(dir, Options::default())
}

/// Repairs the database in `dir`, writing new tables with `options`.
pub fn repair_with_options(dir: impl AsRef<Path>, options: Options) -> Result<RepairReport> {
    let dir = dir.as_ref();
    options.validate()?;
    let fs = Arc::clone(&options.file_system);
    refuse_without_database_files(&*fs, dir)?;
    let mut report = RepairReport::default();
    {
        let lock_path = filename::lock_path(dir);
        let _lock = fs.lock(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::Locked {
                path: lock_path.clone(),
            },
            _ => Error::Io(e),
        })?;
        let mut repairer = Repairer {
            dir,
            fs: &*fs,
            options: &options,
            next_number: 1,
            report: &mut report,
        };
        repairer.run()?;
    }
    // Level 0 now holds every table; a full compaction leaves a normal tree.
    let db = Db::open(
        dir,
        Options {
            create_if_missing: false,
            disable_auto_compactions: true,
            ..options.clone()
        },
    )?;
    db.compact_range::<&[u8], _>(..)?;
    db.close()?;
    Ok(report)
}

/// Repair rebuilds a database from its files; a directory with none of them (a wrong
/// path, say) is refused rather than turned into an empty database.
fn refuse_without_database_files(fs: &dyn FileSystem, dir: &Path) -> Result<()> {
    let names = fs.list(dir)?;
    let has_database_file = names.iter().any(|name| {
        matches!(
            filename::parse(name),
            Some(
                filename::FileKind::Table(_)
                    | filename::FileKind::Log(_)
                    | filename::FileKind::Manifest(_)
            )
        )
    });
    if has_database_file {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "no database to repair at {}: it holds no table, log or manifest",
            dir.display()
        )))
    }
}

/// The last state a manifest records, up to its first damaged record.
struct ManifestState {
    /// The tables it lists.
    live: HashSet<u64>,
    /// The next file number of its last readable edit: every file it knew of, and
    /// every file made before that edit, is numbered below.
    next_file: u64,
    /// Logs numbered below this hold nothing that is not in a table.
    log_number: u64,
    /// The largest file number it mentions.
    max_number: u64,
}

struct Repairer<'a> {
    dir: &'a Path,
    fs: &'a dyn FileSystem,
    options: &'a Options,
    next_number: u64,
    report: &'a mut RepairReport,
}

impl Repairer<'_> {
    fn run(&mut self) -> Result<()> {
        let names = self.fs.list(self.dir)?;
        filename::largest_number(self.dir, &names)?;
        let (mut tables, mut logs, mut manifests) = (Vec::new(), Vec::new(), Vec::new());
        for name in &names {
            match filename::parse(name) {
                Some(filename::FileKind::Table(n)) => tables.push(n),
                Some(filename::FileKind::Log(n)) => logs.push(n),
                Some(filename::FileKind::Manifest(n)) => manifests.push(n),
                _ => continue,
            }
        }
        tables.sort_unstable();
        logs.sort_unstable();
        manifests.sort_unstable();
        let states: Vec<(u64, ManifestState)> = manifests
            .iter()
            .filter_map(|&n| self.read_manifest(n).map(|state| (n, state)))
            .collect();
        // New files are numbered past every number a manifest mentions, not only past
        // the files present: a rerun must not take a number of its own output for one
        // an edit deleted.
        let max_number = (tables.iter().chain(&logs).chain(&manifests).copied())
            .chain(states.iter().map(|(_, s)| s.max_number))
            .max();
        self.next_number = max_number.unwrap_or(0) + 1;

        // The state the manifest records, if every table it lists is here and intact,
        // tells which other files an open would delete as obsolete.
        let current = self.current_manifest();
        let trusted = states
            .iter()
            .find(|(n, _)| Some(*n) == current)
            .or(states.last())
            .map(|(_, state)| state);
        let mut kept: Vec<FileMeta> = Vec::new();
        let mut rest = tables;
        let mut logs_below = 0;
        if let Some(state) = trusted {
            let listed: Vec<u64>;
            (listed, rest) = rest.into_iter().partition(|n| state.live.contains(n));
            // The log the state names is deleted once a later edit (a flush the
            // readable records miss) moves past it: then tables that edit added may
            // look obsolete here, and the state is not whole.
            let mut complete = listed.len() == state.live.len() && logs.contains(&state.log_number);
            for number in listed {
                let kept_before = self.report.tables_kept;
                kept.extend(self.recover_table(number)?);
                complete &= self.report.tables_kept > kept_before;
            }
            let obsolete: Vec<u64>;
            (obsolete, rest) = rest.into_iter().partition(|&n| n < state.next_file);
            if complete {
                logs_below = state.log_number;
                for number in obsolete {
                    let path = filename::table_path(self.dir, number);
                    let why = "not in the manifest's last state, which is whole: left \
                               behind by an interrupted compaction or a failed delete";
                    self.move_to_lost(&path, why)?;
                }
            } else {
                rest.extend(obsolete);
            }
        }
        for number in rest {
            kept.extend(self.recover_table(number)?);
        }
        for number in logs {
            if number < logs_below {
                let path = filename::log_path(self.dir, number);
                let why = "below the manifest's log number: its data is in tables";
                self.move_to_lost(&path, why)?;
                continue;
            }
            kept.extend(self.replay_log(number)?);
        }
        let last_sequence = kept.iter().map(|m| m.largest_seq).max().unwrap_or(0);
        self.report.entries_recovered = kept.iter().map(|m| m.num_entries).sum();

        // A fresh, empty log for the manifest to name.
        let log_number = self.take_number();
        let log = self.fs.create(&filename::log_path(self.dir, log_number))?;
        drop(log);
        self.fs.sync_dir(self.dir)?;

        let mut versions = VersionSet::new(
            self.dir,
            Arc::clone(&self.options.file_system),
            self.options.num_levels,
        );
        versions.skip_file_numbers_through(self.next_number - 1);
        versions.set_last_sequence(last_sequence);
        versions.log_and_apply(VersionEdit {
            log_number: Some(log_number),
            added: kept.into_iter().map(|m| (0, m)).collect(),
            ..VersionEdit::default()
        })?;
        for n in manifests {
            let name = filename::manifest_name(n);
            self.move_to_lost(&self.dir.join(&name), "replaced by the repaired manifest")?;
        }
        Ok(())
    }

    /// The manifest `CURRENT` names, if it can be read.
    fn current_manifest(&self) -> Option<u64> {
        let text = read_all(self.fs, &filename::current_path(self.dir)).ok()?;
        filename::parse_current(&text).map(|(_, number)| number)
    }

    /// The state manifest `number` records, up to its first damaged record; `None` if
    /// no record can be read.
    fn read_manifest(&self, number: u64) -> Option<ManifestState> {
        let path = self.dir.join(filename::manifest_name(number));
        let bytes = read_all(self.fs, &path).ok()?;
        let mut reader = LogReader::new(&bytes);
        let mut state: Option<ManifestState> = None;
        while let ReadOutcome::Record { data, .. } = reader.read_record() {
            let Ok(edit) = VersionEdit::decode(&data) else {
                break;
            };
            let state = state.get_or_insert_with(|| ManifestState {
                live: HashSet::new(),
                next_file: 0,
                log_number: 0,
                max_number: number,
            });
            for &(_, table) in &edit.deleted {
                state.live.remove(&table);
                state.max_number = state.max_number.max(table);
            }
            // A table moved down a level is deleted and added by one edit.
            for (_, meta) in &edit.added {
                state.live.insert(meta.number);
                state.max_number = state.max_number.max(meta.number);
            }
            let logs = edit.log_number.unwrap_or(0);
            state.log_number = state.log_number.max(logs);
            state.next_file = edit.next_file_number.unwrap_or(state.next_file);
            state.max_number = state.max_number.max(logs).max(state.next_file);
        }
        // Numbers beyond the engine's range (a damaged but checksummed record) are
        // ignored rather than trusted.
        state.filter(|s| s.max_number <= filename::MAX_FOUND_NUMBER)
    }

    fn take_number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number += 1;
        n
    }

    /// Reads a table in full: keeps it if intact, otherwise salvages what is readable.
    fn recover_table(&mut self, number: u64) -> Result<Vec<FileMeta>> {
        let path = filename::table_path(self.dir, number);
        let opened = self.fs.open(&path).map_err(Error::from).and_then(|file| {
            let size = file.size()?;
            TableReader::open(file, path.clone(), number, size, None).map(|t| (Arc::new(t), size))
        });
        let (table, size) = match opened {
            Ok(t) => t,
            Err(e) => {
                self.move_to_lost(&path, &e.to_string())?;
                return Ok(Vec::new());
            }
        };
        match scan_table(&table, number, size) {
            Ok(meta) => {
                self.report.tables_kept += 1;
                Ok(meta.into_iter().collect())
            }
            Err(damage) => {
                let (salvaged, skipped) = self.salvage_table(&table)?;
                self.report.tables_salvaged += 1;
                let why = format!("{damage} ({skipped} damaged blocks skipped)");
                self.move_to_lost(&path, &why)?;
                Ok(salvaged)
            }
        }
    }

    /// Copies the entries of every data block that reads back intact into new tables,
    /// skipping the damaged ones, as LevelDB's repairer does: one bad block costs its
    /// own entries, not those after it. Returns the new tables and the number of blocks
    /// skipped.
    fn salvage_table(&mut self, table: &TableReader) -> Result<(Vec<FileMeta>, usize)> {
        let mut mem = Arc::new(Memtable::new(0, 0));
        let (mut out, mut skipped) = (Vec::new(), 0);
        table.for_each_data_block(|read| {
            match read {
                Ok((handle, Ok(block))) => {
                    let mut entries = BlockIter::new(block, table.path().clone(), handle.offset);
                    entries.seek_to_first();
                    while entries.valid() {
                        // A checksummed block decodes; a key that does not is skipped.
                        if let Some(key) = parse_internal_key(entries.key()) {
                            mem.add(key.seq, key.kind, key.user_key, entries.value());
                        }
                        entries.next();
                    }
                    skipped += usize::from(entries.status().is_err());
                }
                Ok((_, Err(_))) | Err(_) => skipped += 1,
            }
            if mem.approximate_bytes() >= self.options.memtable_size {
                out.extend(self.write_memtable(&mem)?);
                mem = Arc::new(Memtable::new(0, 0));
            }
            Ok(())
        })?;
        out.extend(self.write_memtable(&mem)?);
        Ok((out, skipped))
    }

    /// Replays a log's intact records into new tables, then moves it to `lost/`.
    fn replay_log(&mut self, number: u64) -> Result<Vec<FileMeta>> {
        let path = filename::log_path(self.dir, number);
        let bytes = read_all(self.fs, &path)?;
        let mut reader = LogReader::new(&bytes);
        let mut mem = Arc::new(Memtable::new(number, 0));
        let mut out = Vec::new();
        // Damage costs the records it touches: reading goes on at the next record
        // that starts after it (see `LogReader::resync`).
        let (mut first_damage, mut damaged) = (None, 0);
        let mut note_damage = |offset: u64, reason: &str| {
            first_damage.get_or_insert_with(|| format!("offset {offset}: {reason}"));
            damaged += 1;
        };
        loop {
            match reader.read_record() {
                ReadOutcome::Eof => break,
                ReadOutcome::Damaged { offset, reason, .. } => {
                    note_damage(offset, &reason);
                    reader.resync();
                }
                ReadOutcome::Record { offset, data } => match WalRecord::decode(&data) {
                    // Decoding checked every entry, so a batch goes in whole.
                    Ok(WalRecord::Batch(batch)) => super::write::insert_decoded(&mem, &batch)
                        .map_err(|d| Error::corruption(&path, offset, d))?,
                    // Repair salvages every log, whether or not the one before it kept
                    // its tail.
                    Ok(WalRecord::Link(_)) => {}
                    Err(reason) => note_damage(offset, &reason),
                },
            }
            if mem.approximate_bytes() >= self.options.memtable_size {
                out.extend(self.write_memtable(&mem)?);
                mem = Arc::new(Memtable::new(number, 0));
            }
        }
        let note = match first_damage {
            None => "replayed into tables".to_string(),
            Some(first) => format!(
                "replayed into tables, all but {damaged} damaged stretches (the first at {first})"
            ),
        };
        out.extend(self.write_memtable(&mem)?);
        self.report.logs_replayed += 1;
        self.move_to_lost(&path, &note)?;
        Ok(out)
    }

    fn write_memtable(&mut self, mem: &Arc<Memtable>) -> Result<Option<FileMeta>> {
        if mem.is_empty() {
            return Ok(None);
        }
        let number = self.take_number();
        let mut iter = mem.iter();
        let (meta, status) =
            flush::write_table(self.fs, self.dir, self.options, number, &mut iter, None)?;
        status?;
        Ok(meta)
    }

    fn move_to_lost(&mut self, path: &Path, why: &str) -> Result<()> {
        let lost = self.dir.join("lost");
        self.fs.create_dir_all(&lost)?;
        let Some(name) = path.file_name() else {
            return Ok(());
        };
        let to = lost.join(name);
        self.fs.rename(path, &to)?;
        // The new name lives in lost/, and lost/ itself may be new in the directory.
        self.fs.sync_dir(&lost)?;
        self.fs.sync_dir(self.dir)?;
        self.report.moved_to_lost.push((to, why.to_string()));
        Ok(())
    }
}

/// Reads every entry of a table, building its manifest record; `Err` on any damage.
fn scan_table(table: &Arc<TableReader>, number: u64, size: u64) -> Result<Option<FileMeta>> {
    let mut it = table.iter();
    it.seek_to_first();
    let mut meta: Option<FileMeta> = None;
    let (mut smallest_seq, mut largest_seq): (SequenceNumber, SequenceNumber) = (u64::MAX, 0);
    let (mut entries, mut deletions) = (0u64, 0u64);
    while it.valid() {
        let parsed = crate::key::parse_internal_key(it.key()).ok_or_else(|| {
            Error::corruption(table.path().as_ref(), 0, "undecodable internal key")
        })?;
        smallest_seq = smallest_seq.min(parsed.seq);
        largest_seq = largest_seq.max(parsed.seq);
        entries += 1;
        if parsed.kind == crate::key::ValueKind::Delete {
            deletions += 1;
        }
        match meta.as_mut() {
            None => {
                meta = Some(FileMeta {
                    number,
                    file_size: size,
                    smallest: it.key().to_vec(),
                    largest: it.key().to_vec(),
                    smallest_seq: 0,
                    largest_seq: 0,
                    num_entries: 0,
                    num_deletions: 0,
                })
            }
            Some(m) => {
                m.largest.clear();
                m.largest.extend_from_slice(it.key());
            }
        }
        it.next();
    }
    it.status()?;
    // A bottommost compaction stores sequence number 0 in keys every snapshot saw; the
    // properties keep the newest sequence number the data was written at.
    let recorded = table.properties().largest_seq;
    if recorded > crate::key::MAX_SEQUENCE {
        return Err(Error::corruption(
            table.path().as_ref(),
            0,
            format!("properties name sequence number {recorded}, out of range"),
        ));
    }
    let largest_seq = largest_seq.max(recorded);
    Ok(meta.map(|m| FileMeta {
        smallest_seq,
        largest_seq,
        num_entries: entries,
        num_deletions: deletions,
        ..m
    }))
}
