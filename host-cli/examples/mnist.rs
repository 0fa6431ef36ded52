//! Trains MNIST through `host_cli::run` and reports time per epoch, test
//! accuracy and inference throughput, with the flags of `host-cli train`.
//!
//! ```sh
//! cargo run --release -p host-cli --example mnist -- --data ../shared/data/mnist \
//!     --hidden 128 --epochs 10 --batch-size 32 --lr 0.05 --momentum 0.9 --l2 1e-4 --threads 1
//! ```
//!
//! Prints one line per epoch and, last, one JSON object.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use host_cli::arch::{self, Architecture, HiddenActivation, NetworkVisitor};
use host_cli::engine::{self, DenseStack};
use host_cli::idx;
use host_cli::optim::AnyOptimizer;
use host_cli::parallel::{available_threads, with_team};
use host_cli::run::{EpochRecord, RunOptions, Start, Training};
use mlp_core::optim::Momentum;
use mlp_core::schedule::Schedule;
use mlp_core::{Init, Network, TrainConfig, Zeroed};

#[derive(Debug, Parser)]
struct Args {
    /// The MNIST directory (the four IDX files, gzipped or not).
    #[arg(long, default_value = "../shared/data/mnist")]
    data: PathBuf,
    /// Hidden layers, e.g. 128 or 256,128.
    #[arg(long, default_value = "128", value_delimiter = ',')]
    hidden: Vec<usize>,
    #[arg(long, default_value_t = 10)]
    epochs: u32,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, default_value_t = 1e-4)]
    l2: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// At most this many training and test images.
    #[arg(long)]
    max_samples: Option<usize>,
    /// The peers' initialiser instead of He uniform.
    #[arg(long)]
    glorot: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let start = Instant::now();
    let mnist = idx::load_mnist(&args.data, args.max_samples)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let train = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        schedule: Schedule::constant(args.lr),
        l2: args.l2,
        ..TrainConfig::new(AnyOptimizer::Momentum(Momentum { momentum: args.momentum }))
    };
    let init = if args.glorot { Init::GlorotUniform } else { Init::HeUniform };
    let options = RunOptions { train, init, seed: args.seed, threads: args.threads, early_stopping: None };
    let arch =
        Architecture { inputs: 784, hidden: args.hidden.clone(), outputs: 10, activation: HiddenActivation::Relu };
    let mut last = Instant::now();
    let on_epoch = |r: &EpochRecord| {
        let now = Instant::now();
        eprintln!(
            "epoch {:>2}  loss {:.4}  train {:.4}  test {:.4}  ({:.2} s with the test evaluation)",
            r.epoch,
            r.loss,
            r.train_accuracy,
            r.test_accuracy,
            (now - last).as_secs_f64()
        );
        last = now;
    };
    let training = Training {
        train: &mnist.train,
        test: &mnist.test,
        validation: None,
        options: &options,
        start: &Start::Fresh,
        stop: None,
        metadata: "",
        on_epoch,
    };
    let outcome = arch::with_network(&arch, training)??;
    let threads = options.thread_count();
    // Inference over the test set with the trained weights, on one thread and on all.
    let model = outcome.model.clone();
    let rates =
        arch::with_network(&arch, Inference { model: &model, data: &mnist.test, threads })?.context("inference")?;
    let train_seconds = outcome.train_time.as_secs_f64();
    let epochs = outcome.history.len().max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "architecture": arch.name(),
            "threads": threads,
            "vector_unit": host_cli::accel::vector_unit().name(),
            "epochs": outcome.history.len(),
            "load_seconds": load_seconds,
            "train_seconds": train_seconds,
            "seconds_per_epoch": train_seconds / epochs,
            "test_accuracy": host_cli::run::accuracy(&outcome.test),
            "train_accuracy": host_cli::run::accuracy(&outcome.train),
            "infer_samples_per_second_one_thread": rates.0,
            "infer_samples_per_second": rates.1,
            "available_threads": available_threads(),
        })
    );
    Ok(())
}

/// Test-set inference throughput of a saved model, one thread and `threads`.
struct Inference<'a> {
    model: &'a [u8],
    data: &'a idx::IdxSet,
    threads: usize,
}

impl NetworkVisitor for Inference<'_> {
    type Output = anyhow::Result<(f64, f64)>;
    fn visit<N, const I: usize, const O: usize>(self) -> Self::Output
    where
        N: Network<Scalar = f32, Input = [f32; I], Output = [f32; O]> + Zeroed + DenseStack,
    {
        let mut net = host_cli::boxed::zeroed_box::<N>();
        mlp_core::model::read_model(self.model, &mut *net).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let unit = host_cli::accel::vector_unit();
        let rate = |threads: usize| {
            with_team(threads, |team| {
                // At least 20 000 samples, as the peers measure it.
                let rounds = 20_000usize.div_ceil(self.data.len());
                let start = Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(engine::evaluate::<N, O>(&net, self.data, team, unit));
                }
                (rounds * self.data.len()) as f64 / start.elapsed().as_secs_f64()
            })
        };
        Ok((rate(1), rate(self.threads)))
    }
}
