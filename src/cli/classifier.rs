//! `elbo-lab classifier train | eval`: the MNIST quality classifier from the command line.
//!
//! `eval` states the figures a reader compares model samples with: the classifier's accuracy on
//! the 10 000 test digits, and the quality score of `--n` real *training* digits against the
//! test set's feature statistics, which is exactly how a generator's `--n` samples are scored
//! (same reference, same sample size: the Fréchet distance is biased by the sample size, so
//! only equal-sized sets compare).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::mnist_files::read_labeled;
use super::{json, CliError};
use crate::engine::classifier::{
    self, Classifier, ClassifierConfig, ClassifierError, QualityScore, ReferenceStats,
    TrainProgress, FEATURES,
};
use crate::engine::device::{native_device, NativeBackend};

#[derive(Debug, Subcommand)]
pub enum ClassifierCommand {
    /// Train the MNIST classifier (reproducible from its seed) and write its weights.
    Train(TrainArgs),
    /// Test accuracy of classifier weights and the quality score of real digits.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder with MNIST's four IDX files (default: data/mnist, where `make data` puts them).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = ClassifierConfig::default().seed)]
    pub seed: u64,
    #[arg(long, default_value_t = ClassifierConfig::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = ClassifierConfig::default().batch)]
    pub batch: usize,
    #[arg(long, default_value_t = ClassifierConfig::default().lr)]
    pub lr: f64,
    /// Weight file to write (the shipped one is assets/mnist-classifier.bin).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Weight file (default: the weights shipped with elbo-lab).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Folder with MNIST's four IDX files (default: data/mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Real training digits to score against the test set (use the number of samples the
    /// generator's score is computed from).
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
}

impl From<ClassifierError> for CliError {
    fn from(e: ClassifierError) -> Self {
        match e {
            ClassifierError::Engine(engine) => engine.into(),
            ClassifierError::Diverged { .. } => Self {
                message: e.to_string(),
                code: 1,
            },
            _ => Self::input(e.to_string()),
        }
    }
}

pub fn execute(command: ClassifierCommand) -> Result<String, CliError> {
    match command {
        ClassifierCommand::Train(args) => train(args),
        ClassifierCommand::Eval(args) => eval(args),
    }
}

#[derive(Debug, Serialize)]
struct TrainSummary {
    #[serde(flatten)]
    config: ClassifierConfig,
    test_accuracy: f64,
    parameters: usize,
    seconds: f64,
    out: PathBuf,
}

fn train(args: TrainArgs) -> Result<String, CliError> {
    let config = ClassifierConfig {
        seed: args.seed,
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
    };
    config.validate()?;
    let (train_set, test_set) = read_labeled(args.data_dir.as_deref())?;
    let device = native_device(NativeBackend::Cpu)?;
    // Minutes of work: say where it stands, but only to a person watching (scripts and tests
    // read a silent stderr as success).
    let verbose = std::io::stderr().is_terminal();
    let report = |p: TrainProgress| {
        if verbose {
            eprintln!(
                "epoch {} step {}/{} loss {:.4}",
                p.epoch, p.step, p.steps, p.loss
            );
        }
    };
    let start = Instant::now();
    let model = pollster::block_on(classifier::train(&config, &train_set, &device, report))?;
    let seconds = start.elapsed().as_secs_f64();
    let test_accuracy = pollster::block_on(classifier::accuracy(&model, &device, &test_set))?;
    let bytes = pollster::block_on(classifier::to_bytes(&model))?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CliError {
            message: format!("cannot create `{}`: {e}", parent.display()),
            code: 1,
        })?;
    }
    std::fs::write(&args.out, bytes).map_err(|e| CliError {
        message: format!("cannot write `{}`: {e}", args.out.display()),
        code: 1,
    })?;
    json(&TrainSummary {
        config,
        test_accuracy,
        parameters: model.parameter_count(),
        seconds,
        out: args.out,
    })
}

#[derive(Debug, Serialize)]
struct EvalSummary {
    /// The weight file, or "shipped".
    weights: String,
    /// Share of the test digits classified correctly.
    accuracy: f64,
    test_count: usize,
    /// The first `n` training digits scored against the test set's feature statistics.
    real: QualityScore,
}

/// Most digits `eval` scores (MNIST's training set).
const MAX_REAL: usize = 60_000;

fn eval(args: EvalArgs) -> Result<String, CliError> {
    if !(2..=MAX_REAL).contains(&args.n) {
        return Err(CliError::input(format!(
            "--n is {}; score between 2 and {MAX_REAL} real digits",
            args.n
        )));
    }
    let device = native_device(NativeBackend::Cpu)?;
    let (model, weights) = load_weights(args.weights.as_deref(), &device)?;
    let (train_set, test_set) = read_labeled(args.data_dir.as_deref())?;
    // One pass over the test digits gives both the accuracy and the reference statistics.
    let test = pollster::block_on(classifier::outputs(&model, &device, &test_set.images))?;
    let accuracy = classifier::accuracy_of(&test, &test_set.labels);
    let reference = ReferenceStats::of_rows(&test.features, FEATURES)?;
    let real = train_set.images.first(args.n);
    let real = pollster::block_on(classifier::quality(&model, &device, &real, &reference))?;
    json(&EvalSummary {
        weights,
        accuracy,
        test_count: test.n,
        real,
    })
}

/// The weights in `path`, or the shipped ones; with the name the summary gives them.
fn load_weights(
    path: Option<&Path>,
    device: &burn::prelude::Device,
) -> Result<(Classifier, String), CliError> {
    match path {
        None => Ok((classifier::shipped(device)?, "shipped".into())),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::input(format!(
                    "cannot read the classifier weights `{}`: {e}",
                    path.display()
                ))
            })?;
            let model = classifier::from_bytes(&bytes, device)
                .map_err(|e| CliError::input(format!("`{}`: {e}", path.display())))?;
            Ok((model, path.display().to_string()))
        }
    }
}
