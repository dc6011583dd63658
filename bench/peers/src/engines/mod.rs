//! The engines under comparison: one adapter file each, every adapter implementing
//! `shaledb_bench`'s [`Engine`](shaledb_bench::Engine) and
//! [`EngineFactory`] with the matched settings, and this registry that finds them by
//! name.
//!
//! The matched settings, as far as each engine allows (each factory's `settings()`
//! says what it could and could not match): write-ahead log or journal on without an
//! fsync per write (a synced write for fillsync), LZ4, bloom filters at 10 bits per
//! key (and over each memtable, 1% of its size, where the engine has one), 4 KiB blocks, a 64 MiB memtable, a 64 MiB block cache, and 2 background jobs.
//!
//! ShaleDB's adapter is `shaledb_bench::ShaleFactory::matched()`; RocksDB's exists only
//! with the `rocksdb` feature. Two more names run the size-tiered styles with the same
//! settings, for the compaction figures: `shaledb-tiered` (ShaleDB's
//! `CompactionStyle::Tiered`) and `rocksdb-universal` (RocksDB's universal compaction,
//! its default options). They are not in the default list.

mod fjall;
mod leveldb;
mod redb;
#[cfg(feature = "rocksdb")]
mod rocks;
mod sled;

use std::error::Error as StdError;

use shaledb::{CompactionStyle, Options};
use shaledb_bench::{EngineError, EngineFactory, ShaleFactory};

use crate::error::PeersError;

/// The engines `--engines` runs by default, in table order.
pub const DEFAULT_ENGINES: &str = "shaledb,rocksdb,fjall,sled,redb,leveldb";

/// The name of the engine every ratio is taken against.
pub const BASELINE: &str = "shaledb";

/// ShaleDB with size-tiered compaction, otherwise matched as [`BASELINE`].
pub const SHALEDB_TIERED: &str = "shaledb-tiered";

/// RocksDB, the peer every goal is measured against.
pub const ROCKSDB: &str = "rocksdb";

/// RocksDB with universal compaction, otherwise matched as [`ROCKSDB`].
pub const ROCKSDB_UNIVERSAL: &str = "rocksdb-universal";

/// Whether `name` is ShaleDB or RocksDB in one of their compaction styles, rather than
/// one of the Rust engines ShaleDB is compared with.
pub fn is_shaledb_or_rocksdb(name: &str) -> bool {
    [BASELINE, SHALEDB_TIERED, ROCKSDB, ROCKSDB_UNIVERSAL].contains(&name)
}

/// The matched memtable (write buffer) size.
pub const MEMTABLE_BYTES: u64 = 64 << 20;
/// The matched block cache size.
pub const BLOCK_CACHE_BYTES: u64 = 64 << 20;
/// The matched block size.
pub const BLOCK_BYTES: u64 = 4 << 10;
/// The matched bloom filter bits per key.
pub const BLOOM_BITS_PER_KEY: u32 = 10;
/// The matched size of a memtable's bloom filter over whole keys, as a fraction of the
/// memtable (ShaleDB's default; RocksDB's `memtable_prefix_bloom_size_ratio` with
/// `memtable_whole_key_filtering`). The other engines have no such filter.
#[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
pub const MEMTABLE_BLOOM_RATIO: f64 = 0.01;
/// The matched number of background jobs (flushes plus compactions).
pub const BACKGROUND_JOBS: u32 = 2;

/// The settings line every adapter prints for its log.
pub const WAL_NO_SYNC: &str = "on, no fsync per write (fillsync: one per write)";

/// Why an engine cannot run in this build.
#[derive(Debug)]
pub enum Unavailable {
    /// No engine has this name.
    Unknown,
    /// The engine exists but was not compiled in; the string says why and how.
    // Only RocksDB can be left out, so with its feature on nothing is.
    #[cfg_attr(feature = "rocksdb", allow(dead_code))]
    NotCompiled(&'static str),
}

/// The factory for engine `name`.
pub fn factory(name: &str) -> Result<Box<dyn EngineFactory>, Unavailable> {
    match name {
        BASELINE => Ok(Box::new(ShaleFactory::matched())),
        SHALEDB_TIERED => Ok(Box::new(shaledb_tiered())),
        ROCKSDB => rocksdb_factory(false),
        ROCKSDB_UNIVERSAL => rocksdb_factory(true),
        "fjall" => Ok(Box::new(fjall::FjallFactory)),
        "sled" => Ok(Box::new(sled::SledFactory)),
        "redb" => Ok(Box::new(redb::RedbFactory)),
        "leveldb" | "rusty-leveldb" => Ok(Box::new(leveldb::LevelDbFactory)),
        _ => Err(Unavailable::Unknown),
    }
}

/// ShaleDB's matched settings with size-tiered compaction (its default tiered options).
fn shaledb_tiered() -> ShaleFactory {
    let options = Options {
        compaction: CompactionStyle::Tiered,
        ..ShaleFactory::matched().options().clone()
    };
    ShaleFactory::new(options).named(SHALEDB_TIERED)
}

#[cfg(feature = "rocksdb")]
fn rocksdb_factory(universal: bool) -> Result<Box<dyn EngineFactory>, Unavailable> {
    Ok(Box::new(rocks::RocksFactory { universal }))
}

#[cfg(not(feature = "rocksdb"))]
fn rocksdb_factory(_universal: bool) -> Result<Box<dyn EngineFactory>, Unavailable> {
    Err(Unavailable::NotCompiled(
        "built without the `rocksdb` feature (its C++ build takes ~20 minutes); \
         run `cargo peers` to include it",
    ))
}

/// The engines a command line asked for.
pub struct Resolved {
    /// The factories of the engines to run, in order, without repeats.
    pub factories: Vec<Box<dyn EngineFactory>>,
    /// Engines asked for but not compiled in, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// The factories for `names`, in order, and the engines skipped with the reason.
/// An unknown name is an error; an engine not compiled in is skipped.
pub fn resolve(names: &[String]) -> Result<Resolved, PeersError> {
    let mut factories: Vec<Box<dyn EngineFactory>> = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let name = name.trim();
        match factory(name) {
            Ok(f) => {
                if !factories.iter().any(|g| g.name() == f.name()) {
                    factories.push(f);
                }
            }
            Err(Unavailable::NotCompiled(why)) => skipped.push((name.to_string(), why.into())),
            Err(Unavailable::Unknown) => return Err(PeersError::UnknownEngine(name.into())),
        }
    }
    if factories.is_empty() {
        return Err(PeersError::NoEngines);
    }
    Ok(Resolved { factories, skipped })
}

/// Converts any engine library's error into an [`EngineError`] with `?`-like ease.
pub trait OrEngineError<T> {
    /// The value, or the error wrapped as an [`EngineError`].
    fn engine_err(self) -> Result<T, EngineError>;
}

impl<T, E: StdError + Send + Sync + 'static> OrEngineError<T> for Result<T, E> {
    fn engine_err(self) -> Result<T, EngineError> {
        self.map_err(EngineError::new)
    }
}

/// `n` bytes as whole MiB, for settings.
pub fn mib(n: u64) -> String {
    format!("{} MiB", n >> 20)
}

/// A (name, value) settings pair.
pub fn setting(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_knows_every_default_engine() {
        for name in DEFAULT_ENGINES.split(',') {
            match factory(name) {
                Ok(f) => assert!(!f.settings().is_empty(), "{name}"),
                Err(Unavailable::NotCompiled(_)) => assert_eq!(name, ROCKSDB),
                Err(Unavailable::Unknown) => panic!("{name} unknown"),
            }
        }
        assert!(matches!(factory("lmdb"), Err(Unavailable::Unknown)));
        let names: Vec<String> = ["shaledb", "sled", "shaledb"].map(String::from).into();
        let resolved = resolve(&names).expect("known engines");
        assert_eq!(resolved.factories.len(), 2);
        assert!(resolved.skipped.is_empty());
        assert!(resolve(&["nope".to_string()]).is_err());
    }

    #[test]
    fn the_tiered_variants_have_names_of_their_own() {
        let tiered = factory(SHALEDB_TIERED).expect("always compiled");
        assert_eq!(tiered.name(), SHALEDB_TIERED);
        let settings = tiered.settings();
        let style = settings.iter().find(|(k, _)| k == "compaction");
        assert_eq!(style.map(|(_, v)| v.as_str()), Some("Tiered"));
        let names: Vec<String> = [BASELINE, SHALEDB_TIERED].map(String::from).into();
        assert_eq!(resolve(&names).expect("known").factories.len(), 2);
        match factory(ROCKSDB_UNIVERSAL) {
            Ok(f) => assert_eq!(f.name(), ROCKSDB_UNIVERSAL),
            Err(Unavailable::NotCompiled(_)) => {}
            Err(Unavailable::Unknown) => panic!("rocksdb-universal unknown"),
        }
        assert!(is_shaledb_or_rocksdb(ROCKSDB_UNIVERSAL) && !is_shaledb_or_rocksdb("fjall"));
    }
}
