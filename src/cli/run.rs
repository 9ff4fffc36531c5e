//! `elbo-lab train | sample | eval`: the engine from the command line, JSON on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::CliError;
use crate::api::{self, ScheduleSpec, WeightingSpec};
use crate::engine::config::{preset, TrainConfig};
use crate::engine::device::{native_description, native_device, native_gpu_context, NativeBackend};
use crate::engine::elbo::{bits_per_dim, BitsPerDim};
use crate::engine::likelihood::{self, OdeBitsPerDim};
use crate::engine::metrics::energy_distance;
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
    /// Dataset: moons swiss-roll 8-gaussians checkerboard pinwheel rings spirals swirl gmm.
    #[arg(long)]
    pub dataset: String,
    /// Mixture JSON for `--dataset gmm` (same format as `elbo-lab theory`).
    #[arg(long)]
    pub gmm_json: Option<String>,
    /// Start from a preset: default vdm-colab ddpm-eps-cosine v-prediction sigmoid-adaptive.
    #[arg(long, default_value = "default")]
    pub preset: String,
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
    #[arg(long)]
    pub width: Option<usize>,
    #[arg(long)]
    pub depth: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub lambda_min: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub lambda_max: Option<f64>,
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
    /// CSV file to write (header `x,y`).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Held-out points to evaluate (at most the run's held-out split).
    #[arg(long)]
    pub n: Option<usize>,
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
    pub energy_distance: f64,
    pub steps: u64,
    pub steps_per_s: f64,
    pub backend: String,
    pub config: TrainConfig,
}

fn config_from(args: &TrainArgs) -> Result<TrainConfig, CliError> {
    let mut config = preset(&args.preset)?;
    config.dataset = args.dataset.clone();
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
    set!(model.width = args.width);
    set!(model.depth = args.depth);
    set!(lambda_min = args.lambda_min);
    set!(lambda_max = args.lambda_max);
    config.validate()?;
    Ok(config)
}

/// The device named on the command line, and what reports should call it.
fn device(name: &str) -> Result<(burn::prelude::Device, String), CliError> {
    let backend = NativeBackend::from_name(name)?;
    Ok((native_device(backend)?, native_description(backend)?))
}

/// A trainer for `config` on the backend named on the command line (`fused`: its steps run on
/// the fused WGSL path).
fn trainer_on(config: TrainConfig, name: &str) -> Result<(Trainer, String), CliError> {
    let (device, description) = device(name)?;
    let mut trainer = Trainer::new(config, &device)?;
    if NativeBackend::from_name(name)? == NativeBackend::Fused {
        pollster::block_on(trainer.use_fused(&native_gpu_context()?))?;
    }
    Ok((trainer, description))
}

fn json<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError {
        message: format!("cannot encode JSON: {e}"),
        code: 1,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError {
        message: format!("cannot write `{}`: {e}", path.display()),
        code: 1,
    })
}

/// Sample quality: energy distance between model samples and the held-out split (data space).
pub fn quality(trainer: &Trainer, seed: u64) -> Result<f64, CliError> {
    let sampler = SamplerConfig::new(SamplerKind::Ddim);
    let samples = pollster::block_on(tensor_sampler::generate(
        trainer,
        &sampler,
        QUALITY_SAMPLES,
        seed,
    ))?;
    let held_out = trainer.standardizer.inverse_all(&trainer.test);
    energy_distance(&samples, &held_out).map_err(|e| CliError::input(e.to_string()))
}

pub fn train(args: TrainArgs) -> Result<String, CliError> {
    let config = config_from(&args)?;
    let (mut trainer, backend) = trainer_on(config.clone(), &args.backend)?;
    let start = Instant::now();
    trainer.train_blocking(config.steps, 50)?;
    let seconds = start.elapsed().as_secs_f64();
    let tail = (trainer.history.len() / 10).max(1);
    let recent = &trainer.history[trainer.history.len().saturating_sub(tail)..];
    let loss = recent.iter().map(|p| p.loss).sum::<f64>() / recent.len().max(1) as f64;
    let held_out = trainer.standardizer.inverse_all(&trainer.test);
    let bpd = pollster::block_on(bits_per_dim(&trainer, &held_out, config.seed))?;
    let summary = Summary {
        loss,
        bpd,
        energy_distance: quality(&trainer, config.seed)?,
        steps: trainer.step_count(),
        steps_per_s: trainer.step_count() as f64 / seconds.max(1e-9),
        backend,
        config,
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

fn load(path: &Path, backend: &str) -> Result<Trainer, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::input(format!(
            "cannot read the checkpoint `{}`: {e}",
            path.display()
        ))
    })?;
    Ok(checkpoint::load(&bytes, &device(backend)?.0)?)
}

pub fn sample(args: SampleArgs) -> Result<String, CliError> {
    let trainer = load(&args.checkpoint, &args.backend)?;
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
    let points = pollster::block_on(tensor_sampler::generate(
        &trainer, &sampler, args.n, args.seed,
    ))?;
    write(&args.out, crate::data::points_to_csv(&points).as_bytes())?;
    json(
        &serde_json::json!({ "samples": points.len(), "sampler": kind.name(), "steps": sampler.steps, "out": args.out }),
    )
}

#[derive(Debug, Serialize)]
pub struct Evaluation {
    #[serde(flatten)]
    pub bpd: BitsPerDim,
    /// The exact likelihood of the probability-flow ODE (absent with `--ode-steps 0`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ode: Option<OdeBitsPerDim>,
    pub energy_distance: f64,
    pub points: usize,
    pub step: u64,
}

pub fn eval(args: EvalArgs) -> Result<String, CliError> {
    let trainer = load(&args.checkpoint, &args.backend)?;
    let mut held_out = trainer.standardizer.inverse_all(&trainer.test);
    if let Some(n) = args.n {
        if n == 0 {
            return Err(CliError::input("--n must be at least 1"));
        }
        held_out.truncate(n);
    }
    let bpd = pollster::block_on(bits_per_dim(&trainer, &held_out, trainer.config.seed))?;
    let ode = match args.ode_steps {
        0 => None,
        steps => Some(pollster::block_on(tensor_sampler::ode_bits_per_dim(
            &trainer, &held_out, steps,
        ))?),
    };
    json(&Evaluation {
        bpd,
        ode,
        energy_distance: quality(&trainer, trainer.config.seed)?,
        points: held_out.len(),
        step: trainer.step_count(),
    })
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Configuration to time (default: the VDM 2D colab network, 2 × 512, batch 1024).
    #[arg(long, default_value = "vdm-colab")]
    pub preset: String,
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
    pub width: usize,
    pub depth: usize,
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
    let config = preset(&args.preset)?;
    let (mut trainer, backend) = trainer_on(config.clone(), &args.backend)?;
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
        width: config.model.width,
        depth: config.model.depth,
        first_step_s,
        steps: args.steps,
        steps_per_s,
        projected_20k_s: 20_000.0 / steps_per_s,
        host_ms_per_step: 1e3 * host_s / args.steps as f64,
        prepare_ms_per_step: 1e3 * prepare_s / prepared as f64,
        machine: machine(),
    })
}
