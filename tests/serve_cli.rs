//! The `serve` example under load, on loopback only: SIGTERM answers every accepted request and
//! exits 0; four times the rate 8 clients get, for 30 s, gets every request a 200 or a 503 with memory
//! bounded, and the server serves normally afterwards; clients that go away free their places.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join(name)
}

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// A running server, killed when dropped, so that a failed test leaves none behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tiny_bert() -> String {
    format!("{}/crates/goemo-model/tests/fixtures/tiny-bert", root())
}

/// A server of `model` on a free loopback port, and its address.
fn serve(model: &str, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(example("serve"))
        .args(["--model", model, "--port", "0", "--threads", "1"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let address = first.rsplit("http://").next().unwrap().trim().to_string();
    assert!(first.contains("serving"), "{first}");
    let mode = lines.next().unwrap().unwrap();
    assert!(
        mode.starts_with("inference: ") && mode.contains(" on cpu, 1 thread"),
        "{mode}"
    );
    // Keep draining the server's standard error so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), address)
}

fn loadgen(address: &str, args: &[&str]) -> Value {
    let out = Command::new(example("loadgen"))
        .args(["--url", &format!("http://{address}/predict")])
        .args(["--texts", &format!("{}/data/goemotions/test.tsv", root())])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn health(address: &str) -> Option<Value> {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", &format!("http://{address}/health")])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// SIGTERM, then the exit status.
fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    server.0.wait().unwrap()
}

#[test]
fn sigterm_under_load_answers_every_accepted_request_and_exits_0() {
    let (mut server, address) = serve(&tiny_bert(), &[]);
    let load = {
        let address = address.clone();
        std::thread::spawn(move || {
            loadgen(
                &address,
                &["--concurrency", "16", "--requests", "100000", "--max-seconds", "20"],
            )
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let status = terminate(&mut server);
    assert!(status.success(), "{status}");
    let summary = load.join().unwrap();
    let by_status = summary["by_status"].as_object().unwrap();
    assert!(summary["ok"].as_u64().unwrap() > 50, "{summary}");
    // Requests sent after the listener closed cannot connect; none that was accepted failed.
    for (status, _) in by_status {
        assert!(status == "200" || status == "connection error", "{summary}");
    }
}

#[test]
fn four_times_the_measured_rate_for_30_s_gets_200_or_503_and_then_normal_service() {
    // A real encoder on one thread: the server, not the load generator beside it on the same
    // cores, is what runs out of capacity (a tiny model answers as fast as requests can be made).
    let minilm = format!("{}/data/models/all-MiniLM-L6-v2", root());
    let (mut server, address) = serve(&minilm, &["--max-queue", "64"]);
    let sustainable = loadgen(
        &address,
        &["--concurrency", "8", "--requests", "100000", "--max-seconds", "3"],
    );
    let rate = sustainable["throughput_ok_per_s"].as_f64().unwrap();
    let before = resident_kib(server.0.id());
    let started = Instant::now();
    let overload = {
        // Four times: the rate measured with 8 clients undercounts what the server sustains
        // with 256 (its batches fill up), by up to about 2x on 2 cores.
        let (address, rate) = (address.clone(), format!("{}", 4.0 * rate));
        std::thread::spawn(move || {
            loadgen(
                &address,
                &[
                    "--concurrency",
                    "256",
                    "--requests",
                    "10000000",
                    "--max-seconds",
                    "30",
                    "--rate",
                    &rate,
                ],
            )
        })
    };
    let mut peak = before;
    while started.elapsed() < Duration::from_secs(29) {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(resident_kib(server.0.id()));
    }
    let summary = overload.join().unwrap();
    let by_status = summary["by_status"].as_object().unwrap();
    for (status, _) in by_status {
        assert!(
            status == "200" || status == "503",
            "every request gets 200 or 503: {summary}"
        );
    }
    assert!(
        by_status.contains_key("503"),
        "four times the measured rate must be refused in part: {summary}"
    );
    assert!(
        summary["ok"].as_u64().unwrap() as f64 > 0.5 * rate * 30.0,
        "{summary} at {rate}/s"
    );
    assert!(
        peak < before + 300 * 1024,
        "resident memory grew from {before} to {peak} KiB"
    );
    let after = loadgen(&address, &["--concurrency", "4", "--requests", "200"]);
    assert_eq!(after["ok"], 200, "normal service afterwards: {after}");
    assert_eq!(health(&address).unwrap()["queued_texts"], 0);
    assert!(terminate(&mut server).success());
}

#[test]
fn clients_that_go_away_free_their_places_in_the_queue() {
    let (mut server, address) = serve(&tiny_bert(), &["--max-batch", "1", "--max-queue", "4096"]);
    let body = serde_json::json!({ "texts": vec!["a long and winding text about feelings"; 64] }).to_string();
    let impatient: Vec<_> = (0..30)
        .map(|_| {
            Command::new("curl")
                .args([
                    "-s",
                    "-m",
                    "0.05",
                    "-o",
                    "/dev/null",
                    "-H",
                    "content-type: application/json",
                ])
                .args(["-d", &body, &format!("http://{address}/predict")])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in impatient {
        let _ = c.wait();
    }
    let start = Instant::now();
    while health(&address).unwrap()["queued_texts"] != 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        health(&address).unwrap()["queued_texts"],
        0,
        "abandoned requests left the queue"
    );
    let after = loadgen(&address, &["--concurrency", "2", "--requests", "20"]);
    assert_eq!(after["ok"], 20, "{after}");
    assert!(terminate(&mut server).success());
}

fn post_text(address: &str, text: &str) -> Value {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-H", "content-type: application/json"])
        .args(["-d", &serde_json::json!({ "text": text }).to_string()])
        .arg(format!("http://{address}/predict"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_checkpoint_with_calibration_json_is_served_calibrated() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("calibrated");
    std::fs::create_dir(&checkpoint).unwrap();
    for entry in std::fs::read_dir(tiny_bert()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), checkpoint.join(entry.file_name())).unwrap();
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(checkpoint.join("config.json")).unwrap()).unwrap();
    let labels: Vec<String> = (0..config["id2label"].as_object().unwrap().len())
        .map(|i| config["id2label"][i.to_string()].as_str().unwrap().to_string())
        .collect();
    // σ(logit(p) − 3): every score lowered, as a calibration of inflated scores does.
    let entries: Vec<Value> = labels
        .iter()
        .map(|l| serde_json::json!({"label": l, "method": "platt", "slope": 1.0, "intercept": -3.0}))
        .collect();
    std::fs::write(
        checkpoint.join("calibration.json"),
        serde_json::json!({"method": "platt", "examples": 10, "labels": entries}).to_string(),
    )
    .unwrap();
    let text = "thank you so much, this made my day";
    let (_raw_server, raw_address) = serve(&tiny_bert(), &[]);
    let (_calibrated_server, calibrated_address) = serve(checkpoint.to_str().unwrap(), &[]);
    let raw = post_text(&raw_address, text);
    let calibrated = post_text(&calibrated_address, text);
    assert_eq!(
        (raw["calibrated"].as_bool(), calibrated["calibrated"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(health(&calibrated_address).unwrap()["calibrated"], Value::Bool(true));
    for label in &labels {
        let p = raw["predictions"][0]["scores"][label].as_f64().unwrap();
        let want = 1.0 / (1.0 + (-((p / (1.0 - p)).ln() - 3.0)).exp());
        let got = calibrated["predictions"][0]["scores"][label].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{label}: {got} against {want}");
    }
}
