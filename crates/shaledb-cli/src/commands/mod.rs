//! One module per subcommand; `run` dispatches. Each command writes its normal output
//! to the writer it is given (standard output) and returns its failure as a
//! [`CliError`].

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::codec::Codec;
use crate::error::CliError;

mod bench;
mod check;
mod compact;
mod dump;
mod point;
mod repair;
mod scan;
mod stats;

/// Runs the parsed command line.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let codec = Codec::new(cli.hex);
    match cli.command {
        Command::Get(args) => point::get(&args, codec, out),
        Command::Put(args) => point::put(&args, codec),
        Command::Delete(args) => point::delete(&args, codec),
        Command::Scan(args) => scan::run(&args, codec, out),
        Command::Stats(args) => stats::run(&args.db, out),
        Command::Check(args) => check::run(&args.db, out),
        Command::Compact(args) => compact::run(&args.db, out),
        Command::Repair(args) => repair::run(&args.db, out),
        Command::Dump(args) => dump::run(&args, codec, out),
        Command::Bench(args) => bench::run(&args, out),
    }
}
