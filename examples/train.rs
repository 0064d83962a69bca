//! Fine-tunes an encoder on GoEmotions and writes every artifact of the run to
//! `OUTPUT_DIR/RUN_NAME/`: checkpoint (with fitted thresholds), metrics.json, predictions,
//! per-class metrics, train_log.jsonl, report.md and per_emotion_f1.png.
//!
//! ```text
//! cargo run --release --example train -- --config configs/minilm-cpu.toml
//! cargo run --release --example train -- --config configs/minilm-cpu.toml --resume
//! ```
//! Flags override the config file; the file overrides the defaults (`--help` lists them).
//!
//! Under `torchrun` it trains data-parallel, one process per rank (docs/distributed.md):
//! ```text
//! torchrun --nproc-per-node 2 --no-python target/release/examples/train --config configs/minilm-cpu.toml
//! ```

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use goemo::run::{parse_layered, Experiment, Launch, RunConfig, RunError};
use goemo::train::TrainError;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

#[derive(Parser, Debug)]
#[command(about = "Fine-tune an encoder on GoEmotions")]
struct Cli {
    /// A TOML file with any of the options below (same names, with underscores).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in OUTPUT_DIR/RUN_NAME from its saved state.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    run: RunConfig,
}

fn main() {
    // Ctrl-C or SIGTERM: save the state at the next step and stop; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        let _ = flag::register_conditional_shutdown(signal, 130, stop.clone());
        let _ = flag::register(signal, stop.clone());
    }
    let outcome = parse_layered(std::env::args_os(), |cli: &Cli| cli.config.as_deref()).and_then(|cli| {
        Experiment::new(cli.run)
            .resuming(cli.resume)
            .with_stop_flag(stop)
            .with_launch(Launch::from_env()?)
            .run()
    });
    match outcome {
        Ok(outcome) if outcome.leader => println!("{}", outcome.summary()),
        Ok(_) => {}
        Err(RunError::Cli(e)) => e.exit(),
        Err(RunError::Train(TrainError::Interrupted { step })) => {
            let mut command: Vec<String> = std::env::args().filter(|a| a != "--resume").collect();
            command.push("--resume".into());
            eprintln!(
                "stopped after step {step}; the state is saved. Continue with:\n  {}",
                command.join(" ")
            );
            std::process::exit(130);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
