//! The `netrex` command line: fit, evaluate and recommend. One module per subcommand; every
//! model kind trains and reports through one path (`train`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod device;
mod evaluate;
mod export;
mod fit;
mod guard;
mod index;
mod linear;
mod load;
mod next_item;
mod plan;
mod recommend;
mod report;
mod resume;
mod saved;
mod serve;
mod train;
mod tune;

use args::{EvaluateArgs, ExportArgs, FitArgs, IndexArgs, RecommendArgs, ServeArgs};

/// What a command that fails reports.
pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(
    name = "netrex",
    version,
    about = "Neural recommender models: fit, evaluate, recommend."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model, evaluate it on the test split, optionally save it.
    #[command(
        after_help = "Examples:\n  netrex fit --dataset ml-100k --split ua --model factorization --loss warp \\\n      --dim 128 --batch-size 1024 --epochs 10 --seed 0 --save model/\n  netrex fit --dataset ml-100k --split ua --loss warp --eval-every 1 --plot curve.svg\n  netrex fit --dataset ml-100k --split ua --loss warp --checkpoint-every 2 --save run/\n  netrex fit --dataset ml-100k --split ua --resume run/        # after an interruption\n  netrex fit --dataset ml-100k --model lstm --split user --dim 64 --threads 2"
    )]
    Fit(Box<FitArgs>),
    /// Evaluate a saved model (factorization or sequence) on a dataset's test split.
    #[command(
        after_help = "Example:\n  netrex evaluate --model model/ --dataset ml-100k --split ua --plot at-k.svg"
    )]
    Evaluate(Box<EvaluateArgs>),
    /// Recommend items for a user of a saved model (raw ids in, raw ids and titles out).
    #[command(after_help = "Example:\n  netrex recommend --model model/ --user 196 -k 10")]
    Recommend(RecommendArgs),
    /// Write a factorization model's user and item vectors (biases folded in) for a vector
    /// store: one inner product is the model's score.
    #[command(after_help = "Example:\n  netrex export --model model/ --out vectors/")]
    Export(ExportArgs),
    /// Build an HNSW graph over a factorization model's items and save it beside the model
    /// (`hnsw.bin`), for `netrex serve --approximate`.
    #[command(
        after_help = "Example:\n  netrex index --model model/ && netrex serve --model model/ --approximate 64"
    )]
    Index(IndexArgs),
    /// Hold a saved model in memory and answer over HTTP: POST /recommend, /similar-items,
    /// /reload; GET /health, /metrics.
    #[command(
        after_help = "Example:\n  netrex serve --model model/ --addr 127.0.0.1:8080\n  curl -d '{\"user\": \"196\", \"k\": 10}' localhost:8080/recommend"
    )]
    Serve(ServeArgs),
}

fn run() -> Result<(), Failure> {
    let cli = Cli::parse();
    match cli.command {
        Command::Fit(a) => fit::fit(*a),
        Command::Evaluate(a) => evaluate::evaluate_saved(*a),
        Command::Recommend(a) => recommend::recommend(a),
        Command::Export(a) => export::export(a),
        Command::Index(a) => index::index(a),
        Command::Serve(a) => serve::serve(a),
    }
}

/// Keeps glibc's allocator from handing the training step's buffers (a few hundred KB each,
/// allocated per batch by the sequence encoders) back to the kernel and faulting them in again
/// every batch: with its defaults, page faults and their lock took a Beauty SASRec epoch from
/// 6.3 s to 9.0 s on two threads (docs/results.md). Only allocation changes, never results.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; it is called before any thread
    // starts. A refused value leaves the default in place, which is harmless.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
