//! Achieved GFLOP/s of goemo's training steps on this machine, against its peak: FLOPs counted
//! from each batch's shape, time split into batch building, forward, backward and the
//! optimiser (clipping and fused AdamW). Prints a markdown table.
//!
//! ```text
//! cargo run --release --example bench_train_flops -- --config configs/minilm-cpu.toml --steps 60 --skip 10
//! ```
//! FLOPs of a step on B texts of T tokens: 6 · (encoder Linear parameters) · B · T (forward 2,
//! backward 4) + 12 · L · B · T² · H (attention); embeddings, norms, activations left out (< 1 %).

use std::time::Instant;

use clap::Parser;
use goemo::data::{Batcher, DataSource, GoEmotionsTsv, HfTokenizer, Split, Tokenize};
use goemo::model::{resolve_model, set_threads, LoadOptions, SequenceClassifier, TensorBatch, TrainableModel};
use goemo::run::RunConfig;
use goemo::train::{Loss, LrSchedule};
use tch::{Device, Kind, Tensor};

#[derive(Parser, Debug)]
#[command(about = "Achieved GFLOP/s of training steps against the machine's peak")]
struct Cli {
    #[arg(long, default_value = "configs/minilm-cpu.toml")]
    config: String,
    /// Steps to run; the first `skip` are warm-up.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    #[arg(long, default_value_t = 10)]
    skip: usize,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed().as_secs_f64())
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = RunConfig::from_toml_file(&cli.config)?;
    set_threads(config.threads);
    tch::manual_seed(config.seed as i64);
    let data = GoEmotionsTsv::new(&config.data).load()?;
    let dir = resolve_model(&config.model)?;
    let options = LoadOptions {
        head: config.head,
        labels: Some(data.labels.names().to_vec()),
        dropout: config.dropout,
        ..LoadOptions::default()
    };
    let model = SequenceClassifier::load(&dir, Device::Cpu, &options)?;
    let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), config.max_seq_length)?
        .with_pad_id(model.config().pad_token_id as u32);
    let texts: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
    let ids = tokenizer.encode_batch(&texts)?;
    let targets = data.targets(Split::Train);
    let batcher = Batcher::new(&ids, tokenizer.pad_id())
        .with_targets(targets.view())?
        .with_token_type_ids(model.uses_token_types());
    let loss = Loss::Asymmetric {
        gamma_pos: config.asl_gamma_pos,
        gamma_neg: config.asl_gamma_neg,
        clip: config.asl_clip,
    };
    let train_config = config.train_config(loss.clone());
    let total = train_config.total_steps(ids.len());
    let schedule = train_config.schedule(total);
    let mut optimizer = train_config.optimizer(model.named_parameters())?;

    // Parameters of the encoder's matrix products: every 2-D weight of its layers.
    let c = model.config();
    let linear: i64 = model
        .named_parameters()
        .iter()
        .filter(|(n, t)| t.dim() == 2 && n.contains(".layer."))
        .map(|(_, t)| t.numel() as i64)
        .sum();
    let plan = batcher.train_plan(config.batch_size, train_config.bucket_batches, config.seed, 0)?;
    let (mut flops, mut build, mut forward, mut backward, mut step) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, indices) in plan.iter().take(cli.steps).enumerate() {
        let (batch, t_build) = timed(|| TensorBatch::new(&batcher.batch(indices), Device::Cpu));
        let batch = batch?;
        let (b, t) = batch.input_ids.size2()?;
        let (value, t_forward) = timed(|| -> Result<Tensor, Box<dyn std::error::Error>> {
            let logits = model.forward_t(&batch, true)?;
            let targets = batch.targets.as_ref().ok_or("no targets")?;
            Ok(loss.compute(&logits.f_to_kind(Kind::Float)?, targets)?)
        });
        let value = value?;
        let (result, t_backward) = timed(|| value.f_backward());
        result?;
        optimizer.set_learning_rate(schedule.lr(i as u64));
        let (result, t_step) = timed(|| optimizer.step());
        result?;
        if i >= cli.skip {
            let (b, t, h, layers) = (b as f64, t as f64, c.hidden_size as f64, c.num_layers as f64);
            flops += 6.0 * linear as f64 * b * t + 12.0 * layers * b * t * t * h;
            (build, forward, backward, step) = (
                build + t_build,
                forward + t_forward,
                backward + t_backward,
                step + t_step,
            );
        }
    }
    let seconds = build + forward + backward + step;
    let achieved = flops / seconds / 1e9;
    let gemm = gemm_gflops();
    let (peak, peak_how) = goemo::system::cpu_peak_gflops(config.threads.max(1));
    let (steps, skip, name) = (cli.steps.saturating_sub(cli.skip), cli.skip, &cli.config);
    println!(
        "{steps} steps of {name} (after {skip} warm-up), {} threads\n",
        config.threads
    );
    println!("| measure | value |\n| --- | ---: |");
    println!("| training FLOPs counted | {:.1} TFLOP |", flops / 1e12);
    println!(
        "| time: batches / forward / backward / clip + AdamW | {build:.1} / {forward:.1} / {backward:.1} / {step:.1} s |"
    );
    println!("| achieved | {achieved:.1} GFLOP/s |");
    println!("| libtorch fp32 GEMM on this machine (1024×384×1536, the best shape of the run) | {gemm:.1} GFLOP/s ({:.0} % achieved) |", 100.0 * achieved / gemm);
    println!(
        "| theoretical fp32 peak ({peak_how}) | {peak:.1} GFLOP/s ({:.0} % achieved) |",
        100.0 * achieved / peak
    );
    Ok(())
}

/// libtorch's sustained fp32 matrix product rate on a training-sized shape.
fn gemm_gflops() -> f64 {
    let a = Tensor::randn([1024, 384], (Kind::Float, Device::Cpu));
    let w = Tensor::randn([1536, 384], (Kind::Float, Device::Cpu));
    for _ in 0..3 {
        let _ = a.matmul(&w.tr());
    }
    let ((), seconds) = timed(|| {
        for _ in 0..30 {
            let _ = a.matmul(&w.tr());
        }
    });
    30.0 * 2.0 * 1024.0 * 384.0 * 1536.0 / seconds / 1e9
}
