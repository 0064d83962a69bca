//! An HTTP server for a checkpoint: dynamic batching over worker threads, limits, Prometheus
//! metrics, and a graceful shutdown on Ctrl-C or SIGTERM (in-flight requests are answered).
//!
//! ```text
//! cargo run --release --example serve -- --model runs/minilm-cpu/checkpoint --port 8000
//! curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"texts": ["Thank you so much!"]}'
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Parser;
use goemo::model::{keep_freed_memory, parse_device, set_threads, EmotionClassifier, InferenceMode};
use goemo::serve::{serve, shutdown_signal, EmotionService, Limits, ServiceOptions};

#[derive(Parser, Debug)]
#[command(about = "Serve a checkpoint over HTTP with dynamic batching")]
struct Args {
    /// Checkpoint folder (config.json, model.safetensors, tokenizer.json) or a Hub id.
    #[arg(long)]
    model: String,
    /// Address to listen on (127.0.0.1 serves this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Texts per model batch at most (1 turns batching off).
    #[arg(long, default_value_t = ServiceOptions::default().max_batch)]
    max_batch: usize,
    /// Texts per forward pass inside a batch (sorted by length, so that short texts are not
    /// padded to long ones).
    #[arg(long, default_value_t = 8)]
    forward_batch: usize,
    /// Milliseconds a worker waits for more requests after the first of a batch.
    #[arg(long, default_value_t = ServiceOptions::default().max_wait.as_secs_f64() * 1e3)]
    max_wait_ms: f64,
    /// Texts waiting at most; beyond, requests get 503 with Retry-After.
    #[arg(long, default_value_t = ServiceOptions::default().max_queue)]
    max_queue: usize,
    /// Worker threads, each with its own copy of the model.
    #[arg(long, default_value_t = ServiceOptions::default().workers)]
    workers: usize,
    /// Threads of the HTTP side; the rest of the cores go to the model.
    #[arg(long, default_value_t = 1)]
    http_threads: usize,
    /// libtorch threads in all (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// libtorch threads of each worker, set on its own thread (0: as --threads).
    #[arg(long, default_value_t = 0)]
    threads_per_worker: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// fp32; bf16 (autocast: oneDNN on the CPU, tensor cores on a GPU); int8 (the encoder's
    /// Linear layers quantized at load, one scale per token, CPU); or auto, the fastest here.
    #[arg(long, default_value = "fp32")]
    mode: InferenceMode,
    /// Milliseconds before an unanswered request gets 504.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Texts per request at most.
    #[arg(long, default_value_t = Limits::default().max_texts)]
    max_texts: usize,
    /// Bytes per text at most.
    #[arg(long, default_value_t = Limits::default().max_text_bytes)]
    max_text_bytes: usize,
    /// Bytes per request body at most.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    keep_freed_memory();
    set_threads(args.threads);
    let device = parse_device(&args.device)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let options = ServiceOptions {
        max_batch: args.max_batch.max(1),
        max_wait: Duration::from_secs_f64(args.max_wait_ms.max(0.0) / 1e3),
        max_queue: args.max_queue,
        workers: args.workers.max(1),
        timeout,
    };
    let (model, mode, forward_batch) = (args.model.clone(), args.mode, args.forward_batch);
    let per_worker = args.threads_per_worker;
    // Every worker runs the same mode: the first to load says which, after the address.
    let described = Arc::new(OnceLock::new());
    let first_described = described.clone();
    let service = EmotionService::start(
        move |_| {
            set_threads(per_worker);
            let classifier = EmotionClassifier::load_on(&model, device)?
                .with_batch_size(forward_batch)
                .with_mode(mode)?;
            let _ = first_described.set(classifier.describe_mode(mode));
            Ok(classifier)
        },
        options,
    )?;
    let limits = Limits {
        max_texts: args.max_texts,
        max_text_bytes: args.max_text_bytes,
        max_body_bytes: args.max_body_bytes,
        timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.http_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
        eprintln!(
            "serving {} ({} labels) on http://{}",
            args.model,
            service.labels().len(),
            listener.local_addr()?
        );
        if let Some(line) = described.get() {
            eprintln!("{line}");
        }
        serve(listener, service, limits, shutdown_signal()).await?;
        eprintln!("stopped: every accepted request was answered");
        Ok(())
    })
}
