//! The engine's events on stderr: warnings by default (a damaged log tail dropped at
//! open, a torn manifest record, a background error), more when `SHALEDB_LOG` asks.
//!
//! The library reports through `tracing` and leaves the subscriber to the application.
//! The command line prints warnings and errors, one line each (`WARN message
//! field=value ...`), because they say that data was set aside or that the database
//! turned read-only, which its user must not miss. `SHALEDB_LOG` takes a `tracing`
//! target list instead: `info` for flushes and compactions, `shaledb=debug`, or `off`.

use std::io;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

/// The environment variable that chooses which events are printed.
pub const ENV: &str = "SHALEDB_LOG";

/// Installs the stderr subscriber: warnings and errors, or what `SHALEDB_LOG` says.
///
/// A value that does not parse is an error, so that a mistyped level is not silently
/// ignored.
pub fn init() -> Result<(), String> {
    let targets = match std::env::var_os(ENV) {
        None => Targets::new().with_default(LevelFilter::WARN),
        Some(value) => {
            let value = value
                .into_string()
                .map_err(|_| format!("{ENV} is not valid UTF-8"))?;
            if value.trim().is_empty() {
                Targets::new().with_default(LevelFilter::WARN)
            } else {
                value
                    .parse()
                    .map_err(|e| format!("{ENV}={value:?} is not a level or target list: {e}"))?
            }
        }
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .compact()
        .with_max_level(LevelFilter::TRACE)
        .finish();
    tracing::subscriber::set_global_default(subscriber.with(targets))
        .map_err(|e| format!("cannot install the {ENV} subscriber: {e}"))
}
