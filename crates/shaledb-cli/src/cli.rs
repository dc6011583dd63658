//! The command line's grammar (clap derive). Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use shaledb_bench::BenchConfig;

/// Inspect, edit, check and benchmark ShaleDB databases.
///
/// Keys and values are UTF-8 text unless --hex is given, in which case they are read and
/// printed as hexadecimal. Every command but put fails if the database does not exist;
/// put creates it. get, scan, stats and check open it read-only: they change nothing
/// in its directory and may run side by side. put, delete and compact open it for
/// writing, which needs it to be open nowhere else.
///
/// The engine's warnings (a damaged log tail, which a write sets aside in lost/, for
/// example) are printed on stderr; SHALEDB_LOG=info adds flushes and compactions, and
/// SHALEDB_LOG=off silences them.
#[derive(Debug, Parser)]
#[command(name = "shaledb", version, propagate_version = true)]
pub struct Cli {
    /// Read keys and values as hexadecimal and print them as hexadecimal.
    #[arg(long, global = true)]
    pub hex: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the value of KEY. Exits with status 1 if the key is absent.
    Get(GetArgs),
    /// Set KEY to VALUE, creating the database if needed.
    Put(PutArgs),
    /// Delete KEY (deleting an absent key is not an error).
    Delete(DeleteArgs),
    /// Print entries in key order, one `key<TAB>value` per line.
    Scan(ScanArgs),
    /// Print the levels table, compaction and stall statistics, and numeric properties.
    Stats(DbArgs),
    /// Verify every checksum of the logs and the live tables; exits with status 1 if any
    /// is damaged. A damaged log record fails the check before anything is changed.
    Check(DbArgs),
    /// Compact the whole key space into the last level.
    Compact(DbArgs),
    /// Rebuild a damaged database from the tables and logs that survive; files that
    /// cannot be used are moved to its lost/ folder, never deleted.
    Repair(DbArgs),
    /// Print a table (.sst) or log (.log) file: properties, block layout, entries.
    Dump(DumpArgs),
    /// Run the db_bench workloads on ShaleDB and print db_bench's result lines.
    ///
    /// The database is opened with the settings of the peers comparison: LZ4, bloom
    /// filters at 10 bits per key, 4 KiB blocks, a 64 MiB memtable and a 64 MiB block
    /// cache; the write-ahead log is on, without a sync per write except in fillsync.
    /// The settings are printed with the results. A progress bar is drawn on stderr when
    /// it is a terminal.
    Bench(BenchArgs),
}

/// A database directory.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database directory.
    #[arg(value_name = "DB")]
    pub db: PathBuf,
}

/// Arguments of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The database directory.
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// The key.
    #[arg(value_name = "KEY")]
    pub key: String,
}

/// Arguments of `put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The database directory (created if missing).
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// The key.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The value.
    #[arg(value_name = "VALUE")]
    pub value: String,
    /// Sync the write-ahead log before returning, so the write survives a power loss.
    #[arg(long)]
    pub sync: bool,
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The database directory.
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// The key.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Sync the write-ahead log before returning.
    #[arg(long)]
    pub sync: bool,
}

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The database directory.
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// Start at this key (inclusive).
    #[arg(long, value_name = "KEY")]
    pub from: Option<String>,
    /// Stop before this key (exclusive).
    #[arg(long, value_name = "KEY")]
    pub to: Option<String>,
    /// Only keys that start with this prefix.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Print at most N entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Walk from the last key to the first.
    #[arg(long)]
    pub reverse: bool,
}

/// Arguments of `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// A table file (NNNNNN.sst) or log file (NNNNNN.log) of a database.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print every entry (`key<TAB>@sequence<TAB>put|del<TAB>value`).
    #[arg(long)]
    pub entries: bool,
    /// Print at most N entries (implies --entries).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The benchmark's options, shared with the peers comparison.
    #[command(flatten)]
    pub config: BenchConfig,

    /// Compaction style: leveled (the default) or tiered.
    #[arg(long, value_enum, default_value_t = StyleArg::Leveled)]
    pub compaction: StyleArg,

    /// Background threads for flushes and compactions [engine default: 2].
    #[arg(long, value_name = "N")]
    pub max_background_jobs: Option<usize>,

    /// Leveled: level-0 tables that start a compaction [engine default: 4].
    #[arg(long, value_name = "N")]
    pub level0_compaction_trigger: Option<usize>,

    /// Leveled: the most bytes the base level (where level 0 goes) holds, as db_bench's
    /// --max_bytes_for_level_base [engine default: 268435456, 256 MiB].
    #[arg(long, value_name = "BYTES")]
    pub level_base_size: Option<u64>,

    /// Tiered: free sorted runs that start a merge, and the count the tree is kept
    /// under [engine default: 8; a value above the slowdown trigger, 20, acts as it].
    #[arg(long, value_name = "N")]
    pub tiered_run_trigger: Option<usize>,

    /// Tiered: a run joins a merge while it is at most (100 + PERCENT)% of the runs
    /// before it [engine default: 1].
    #[arg(long, value_name = "PERCENT")]
    pub tiered_size_ratio: Option<u64>,

    /// Tiered: the fewest runs a size-ratio merge takes [engine default: 2].
    #[arg(long, value_name = "N")]
    pub tiered_min_merge_width: Option<usize>,

    /// Tiered: merge everything when the newer runs exceed PERCENT of the oldest
    /// [engine default: 200].
    #[arg(long, value_name = "PERCENT")]
    pub tiered_max_size_amplification: Option<u64>,

    /// Route every file operation through the fault-injecting file system (with no
    /// fault armed): a heavier layer on the same seam, to bound what the seam costs.
    #[arg(long, hide = true)]
    pub through_fault_fs: bool,
}

/// `--compaction` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StyleArg {
    /// Leveled compaction.
    Leveled,
    /// Size-tiered compaction.
    Tiered,
}
