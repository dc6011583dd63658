//! Records the versions of the peer engines, as resolved in the workspace's
//! `Cargo.lock`, so the results name exactly what was measured.
//!
//! Each becomes an environment variable for the compiler, `PEER_VERSION_<CRATE>` with
//! the crate's name upper-cased and `-` turned into `_` (`PEER_VERSION_RUSTY_LEVELDB`);
//! a crate the lock does not list gets `unknown`.

use std::path::PathBuf;

/// The crates whose versions the results print.
const CRATES: [&str; 7] = [
    "rocksdb",
    "librocksdb-sys",
    "fjall",
    "lsm-tree",
    "sled",
    "redb",
    "rusty-leveldb",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let lock_path = manifest_dir.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for name in CRATES {
        let version = locked_version(&lock, name).unwrap_or("unknown");
        let var = name.to_uppercase().replace('-', "_");
        println!("cargo:rustc-env=PEER_VERSION_{var}={version}");
    }
}

/// The version of the first `[[package]]` called `name` in a `Cargo.lock`.
fn locked_version<'a>(lock: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return version.strip_suffix('"');
        }
    }
    None
}
