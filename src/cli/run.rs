//! `elbo-lab train | sample | eval | bench`: the engine from the command line, JSON on stdout,
//! for 2D data and MNIST alike.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::{json, CliError};
use crate::api::{self, ScheduleSpec, WeightingSpec};
use crate::data::image_out;
use crate::engine::classifier::{self, QualityScore};
use crate::engine::config::{preset, ModelConfig, TrainConfig};
use crate::engine::data::{ImageSet, MNIST};
use crate::engine::device::{native_description, native_device, native_gpu_context, NativeBackend};
use crate::engine::elbo::{bits_per_dim_of, BitsPerDim};
use crate::engine::likelihood::{self, OdeBitsPerDim};
use crate::engine::metrics::energy_distance;
use crate::engine::model::UNetConfig;
use crate::engine::sample::{SamplerConfig, SamplerKind};
use crate::engine::{checkpoint, tensor_sampler, EngineError, Trainer};

/// File name of the checkpoint `train` writes into `--out`.
pub const CHECKPOINT_FILE: &str = "checkpoint.elbolab";
/// Samples drawn to measure the energy distance to held-out data.
const QUALITY_SAMPLES: usize = 1000;

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Gpu(_) | EngineError::Backend(_) => Self {
                message: e.to_string(),
                code: 1,
            },
            _ => Self::input(e.to_string()),
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset: moons swiss-roll 8-gaussians checkerboard pinwheel rings spirals swirl gmm, or
    /// mnist (28 × 28 digits, a U-Net).
    #[arg(long)]
    pub dataset: String,
    /// Mixture JSON for `--dataset gmm` (same format as `elbo-lab theory`).
    #[arg(long)]
    pub gmm_json: Option<String>,
    /// Start from a preset. 2D: default vdm-colab ddpm-eps-cosine v-prediction sigmoid-adaptive;
    /// MNIST: the U-Net's size, tiny (0.8 M parameters) or small (3.2 M).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// For MNIST: a folder with its four IDX files, plain or .gz (default: data/mnist, which
    /// `make data` fills).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Weighting name (see `elbo-lab theory catalog`).
    #[arg(long)]
    pub weighting: Option<String>,
    /// Weighting parameter KEY=VALUE (repeatable).
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// Formula for `--weighting expr`.
    #[arg(long)]
    pub expression: Option<String>,
    /// Training schedule: a Table 4 name or `adaptive`.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Prediction target: eps x v f.
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// The MLP's hidden width (2D).
    #[arg(long)]
    pub width: Option<usize>,
    /// The MLP's hidden layers (2D).
    #[arg(long)]
    pub depth: Option<usize>,
    /// The U-Net's channels at full resolution (MNIST; a multiple of 8).
    #[arg(long)]
    pub base_width: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub lambda_min: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub lambda_max: Option<f64>,
    #[arg(long)]
    pub ema_decay: Option<f64>,
    /// Training examples (MNIST: the first N training digits).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Held-out examples (MNIST: the first N test digits).
    #[arg(long)]
    pub n_test: Option<usize>,
    /// Held-out examples the summary's bits/dim are estimated on (default: all for 2D, 500
    /// digits for MNIST, whose every example costs 16 network evaluations).
    #[arg(long)]
    pub eval_n: Option<usize>,
    /// Stop after this many seconds even if --steps are not done.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// cpu (NdArray), wgpu (burn on Vulkan/Metal/DX12; lavapipe without a GPU), or fused (the
    /// fused WGSL training step on wgpu, sampling and evaluation on the CPU).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// Directory for summary.json and the checkpoint.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// ancestral ddim heun ode
    #[arg(long, default_value = "ddim")]
    pub sampler: String,
    /// Sampling steps (default: the sampler's own, see SamplerConfig).
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// File to write: 2D runs a CSV (header `x,y`); image runs `NAME.idx` (IDX3 bytes, MNIST's
    /// own format) or `NAME.png` (a grid).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Held-out points to evaluate (at most the run's held-out split; MNIST default 500).
    #[arg(long)]
    pub n: Option<usize>,
    /// For MNIST: the folder with its IDX files (as for `train`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// For MNIST: digits sampled for the quality score (the shipped classifier's confident
    /// share, label entropy and Fréchet distance, beside the same figures for as many real
    /// training digits); 0 skips it.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// The sampler of those digits: ancestral ddim heun ode.
    #[arg(long, default_value = "ddim")]
    pub sampler: String,
    /// Its steps.
    #[arg(long, default_value_t = 100)]
    pub sample_steps: usize,
    /// RK4 steps of the probability-flow ODE for the exact likelihood (0 skips it).
    #[arg(long, default_value_t = likelihood::DEFAULT_STEPS)]
    pub ode_steps: usize,
    #[arg(long, default_value = "cpu")]
    pub backend: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    /// Mean Eq. 7 loss over the last 10% of steps.
    pub loss: f64,
    #[serde(flatten)]
    pub bpd: BitsPerDim,
    /// Held-out examples the bits/dim are estimated on.
    pub evaluated: usize,
    /// 2D: energy distance between samples and held-out points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_distance: Option<f64>,
    pub steps: u64,
    pub steps_per_s: f64,
    pub seconds: f64,
    pub backend: String,
    /// Trainable values in the network.
    pub params: usize,
    pub config: TrainConfig,
}

/// The configuration the arguments describe: a preset, then each option given.
fn config_from(args: &TrainArgs) -> Result<TrainConfig, CliError> {
    let mut config = preset_for(&args.dataset, &args.preset)?;
    if let Some(path) = &args.gmm_json {
        config.gmm =
            Some(std::fs::read_to_string(path).map_err(|e| {
                CliError::input(format!("cannot read the mixture file `{path}`: {e}"))
            })?);
    }
    if args.weighting.is_some() || !args.params.is_empty() || args.expression.is_some() {
        config.weighting = WeightingSpec {
            name: args
                .weighting
                .clone()
                .unwrap_or_else(|| config.weighting.name.clone()),
            params: api::parse_params(&args.params)?,
            expression: args.expression.clone(),
        };
    }
    if let Some(name) = &args.schedule {
        config.schedule = ScheduleSpec {
            name: name.clone(),
            params: Default::default(),
        };
    }
    macro_rules! set {
        ($($field:ident).+ = $value:expr) => {
            if let Some(v) = $value {
                config.$($field).+ = v;
            }
        };
    }
    set!(target = args.target.clone());
    set!(steps = args.steps);
    set!(batch = args.batch);
    set!(lr = args.lr);
    set!(seed = args.seed);
    set!(lambda_min = args.lambda_min);
    set!(lambda_max = args.lambda_max);
    set!(ema_decay = args.ema_decay);
    set!(n_train = args.n_train);
    set!(n_test = args.n_test);
    match &mut config.model {
        ModelConfig::Mlp(mlp) => {
            set_option(&mut mlp.width, args.width);
            set_option(&mut mlp.depth, args.depth);
            refuse_option("--base-width", "the U-Net (MNIST)", args.base_width)?;
        }
        ModelConfig::UNet { unet } => {
            set_option(&mut unet.base_width, args.base_width);
            refuse_option("--width", "the MLP (2D data)", args.width)?;
            refuse_option("--depth", "the MLP (2D data)", args.depth)?;
        }
    }
    config.validate()?;
    Ok(config)
}

fn set_option<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// An option of the other model family is a mistake worth saying, not ignoring.
fn refuse_option<T>(flag: &str, family: &str, value: Option<T>) -> Result<(), CliError> {
    match value {
        Some(_) => Err(CliError::input(format!("{flag} applies to {family} only"))),
        None => Ok(()),
    }
}

/// `--preset` for `--dataset`: the 2D presets, or for MNIST the U-Net's size.
fn preset_for(dataset: &str, name: &str) -> Result<TrainConfig, CliError> {
    if dataset == MNIST {
        let mut config = preset(MNIST)?;
        match name {
            "default" | MNIST => {}
            _ if UNetConfig::PRESETS.contains(&name) => {
                config.model = ModelConfig::unet_preset(name)?;
            }
            _ => {
                return Err(CliError::input(format!(
                    "for MNIST, --preset is the U-Net's size: {}",
                    UNetConfig::PRESETS.join(", ")
                )))
            }
        }
        return Ok(config);
    }
    if UNetConfig::PRESETS.contains(&name) || name == MNIST {
        return Err(CliError::input(format!(
            "--preset {name} is an MNIST preset; use it with --dataset mnist"
        )));
    }
    let mut config = preset(name)?;
    config.dataset = dataset.to_string();
    Ok(config)
}

/// MNIST's images from `dir` (default `data/mnist`, where `make data` puts them).
fn mnist_images(dir: Option<&Path>) -> Result<ImageSet, CliError> {
    let (train, test) = super::mnist_files::read_images(dir)?;
    Ok(ImageSet { train, test })
}

/// The images a dataset needs (none for 2D data).
fn images_for(dataset: &str, dir: Option<&Path>) -> Result<Option<ImageSet>, CliError> {
    if dataset == MNIST {
        mnist_images(dir).map(Some)
    } else {
        Ok(None)
    }
}

/// The device named on the command line, and what reports should call it.
fn device(name: &str) -> Result<(burn::prelude::Device, String), CliError> {
    let backend = NativeBackend::from_name(name)?;
    Ok((native_device(backend)?, native_description(backend)?))
}

/// A trainer for `config` (with its images, for MNIST) on the backend named on the command
/// line (`fused`: its steps run on the fused WGSL path).
fn trainer_on(
    config: TrainConfig,
    images: Option<&ImageSet>,
    name: &str,
) -> Result<(Trainer, String), CliError> {
    let (device, description) = device(name)?;
    let mut trainer = match images {
        Some(images) => Trainer::with_images(config, images, &device)?,
        None => Trainer::new(config, &device)?,
    };
    if NativeBackend::from_name(name)? == NativeBackend::Fused {
        pollster::block_on(trainer.use_fused(&native_gpu_context()?))?;
    }
    Ok((trainer, description))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError {
        message: format!("cannot write `{}`: {e}", path.display()),
        code: 1,
    })
}

/// Sample quality of a 2D run: energy distance between model samples and the held-out split
/// (data space).
pub fn point_quality(trainer: &Trainer, seed: u64) -> Result<f64, CliError> {
    let sampler = SamplerConfig::new(SamplerKind::Ddim);
    let samples = pollster::block_on(tensor_sampler::generate(
        trainer,
        &sampler,
        QUALITY_SAMPLES,
        seed,
    ))?;
    energy_distance(&samples, &trainer.test_points()).map_err(|e| CliError::input(e.to_string()))
}

/// Held-out digits the bits/dim of an MNIST run are estimated on by default: each costs 16
/// network evaluations, so all 10 000 would take the CPU an hour.
const DEFAULT_IMAGE_EVAL: usize = 500;

/// −ELBO in bits/dim on the first `n` held-out examples (all by default for 2D data).
fn held_out_bits(trainer: &Trainer, n: Option<usize>) -> Result<(BitsPerDim, usize), CliError> {
    let default = match trainer.transform.image_shape() {
        Some(_) => DEFAULT_IMAGE_EVAL,
        None => trainer.test.len(),
    };
    let n = n.unwrap_or(default);
    if n == 0 {
        return Err(CliError::input("the evaluation needs at least 1 example"));
    }
    let examples = trainer.test.first(n);
    let seed = trainer.config.seed;
    let bpd = pollster::block_on(bits_per_dim_of(trainer, &examples, seed))?;
    Ok((bpd, examples.len()))
}

pub fn train(args: TrainArgs) -> Result<String, CliError> {
    let config = config_from(&args)?;
    let time_limit = match args.time_limit {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 && s <= 1e7 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(CliError::input(format!(
                "--time-limit must be a number of seconds in (0, 10000000], got {s}"
            )))
        }
    };
    let images = images_for(&config.dataset, args.data_dir.as_deref())?;
    let (mut trainer, backend) = trainer_on(config.clone(), images.as_ref(), &args.backend)?;
    // Images: a step takes long on the CPU, so the time limit is checked often.
    let collect_every = if images.is_some() { 5 } else { 50 };
    let start = Instant::now();
    trainer.train_for(config.steps, collect_every, time_limit)?;
    let seconds = start.elapsed().as_secs_f64();
    let tail = (trainer.history.len() / 10).max(1);
    let recent = &trainer.history[trainer.history.len().saturating_sub(tail)..];
    if recent.is_empty() {
        return Err(CliError::input("--steps must be at least 1"));
    }
    let loss = recent.iter().map(|p| p.loss).sum::<f64>() / recent.len() as f64;
    let (bpd, evaluated) = held_out_bits(&trainer, args.eval_n)?;
    let energy_distance = match trainer.transform.image_shape() {
        Some(_) => None,
        None => Some(point_quality(&trainer, config.seed)?),
    };
    let summary = Summary {
        loss,
        bpd,
        evaluated,
        energy_distance,
        steps: trainer.step_count(),
        steps_per_s: trainer.step_count() as f64 / seconds.max(1e-9),
        seconds,
        backend,
        params: trainer.parameter_count(),
        config: trainer.config.clone(),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| CliError {
        message: format!("cannot create `{}`: {e}", args.out.display()),
        code: 1,
    })?;
    write(
        &args.out.join(CHECKPOINT_FILE),
        &pollster::block_on(checkpoint::save(&mut trainer))?,
    )?;
    let text = json(&summary)?;
    write(&args.out.join("summary.json"), text.as_bytes())?;
    Ok(text)
}

fn read_checkpoint(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| {
        CliError::input(format!(
            "cannot read the checkpoint `{}`: {e}",
            path.display()
        ))
    })
}

/// A checkpoint's trainer; `images` for an image run that trains or evaluates (sampling needs none).
fn load(bytes: &[u8], backend: &str, images: Option<&ImageSet>) -> Result<Trainer, CliError> {
    let device = device(backend)?.0;
    Ok(match images {
        Some(images) => checkpoint::load_with_images(bytes, images, &device)?,
        None => checkpoint::load(bytes, &device)?,
    })
}

/// What `sample --out` writes, by its extension.
enum SampleFormat {
    Csv,
    Idx,
    Png,
}

fn sample_format(path: &Path, images: bool) -> Result<SampleFormat, CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match (extension.as_deref(), images) {
        (Some("idx"), true) => Ok(SampleFormat::Idx),
        (Some("png"), true) => Ok(SampleFormat::Png),
        (_, true) => Err(CliError::input(format!(
            "an image run's samples are written as FILE.idx (IDX3, MNIST's format) or FILE.png (a grid), not `{}`",
            path.display()
        ))),
        (Some("idx" | "png"), false) => Err(CliError::input(
            "a 2D run's samples are points: write them to a .csv file",
        )),
        (_, false) => Ok(SampleFormat::Csv),
    }
}

/// Columns of the PNG grid `sample` writes.
const GRID_COLUMNS: usize = 16;

pub fn sample(args: SampleArgs) -> Result<String, CliError> {
    let trainer = load(&read_checkpoint(&args.checkpoint)?, &args.backend, None)?;
    let format = sample_format(&args.out, trainer.transform.image_shape().is_some())?;
    let kind = SamplerKind::from_name(&args.sampler).map_err(|e| CliError::input(e.to_string()))?;
    let mut sampler = SamplerConfig::new(kind);
    if let Some(steps) = args.steps {
        sampler.steps = steps;
    }
    sampler
        .validate()
        .map_err(|e| CliError::input(e.to_string()))?;
    if args.n == 0 || args.n > 1_000_000 {
        return Err(CliError::input(format!(
            "--n must be between 1 and 1000000, got {}",
            args.n
        )));
    }
    let count = match format {
        SampleFormat::Csv => {
            let points = pollster::block_on(tensor_sampler::generate(
                &trainer, &sampler, args.n, args.seed,
            ))?;
            write(&args.out, crate::data::points_to_csv(&points).as_bytes())?;
            points.len()
        }
        SampleFormat::Idx | SampleFormat::Png => {
            let images = pollster::block_on(tensor_sampler::generate_images(
                &trainer, &sampler, args.n, args.seed,
            ))?;
            let bytes = match format {
                SampleFormat::Png => image_out::encode_png_grid(&images, GRID_COLUMNS)
                    .map_err(|e| CliError::input(e.to_string()))?,
                _ => image_out::encode_idx_images(&images),
            };
            write(&args.out, &bytes)?;
            images.n
        }
    };
    json(
        &serde_json::json!({ "samples": count, "sampler": kind.name(), "steps": sampler.steps, "out": args.out }),
    )
}

#[derive(Debug, Serialize)]
pub struct Evaluation {
    #[serde(flatten)]
    pub bpd: BitsPerDim,
    /// The exact likelihood of the probability-flow ODE (2D; absent with `--ode-steps 0`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ode: Option<OdeBitsPerDim>,
    /// 2D: energy distance between samples and held-out points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_distance: Option<f64>,
    /// MNIST: the quality score of sampled digits, beside that of real ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<ImageQuality>,
    pub points: usize,
    pub step: u64,
}

/// The quality classifier's figures for `samples` model digits and as many real training
/// digits, each against the statistics of MNIST's 10 000 test digits.
#[derive(Debug, Serialize)]
pub struct ImageQuality {
    pub samples: usize,
    pub sampler: String,
    pub sampling_steps: usize,
    pub model: QualityScore,
    pub real: QualityScore,
}

/// Most digits `eval --samples` draws.
const MAX_QUALITY_SAMPLES: usize = 60_000;

fn image_quality(
    trainer: &Trainer,
    images: &ImageSet,
    args: &EvalArgs,
) -> Result<Option<ImageQuality>, CliError> {
    if args.samples == 0 {
        return Ok(None);
    }
    if args.samples < 2 || args.samples > MAX_QUALITY_SAMPLES {
        return Err(CliError::input(format!(
            "--samples is {}; draw 0 (no quality score) or 2 to {MAX_QUALITY_SAMPLES} digits",
            args.samples
        )));
    }
    let kind = SamplerKind::from_name(&args.sampler).map_err(|e| CliError::input(e.to_string()))?;
    let sampler = SamplerConfig::with_steps(kind, args.sample_steps);
    sampler
        .validate()
        .map_err(|e| CliError::input(e.to_string()))?;
    let digits = pollster::block_on(tensor_sampler::generate_images(
        trainer,
        &sampler,
        args.samples,
        trainer.config.seed,
    ))?;
    let device = trainer.device().clone().without_autodiff();
    let judge = classifier::shipped(&device).map_err(classifier_failure)?;
    let score = |set: &crate::data::Images, reference| {
        pollster::block_on(classifier::quality(&judge, &device, set, reference))
            .map_err(classifier_failure)
    };
    let reference = pollster::block_on(classifier::reference_stats(&judge, &device, &images.test))
        .map_err(classifier_failure)?;
    Ok(Some(ImageQuality {
        samples: digits.n,
        sampler: kind.name().to_string(),
        sampling_steps: sampler.steps,
        model: score(&digits, &reference)?,
        real: score(&images.train.first(digits.n), &reference)?,
    }))
}

fn classifier_failure(e: classifier::ClassifierError) -> CliError {
    CliError::input(format!("quality classifier: {e}"))
}

pub fn eval(args: EvalArgs) -> Result<String, CliError> {
    // The configuration first: it says which data the run needs.
    let bytes = read_checkpoint(&args.checkpoint)?;
    let config = checkpoint::read_config(&bytes)?;
    let images = images_for(&config.dataset, args.data_dir.as_deref())?;
    let trainer = load(&bytes, &args.backend, images.as_ref())?;
    let (bpd, points) = held_out_bits(&trainer, args.n)?;
    let quality = match &images {
        Some(images) => image_quality(&trainer, images, &args)?,
        None => None,
    };
    let (ode, energy_distance) = match trainer.transform.image_shape() {
        Some(_) => (None, None),
        None => {
            let held_out: Vec<[f64; 2]> = trainer.test_points().into_iter().take(points).collect();
            let ode = match args.ode_steps {
                0 => None,
                steps => Some(pollster::block_on(tensor_sampler::ode_bits_per_dim(
                    &trainer, &held_out, steps,
                ))?),
            };
            (ode, Some(point_quality(&trainer, trainer.config.seed)?))
        }
    };
    json(&Evaluation {
        bpd,
        ode,
        energy_distance,
        quality,
        points,
        step: trainer.step_count(),
    })
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Configuration to time (default: the VDM 2D colab network, 2 × 512, batch 1024); with
    /// `--dataset mnist`, the U-Net's size (tiny, small).
    #[arg(long, default_value = "vdm-colab")]
    pub preset: String,
    /// The preset's own dataset unless given; `mnist` times the U-Net.
    #[arg(long)]
    pub dataset: Option<String>,
    /// For MNIST: the folder with its IDX files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Timed steps after the first (which includes kernel compilation).
    #[arg(long, default_value_t = 200)]
    pub steps: u64,
    #[arg(long, default_value = "cpu")]
    pub backend: String,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub preset: String,
    pub backend: String,
    pub batch: usize,
    /// The network's configuration.
    pub model: ModelConfig,
    pub params: usize,
    /// Wall time of the first step, including kernel compilation on a GPU backend.
    pub first_step_s: f64,
    pub steps: u64,
    /// Steady-state training steps per second (the device is synchronised at the end).
    pub steps_per_s: f64,
    /// Seconds a 20 000-step run would take at this rate (the VDM colab's length).
    pub projected_20k_s: f64,
    /// Of each step's 1/steps_per_s, the host's share: drawing the batch, the theory core's
    /// λ, z and targets, and encoding and submitting the GPU work. Close to the whole means the
    /// host, not the device, sets the pace.
    pub host_ms_per_step: f64,
    /// Of the host's share, drawing and preparing the batch alone (timed apart, after the run).
    pub prepare_ms_per_step: f64,
    pub machine: String,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

/// Steps between the benchmark's readbacks.
const BENCH_COLLECT_EVERY: u64 = 1024;
/// Batches the benchmark prepares, untrained, to time the host's preparation apart.
const BENCH_PREPARE_STEPS: u64 = 256;

pub fn bench(args: BenchArgs) -> Result<String, CliError> {
    if args.steps == 0 {
        return Err(CliError::input(
            "--steps must be at least 1: a rate needs timed steps",
        ));
    }
    let config = match &args.dataset {
        Some(dataset) => preset_for(dataset, &args.preset)?,
        None => preset(&args.preset)?,
    };
    let images = images_for(&config.dataset, args.data_dir.as_deref())?;
    let (mut trainer, backend) = trainer_on(config.clone(), images.as_ref(), &args.backend)?;
    let start = Instant::now();
    trainer.step()?;
    pollster::block_on(trainer.collect())?;
    let first_step_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut host_s = 0.0;
    for i in 1..=args.steps {
        let host = Instant::now();
        trainer.step()?;
        host_s += host.elapsed().as_secs_f64();
        // Losses are read back now and then, as a run does, so pending batches stay few;
        // rarely enough that the device's short idle after each readback is not measurable.
        if i % BENCH_COLLECT_EVERY == 0 {
            pollster::block_on(trainer.collect())?;
        }
    }
    // One readback at the end waits for the queued work: the rate includes all of it.
    pollster::block_on(trainer.collect())?;
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let steps_per_s = args.steps as f64 / seconds;
    let prepared = args.steps.min(BENCH_PREPARE_STEPS);
    let start = Instant::now();
    for _ in 0..prepared {
        std::hint::black_box(trainer.prepare_batch());
    }
    let prepare_s = start.elapsed().as_secs_f64();
    json(&BenchReport {
        preset: args.preset,
        backend,
        batch: config.batch,
        params: trainer.parameter_count(),
        model: config.model,
        first_step_s,
        steps: args.steps,
        steps_per_s,
        projected_20k_s: 20_000.0 / steps_per_s,
        host_ms_per_step: 1e3 * host_s / args.steps as f64,
        prepare_ms_per_step: 1e3 * prepare_s / prepared as f64,
        machine: machine(),
    })
}
