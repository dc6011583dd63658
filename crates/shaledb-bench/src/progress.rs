//! Progress while a benchmark runs: an `indicatif` bar on stderr when stderr is a
//! terminal, nothing otherwise (the result lines on stdout are the plain record).
//!
//! Concurrency: one [`Ticker`] per benchmark, shared by reference between its threads.
//! Threads report in chunks ([`Ticker::CHUNK`] operations) so the bar costs nothing
//! measurable in the hot loop.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Decides whether bars are drawn, and starts one per benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars if stderr is a terminal, otherwise none.
    pub fn for_stderr() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Never draws: for tests and quiet runs.
    pub fn hidden() -> Self {
        Progress { enabled: false }
    }

    /// Starts showing benchmark `name` with `total` operations.
    pub fn start(&self, name: &str, total: u64) -> Ticker {
        let bar = self.enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {human_pos}/{human_len} ops  {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Ticker { bar }
    }
}

/// The progress of one benchmark.
#[derive(Debug)]
pub struct Ticker {
    bar: Option<ProgressBar>,
}

impl Ticker {
    /// Operations a thread does between two reports.
    pub const CHUNK: u64 = 1024;

    /// Adds `ops` finished operations.
    pub fn advance(&self, ops: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(ops);
        }
    }

    /// Clears the bar, before the result line is printed.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
