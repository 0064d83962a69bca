//! Data-parallel `train` on the CPU with Gloo, launched by `torchrun` (from .venv) or by hand
//! with its variables, on the tiny checkpoint and a subset of GoEmotions:
//! - 2 ranks equal 1 process over the same global batches (parameters within 1e-5), with each
//!   gradient bucket summed while the backward pass still runs;
//! - a rank killed with SIGKILL under `torchrun --max-restarts 1`: the group restarts from the
//!   saved state and ends with the uninterrupted distributed run's metrics;
//! - two "nodes" (two torchrun invocations) on this machine;
//! - a configuration mismatch, a dead rank and a hung rank end with clear errors within the
//!   timeout.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn train_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join("train")
}

fn torchrun() -> PathBuf {
    Path::new(root()).join(".venv/bin/torchrun")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A small run: 640 examples, global batches of 32, no dropout (so that the split of a batch
/// over ranks is the only difference between runs), state saved every 4 steps.
fn run_args(out: &Path, name: &str, epochs: usize) -> Vec<String> {
    let root = root();
    let args = [
        "--model",
        &format!("{root}/crates/goemo-model/tests/fixtures/tiny-bert"),
        "--data",
        &format!("{root}/data/goemotions"),
        "--max-train-samples",
        "640",
        "--epochs",
        &epochs.to_string(),
        "--batch-size",
        "32",
        "--lr",
        "1e-3",
        "--dropout",
        "0",
        "--save-every",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        // Exact gradient sums are compared: fp32, whatever `auto` picks on this CPU.
        "--precision",
        "fp32",
        "--dist-timeout",
        "20",
        "--output-dir",
        out.to_str().unwrap(),
        "--run-name",
        name,
    ];
    args.iter().map(std::string::ToString::to_string).collect()
}

fn check(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `torchrun` with `launcher` options running `train` with `args`.
fn torchrun_train(launcher: &[&str], args: &[String]) -> Command {
    let mut command = Command::new(torchrun());
    command
        .args(launcher)
        .args(["--no-python", train_binary().to_str().unwrap()])
        .args(args)
        .env("OMP_NUM_THREADS", "1");
    command
}

/// `train` as rank `rank` of `world`, launched by hand with torchrun's variables.
fn rank_process(rank: usize, world: usize, port: u16, args: &[String]) -> Child {
    Command::new(train_binary())
        .args(args)
        .env("RANK", rank.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn metrics(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

fn weights(dir: &Path) -> Vec<(String, tch::Tensor)> {
    let mut w = tch::Tensor::read_safetensors(dir.join("checkpoint/model.safetensors")).unwrap();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

fn max_abs_difference(a: &[(String, tch::Tensor)], b: &[(String, tch::Tensor)]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta - tb).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

/// The dev metrics of every epoch, and the test metrics.
fn scores(m: &Value) -> Vec<f64> {
    let mut v = vec![];
    for epoch in m["history"].as_array().unwrap() {
        for key in ["train_loss", "dev_loss"] {
            v.push(epoch[key].as_f64().unwrap());
        }
        for key in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
            v.push(epoch["dev"][key].as_f64().unwrap());
        }
    }
    for key in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
        v.push(m["test"][key].as_f64().unwrap());
    }
    v
}

fn assert_close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tolerance, "{what}: {a:?} vs {b:?}");
    }
}

/// Two ranks taking 16 examples each of every global batch of 32 train the same model as one
/// process taking all 32: gradients are summed exactly, so only the order of float additions
/// differs (parameters agree to ~1e-7 after 40 steps; the bound is 1e-5).
#[test]
fn two_ranks_train_what_one_process_trains() {
    let out = tempfile::tempdir().unwrap();
    check(
        Command::new(train_binary())
            .args(run_args(out.path(), "one", 2))
            .output()
            .unwrap(),
        "one process",
    );
    let launcher = ["--nproc-per-node", "2", "--master-port", &free_port().to_string()];
    // Buckets of about 20 KB: the tiny model's gradients in several, summed as backward completes
    // each.
    let mut two_ranks = run_args(out.path(), "two", 2);
    two_ranks.extend(["--bucket-mb".to_string(), "0.02".to_string()]);
    let output = check(
        torchrun_train(&launcher, &two_ranks).output().unwrap(),
        "torchrun with 2 ranks",
    );
    // Rank 0 alone reports: one summary line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("test (").count(), 1, "{stdout}");

    let (one, two) = (out.path().join("one"), out.path().join("two"));
    let difference = max_abs_difference(&weights(&one), &weights(&two));
    eprintln!("largest parameter difference, 2 ranks against 1 process: {difference:.2e}");
    assert!(difference < 1e-5, "parameters differ by {difference}");
    let (m1, m2) = (metrics(&one), metrics(&two));
    assert_eq!(m2["world_size"], 2);
    assert_eq!(m1["steps"], m2["steps"]);
    // Every step after the first (which lays the buckets out) sums during its backward pass.
    let buckets = &m2["gradient_buckets"];
    let (during, summed) = (
        buckets["started_during_backward"].as_u64().unwrap(),
        buckets["summed_by_backward_reduction"].as_u64().unwrap(),
    );
    let steps = m2["steps"].as_u64().unwrap();
    eprintln!("gradient buckets: {during} of {summed} started during backward, {steps} steps");
    assert!(summed >= 4 * (steps - 1) && during > summed / 2, "{buckets}");
    // Losses and AUCs agree to float noise; an F1 at a threshold can move by one prediction.
    let (s1, s2) = (scores(&m1), scores(&m2));
    assert_close(&s1, &s2, 2e-3, "dev and test metrics");
    let auc = |s: &[f64]| s.iter().step_by(6).copied().collect::<Vec<_>>();
    assert_close(&auc(&s1), &auc(&s2), 1e-5, "train losses");
    // The other rank wrote nothing of its own: one log line per step.
    let log = std::fs::read_to_string(two.join("train_log.jsonl")).unwrap();
    assert_eq!(log.lines().count() as u64, m2["steps"].as_u64().unwrap());
}

/// The pid of the process whose environment has `RANK=rank` among `parent`'s descendants.
fn rank_pid(parent: u32, rank: usize) -> Option<u32> {
    let wanted = format!("RANK={rank}");
    let mut frontier = vec![parent];
    while let Some(pid) = frontier.pop() {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap_or_default();
            let is_train = std::fs::read_link(format!("/proc/{child}/exe"))
                .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "train"));
            if is_train && environ.split(|&b| b == 0).any(|v| v == wanted.as_bytes()) {
                return Some(child);
            }
            frontier.push(child);
        }
    }
    None
}

fn log_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("train_log.jsonl")).map_or(0, |s| s.lines().count())
}

/// SIGKILL of rank 1 mid-run under `torchrun --max-restarts 1`: torchrun restarts the group,
/// which resumes from the last saved state and ends with the uninterrupted run's metrics.
#[test]
fn a_killed_rank_restarts_the_group_from_the_saved_state() {
    let out = tempfile::tempdir().unwrap();
    let launcher = |port: u16| {
        [
            "--nproc-per-node".to_string(),
            "2".into(),
            "--max-restarts".into(),
            "1".into(),
            "--master-port".into(),
            port.to_string(),
        ]
    };
    let whole_launcher = launcher(free_port());
    let whole_launcher: Vec<&str> = whole_launcher.iter().map(String::as_str).collect();
    check(
        torchrun_train(&whole_launcher, &run_args(out.path(), "whole", 3))
            .output()
            .unwrap(),
        "the uninterrupted run",
    );

    let killed_launcher = launcher(free_port());
    let killed_launcher: Vec<&str> = killed_launcher.iter().map(String::as_str).collect();
    let child = torchrun_train(&killed_launcher, &run_args(out.path(), "killed", 3))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = out.path().join("killed");
    let started = Instant::now();
    // Past the first saved state (step 4) and well before the end (60 steps).
    while log_lines(&dir) < 10 {
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rank_pid(child.id(), 1).expect("rank 1 runs under torchrun");
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the restarted group failed: {stderr}");
    // Rank 0 announces the group at each start: the first attempt and the restart.
    assert_eq!(
        stderr.matches("data-parallel: 2 ranks").count(),
        2,
        "no restart: {stderr}"
    );
    assert!(
        stderr.contains("resumed at step"),
        "the restart did not resume: {stderr}"
    );

    let (whole, killed) = (metrics(&out.path().join("whole")), metrics(&dir));
    assert_eq!(whole["steps"], killed["steps"]);
    assert_eq!(scores(&whole), scores(&killed), "the restarted run ends elsewhere");
    let difference = max_abs_difference(&weights(&out.path().join("whole")), &weights(&dir));
    assert_eq!(difference, 0.0, "the restarted run's weights differ");
}

/// Two torchrun invocations of one process each, as two nodes of one job meeting at
/// 127.0.0.1: the same run as two processes of one node.
#[test]
fn two_nodes_meet_through_the_rendezvous() {
    let out = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let node = |rank: &str| {
        let launcher = [
            "--nnodes",
            "2",
            "--nproc-per-node",
            "1",
            "--node-rank",
            rank,
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            &port,
        ];
        torchrun_train(&launcher, &run_args(out.path(), "nodes", 1))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (node0, node1) = (node("0"), node("1"));
    check(node1.wait_with_output().unwrap(), "node 1");
    let output = check(node0.wait_with_output().unwrap(), "node 0");
    assert!(String::from_utf8_lossy(&output.stdout).contains("test ("));

    let single = ["--nproc-per-node", "2", "--master-port", &free_port().to_string()];
    check(
        torchrun_train(&single, &run_args(out.path(), "single", 1))
            .output()
            .unwrap(),
        "one node",
    );
    let (nodes, single) = (metrics(&out.path().join("nodes")), metrics(&out.path().join("single")));
    assert_eq!(nodes["world_size"], 2);
    assert_eq!(scores(&nodes), scores(&single));
}

/// A rank with another learning rate: every rank stops at start with an error naming `lr`.
#[test]
fn ranks_with_different_configurations_refuse_to_train() {
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut other = run_args(out.path(), "mismatch", 1);
    let at = other.iter().position(|a| a == "--lr").unwrap();
    other[at + 1] = "2e-3".into();
    let ranks = [
        rank_process(0, 2, port, &run_args(out.path(), "mismatch", 1)),
        rank_process(1, 2, port, &other),
    ];
    for (rank, child) in ranks.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "rank {rank} trained");
        assert!(
            stderr.contains("different configurations") && stderr.contains("`lr`"),
            "rank {rank}: {stderr}"
        );
    }
    assert!(!out.path().join("mismatch/metrics.json").exists());
}

/// Rank 1 dies (SIGKILL) or hangs (SIGSTOP) mid-run without torchrun: rank 0 fails within the
/// timeout with an error naming the collective and itself, instead of waiting for ever.
#[test]
fn a_dead_or_hung_rank_fails_the_other_within_the_timeout() {
    for signal in ["KILL", "STOP"] {
        let out = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut args = run_args(out.path(), "fault", 100);
        let at = args.iter().position(|a| a == "--dist-timeout").unwrap();
        args[at + 1] = "4".into();
        let rank0 = rank_process(0, 2, port, &args);
        let mut rank1 = rank_process(1, 2, port, &args);
        let dir = out.path().join("fault");
        let started = Instant::now();
        while log_lines(&dir) < 5 {
            assert!(started.elapsed() < Duration::from_secs(60), "the run did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Command::new("kill")
            .args([&format!("-{signal}"), &rank1.id().to_string()])
            .status()
            .unwrap();
        let signalled = Instant::now();
        let output = rank0.wait_with_output().unwrap();
        let waited = signalled.elapsed();
        let _ = rank1.kill();
        let _ = rank1.wait();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "SIG{signal}: rank 0 finished");
        assert!(
            waited < Duration::from_secs(15),
            "SIG{signal}: rank 0 waited {waited:?}"
        );
        let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
        assert!(
            error.contains("rank 0 of 2") && (error.contains("all-reduce") || error.contains("broadcast")),
            "SIG{signal}: {stderr}"
        );
    }
}
