//! `shaledb bench` with a small `--num`: output and JSON shape, never timing.

mod common;

use common::{shaledb, stdout_of};
use predicates::prelude::*;
use serde_json::Value;

/// True if `line` has db_bench's shape: `name : X micros/op Y ops/sec;...`.
fn is_db_bench_line(line: &str, name: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("{name:<12} : ")) else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let micros = words.next().and_then(|w| w.parse::<f64>().ok());
    let unit = words.next();
    let ops = words.next().and_then(|w| w.parse::<u64>().ok());
    let unit2 = words.next();
    micros.is_some() && unit == Some("micros/op") && ops.is_some() && unit2 == Some("ops/sec;")
}

#[test]
fn bench_prints_db_bench_lines_and_writes_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("out.json");
    let out = shaledb()
        .args([
            "bench",
            "--num",
            "2000",
            "--benchmarks",
            "fillseq,fillrandom,readrandom,readseq",
        ])
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    for name in ["fillseq", "fillrandom", "readrandom", "readseq"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name:<12} :")))
            .unwrap_or_else(|| panic!("no line for {name} in\n{text}"));
        assert!(is_db_bench_line(line, name), "{line}");
        if name != "readseq" {
            assert!(line.contains(" MB/s"), "{line}");
        }
    }
    assert!(text.contains("latency micros: p50 "), "{text}");
    assert!(
        text.contains(" p99 ") && text.contains(" p99.9 ") && text.contains(" max "),
        "{text}"
    );
    assert!(text.contains("write amp "), "{text}");
    assert!(text.contains("space amp "), "{text}");
    assert!(text.contains("peak RSS "), "{text}");
    assert!(text.contains("Keys:       16 bytes each"), "{text}");
    assert!(text.contains("compression: Lz4"), "{text}");
    assert!(text.contains("block_cache_size: 64 MiB"), "{text}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("valid json");
    assert_eq!(report["engine"], "shaledb");
    assert_eq!(report["config"]["num"], 2000);
    assert_eq!(report["config"]["value_size"], 100);
    assert_eq!(report["key_size"], 16);
    assert!(report["machine"]["nproc"].as_u64().unwrap_or(0) >= 1);
    assert!(report["engine_settings"]["compression"].is_string());
    let results = report["results"].as_array().expect("results array");
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["fillseq", "fillrandom", "readrandom", "readseq"]);
    for r in results {
        for field in [
            "ops",
            "elapsed_secs",
            "micros_per_op",
            "ops_per_sec",
            "bytes",
        ] {
            assert!(r[field].is_number(), "{field} in {r}");
        }
        for p in ["p50", "p99", "p999", "max"] {
            assert!(r["latency_micros"][p].is_number(), "{p} in {r}");
        }
    }
    assert_eq!(results[0]["ops"], 2000);
    assert!(results[0]["amplification"]["user_bytes_written"].as_u64() == Some(2000 * 116));
    assert!(results[0]["amplification"]["peak_rss_bytes"].is_number());
    assert!(results[2]["amplification"].is_null());
    let found = results[2]["found"]
        .as_u64()
        .expect("readrandom counts found keys");
    assert!(found > 0 && found <= 2000, "{found}");
    // fillrandom started a fresh database; readseq reads exactly the keys it wrote,
    // which the harness counted for logical live bytes.
    let live = results[1]["amplification"]["logical_live_bytes"]
        .as_u64()
        .expect("live bytes");
    assert_eq!(results[3]["ops"].as_u64(), Some(live / 116));
}

#[test]
fn every_workload_runs_with_threads_in_a_given_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let all = "fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,readreverse,\
               seekrandom,readwhilewriting,deleterandom,compact,waitforcompaction,fillsync,\
               fill100K";
    let out = shaledb()
        .args([
            "bench",
            "--num",
            "1000",
            "--threads",
            "2",
            "--benchmarks",
            all,
            "--db",
        ])
        .arg(dir.path())
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    for name in all.split(',') {
        assert!(
            text.lines().any(|l| is_db_bench_line(l, name)),
            "no line for {name} in\n{text}"
        );
    }
    assert!(
        text.contains("(0 of 2000 found)"),
        "readmissing finds nothing: {text}"
    );
    assert!(
        dir.path().join("shaledb").is_dir(),
        "the database stays in --db"
    );
}

/// Found by an audit: a fill with --use-existing-db deleted the database it was told
/// to keep. Fills are skipped instead, as db_bench skips them.
#[test]
fn use_existing_db_skips_fills_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = |benchmarks: &str, existing: bool| {
        let mut cmd = shaledb();
        cmd.args(["bench", "--num", "2000", "--benchmarks", benchmarks, "--db"])
            .arg(dir.path());
        if existing {
            cmd.arg("--use-existing-db");
        }
        stdout_of(cmd.assert().success().get_output())
    };
    bench("fillseq", false);
    let text = bench("fillrandom,readseq", true);
    assert!(
        text.lines()
            .any(|l| l == "fillrandom   : skipped (--use-existing-db keeps the database)"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| is_db_bench_line(l, "fillrandom")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| is_db_bench_line(l, "readseq")),
        "{text}"
    );
    // The last key fillseq wrote is still there.
    let db = dir.path().join("shaledb");
    shaledb()
        .args(["get"])
        .arg(&db)
        .arg("0000000000001999")
        .assert()
        .success();
}

/// Found by an audit: `--db DIR` deleted `DIR/shaledb` whatever it held.
#[test]
fn bench_refuses_to_delete_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().expect("temp dir");
    let theirs = dir.path().join("shaledb").join("src");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    std::fs::write(theirs.join("main.rs"), b"precious").expect("write");
    // A failed run keeps an earlier run's --json and leaves no new one behind.
    let kept = dir.path().join("earlier.json");
    std::fs::write(&kept, b"{\"earlier\": true}").expect("write");
    let fresh = dir.path().join("fresh.json");
    for json in [&kept, &fresh] {
        shaledb()
            .args(["bench", "--num", "100", "--benchmarks", "fillseq", "--db"])
            .arg(dir.path())
            .arg("--json")
            .arg(json)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("was not created by the benchmark"));
    }
    assert_eq!(
        std::fs::read(theirs.join("main.rs")).expect("still there"),
        b"precious"
    );
    assert_eq!(std::fs::read(&kept).expect("kept"), b"{\"earlier\": true}");
    assert!(!fresh.exists(), "a failed run left its empty --json");
    // Its own database, from an earlier run, it replaces.
    let other = tempfile::tempdir().expect("temp dir");
    for _ in 0..2 {
        shaledb()
            .args(["bench", "--num", "100", "--benchmarks", "fillseq", "--db"])
            .arg(other.path())
            .assert()
            .success();
    }
}

/// Found by an audit: `bench` deleted its old database while another process had it
/// open, and the two then wrote to different databases under one name.
#[test]
fn bench_refuses_to_delete_a_database_another_process_has_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = || {
        let mut cmd = shaledb();
        cmd.args(["bench", "--num", "500", "--benchmarks", "fillseq", "--db"])
            .arg(dir.path());
        cmd
    };
    bench().assert().success();
    let db = shaledb::Db::open(dir.path().join("shaledb"), shaledb::Options::default())
        .expect("open the benchmark's database");
    bench()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is locked"));
    // Nothing was deleted under the open database.
    assert!(db.get(b"0000000000000499").expect("get").is_some());
    db.close().expect("close");
    bench().assert().success();
}

/// Found by an audit: a huge --num aborted on a failed allocation, --reads 0 printed
/// nonsense, and an unwritable --json failed only after the whole run.
#[test]
fn bench_checks_sizes_and_the_json_path_before_it_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (args, says) in [
        (vec!["--num", "10000000000000000"], "--num"),
        (vec!["--reads", "0"], "--reads"),
    ] {
        shaledb()
            .arg("bench")
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    let started = std::time::Instant::now();
    shaledb()
        .args([
            "bench",
            "--num",
            "300000",
            "--benchmarks",
            "fillrandom",
            "--json",
        ])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("fillrandom   :").not())
        .stderr(predicate::str::contains("cannot write"));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn bench_rejects_unknown_benchmarks_and_bad_options() {
    shaledb()
        .args(["bench", "--benchmarks", "fillseq,nosuch"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown benchmark"));
    shaledb()
        .args(["bench", "--num", "0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--num"));
    shaledb()
        .args(["bench", "--use-existing-db"])
        .assert()
        .code(2);
}

#[test]
fn bench_takes_compaction_options_and_prints_them() {
    let out = shaledb()
        .args([
            "bench",
            "--num",
            "2000",
            "--benchmarks",
            "fillrandom,waitforcompaction",
            "--compaction",
            "tiered",
            "--max-background-jobs",
            "3",
            "--tiered-run-trigger",
            "5",
            "--tiered-size-ratio",
            "1",
            "--tiered-min-merge-width",
            "2",
            "--tiered-max-size-amplification",
            "150",
        ])
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    for setting in [
        "compaction: Tiered",
        "max_background_jobs: 3",
        "tiered_run_trigger: 5",
        "tiered_size_ratio_percent: 1",
        "tiered_min_merge_width: 2",
        "tiered_max_size_amplification_percent: 150",
    ] {
        assert!(
            text.lines().any(|l| l == setting),
            "no {setting:?} in\n{text}"
        );
    }
    assert!(
        text.lines().any(|l| is_db_bench_line(l, "fillrandom")),
        "{text}"
    );
    // Leveled runs do not print the tiered settings.
    let out = shaledb()
        .args(["bench", "--num", "1000", "--benchmarks", "fillseq"])
        .args(["--level0-compaction-trigger", "6"])
        .args(["--level-base-size", "1536000"])
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    for setting in ["level0_compaction_trigger: 6", "level_base_size: 1500 KiB"] {
        assert!(
            text.lines().any(|l| l == setting),
            "no {setting:?} in\n{text}"
        );
    }
    assert!(!text.contains("tiered_"), "{text}");
}

#[test]
fn bench_rejects_compaction_options_that_cannot_work_together() {
    for bad in [
        ["--compaction", "tiered", "--tiered-run-trigger", "1"],
        ["--compaction", "tiered", "--tiered-run-trigger", "0"],
        ["--compaction", "tiered", "--tiered-min-merge-width", "1"],
        [
            "--compaction",
            "leveled",
            "--level0-compaction-trigger",
            "0",
        ],
        ["--compaction", "leveled", "--max-background-jobs", "0"],
        ["--compaction", "leveled", "--level-base-size", "1000"],
    ] {
        shaledb()
            .args(["bench", "--num", "100", "--benchmarks", "fillseq"])
            .args(bad)
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains("invalid argument").or(predicate::str::contains("must")),
            );
    }
    shaledb()
        .args(["bench", "--tiered-run-trigger", "many"])
        .assert()
        .code(2);
}

/// Found by an audit: Ctrl-C or SIGTERM left the run's temporary database behind.
#[test]
fn an_interrupted_bench_removes_its_temporary_directory() {
    for signal in ["INT", "TERM"] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("shaledb"))
            .args(["bench", "--num", "4000000", "--benchmarks", "fillrandom"])
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn shaledb bench");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let has_files = |dir: &std::path::Path| {
            std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
        };
        while !has_files(tmp.path()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            has_files(tmp.path()),
            "the bench made no temporary directory"
        );
        // Let the fill start writing before the signal.
        std::thread::sleep(std::time::Duration::from_millis(300));
        // The shell's own kill, so no kill binary need be installed.
        let killed = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {}", child.id()))
            .status()
            .expect("run sh");
        assert!(killed.success());
        let status = child.wait().expect("wait for the bench");
        assert_eq!(status.code(), Some(130), "SIG{signal}");
        assert!(!has_files(tmp.path()), "SIG{signal} left files in TMPDIR");
    }
}

/// Found by review: seekrandom counted a seek as found when it read any entry, so it
/// printed nearly every seek as found; db_bench counts the seeks that land on the key
/// sought. After fillrandom about 63% of the key space exists.
#[test]
fn seekrandom_counts_as_found_only_seeks_that_land_on_the_key_sought() {
    let out = shaledb()
        .args([
            "bench",
            "--num",
            "2000",
            "--reads",
            "1000",
            "--benchmarks",
            "fillrandom,seekrandom",
        ])
        .assert()
        .success();
    let text = stdout_of(out.get_output());
    let line = text
        .lines()
        .find(|l| is_db_bench_line(l, "seekrandom"))
        .unwrap_or_else(|| panic!("no seekrandom line in\n{text}"));
    let found: u64 = line
        .split('(')
        .nth(1)
        .and_then(|m| m.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no found count in {line}"));
    assert!(line.ends_with("of 1000 found)"), "{line}");
    assert!((500..=750).contains(&found), "{line}");
}
