//! A bounded load generator for a goemo (or any) `/predict` server on this machine: C
//! concurrent clients each send one text per request, drawn in turn from a file of texts (the
//! first tab-separated column of each line, so GoEmotions' test.tsv works as it is). With
//! `--rate`, requests start on a fixed schedule (open loop) instead of one after another.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8000/predict \
//!     --texts data/goemotions/test.tsv --concurrency 32 --requests 2000
//! ```
//! Prints one JSON line: throughput, latency percentiles and answers by status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Load a /predict endpoint on this machine, bounded in requests and time")]
struct Args {
    /// The endpoint; only loopback hosts (127.0.0.0/8, localhost, [::1]) are accepted.
    #[arg(long)]
    url: String,
    /// Texts, one per line (first tab-separated column).
    #[arg(long)]
    texts: std::path::PathBuf,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests in all.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Stop sending after this many seconds, whatever is left.
    #[arg(long, default_value_t = 120.0)]
    max_seconds: f64,
    /// Requests per second on a fixed schedule (open loop); 0: each client waits for its answer.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

fn loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let url = reqwest::Url::parse(&args.url)?;
    if !loopback(&url) {
        return Err(format!("{url} is not on this machine: only loopback hosts are loaded").into());
    }
    let text = std::fs::read_to_string(&args.texts).map_err(|e| format!("{}: {e}", args.texts.display()))?;
    let texts: Arc<Vec<String>> = Arc::new(
        text.lines()
            .filter_map(|l| l.split('\t').next().filter(|t| !t.trim().is_empty()).map(String::from))
            .collect(),
    );
    if texts.is_empty() {
        return Err(format!("{} has no texts", args.texts.display()).into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.max_seconds);
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, texts, next) = (client.clone(), url.clone(), texts.clone(), next.clone());
        let total = args.requests;
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                if let Some(every) = interval {
                    tokio::time::sleep_until((started + every * i as u32).into()).await;
                }
                let body = json!({ "text": texts[i % texts.len()] });
                let sent = Instant::now();
                let status = match client.post(url.clone()).json(&body).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16().to_string();
                        let _ = r.bytes().await;
                        status
                    }
                    Err(_) => "connection error".to_string(),
                };
                results.push((status, sent.elapsed().as_secs_f64() * 1e3));
            }
            results
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (status, _) in &results {
        *by_status.entry(status.clone()).or_default() += 1;
    }
    let mut ok: Vec<f64> = results.iter().filter(|(s, _)| s == "200").map(|r| r.1).collect();
    ok.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        ok.get(((ok.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
    };
    let summary = json!({
        "requests": results.len(), "seconds": seconds, "ok": ok.len(),
        "throughput_ok_per_s": ok.len() as f64 / seconds,
        "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
        "by_status": by_status, "concurrency": args.concurrency, "rate": args.rate,
    });
    println!("{summary}");
    Ok(())
}
