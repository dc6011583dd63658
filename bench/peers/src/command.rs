//! Command lines: the arguments the parent gives each child, and the exact command
//! printed on the results page.

use std::ffi::OsString;
use std::path::Path;

use shaledb_bench::BenchConfig;

/// The arguments that make a child run `engine` with `config`, its databases under
/// `db_root`, writing its report to `report`.
pub fn child_args(
    config: &BenchConfig,
    db_root: &Path,
    engine: &str,
    report: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}").into());
        args.push(value.into());
    };
    flag("num", config.num.to_string());
    if let Some(reads) = config.reads {
        flag("reads", reads.to_string());
    }
    flag("value-size", config.value_size.to_string());
    flag("threads", config.threads.to_string());
    flag("batch-size", config.batch_size.to_string());
    flag("seed", config.seed.to_string());
    let benchmarks: Vec<&str> = config.benchmarks.iter().map(|w| w.name()).collect();
    flag("benchmarks", benchmarks.join(","));
    flag("child", engine.to_string());
    args.push("--db".into());
    args.push(db_root.as_os_str().to_owned());
    args.push("--child-report".into());
    args.push(report.as_os_str().to_owned());
    if config.use_existing_db {
        args.push("--use-existing-db".into());
    }
    args
}

/// The command that was run, as a user types it: `cargo peers` and the arguments.
pub fn display_command(args: impl IntoIterator<Item = String>) -> String {
    let mut words = vec!["cargo".to_string(), "peers".to_string()];
    words.extend(args.into_iter().map(|a| shell_quote(&a)));
    words.join(" ")
}

/// `word` quoted for a POSIX shell, unless it needs no quoting.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn child_args_parse_back_to_the_same_config() {
        let parent = Cli::parse_from([
            "peers",
            "--num",
            "5000",
            "--reads",
            "70",
            "--benchmarks",
            "fillseq,readrandom",
            "--runs",
            "1",
        ]);
        let args = child_args(
            &parent.bench,
            Path::new("/tmp/x"),
            "sled",
            Path::new("/tmp/r.json"),
        );
        let child = Cli::parse_from(std::iter::once(OsString::from("peers")).chain(args));
        assert_eq!(child.child.as_deref(), Some("sled"));
        assert_eq!(
            child.child_report.as_deref(),
            Some(Path::new("/tmp/r.json"))
        );
        let expected = BenchConfig {
            db: Some("/tmp/x".into()),
            ..parent.bench.clone()
        };
        assert_eq!(child.bench, expected);
    }

    #[test]
    fn commands_are_quoted_for_the_shell() {
        let args = ["--num", "1000", "--markdown", "docs/bench marks.md", "it's"];
        assert_eq!(
            display_command(args.map(String::from)),
            r"cargo peers --num 1000 --markdown 'docs/bench marks.md' 'it'\''s'"
        );
    }
}
