//! The training loop as a scheduler-friendly object: `step()` runs one optimisation step on the
//! device with no readback; `collect()` reads back every pending step at once (async, so the page
//! can await it at display rate) and updates the loss history, the per-λ loss histogram and the
//! adaptive schedule, and restores the last good weights if the loss went non-finite.

use burn::prelude::*;
use rand::Rng;

use super::config::TrainConfig;
use super::data::{DataTransform, Examples, ImageSet, RunData};
use super::fused::{self, FusedStep};
use super::model::Denoiser;
use super::objective::{Objective, PreparedBatch, TrainSchedule};
use super::optim::StepScalars;
use super::state::{load_module, shapes_of, train_rng, TrainRng, TrainState};
use super::step::{BurnStep, StepEngine};
use super::EngineError;
use crate::data::{DataError, Standardizer};
use crate::gpu::GpuContext;

/// Bins of the per-λ loss histogram f(λ) = E‖ε − ε̂‖² shown next to w(λ) and p(λ).
pub const HISTOGRAM_BINS: usize = 50;
/// Decay of the histogram's per-bin running mean: recent steps dominate, as the model changes.
const HISTOGRAM_DECAY: f64 = 0.98;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossPoint {
    pub step: u64,
    /// The Eq. 7 estimate of the weighted loss on that step's batch (nats per example).
    pub loss: f64,
}

/// f(λ) = E‖ε − ε̂‖² per λ-bin, as an exponential running mean (NaN where a bin has no data yet).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LambdaHistogram {
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub mean: Vec<f64>,
}

impl LambdaHistogram {
    fn new(lambda_min: f64, lambda_max: f64) -> Self {
        Self {
            lambda_min,
            lambda_max,
            mean: vec![f64::NAN; HISTOGRAM_BINS],
        }
    }

    fn add(&mut self, lambda: f64, value: f64) {
        let width = (self.lambda_max - self.lambda_min) / HISTOGRAM_BINS as f64;
        let bin = (((lambda - self.lambda_min) / width) as usize).min(HISTOGRAM_BINS - 1);
        let slot = &mut self.mean[bin];
        *slot = if slot.is_nan() {
            value
        } else {
            HISTOGRAM_DECAY * *slot + (1.0 - HISTOGRAM_DECAY) * value
        };
    }

    pub fn centres(&self) -> Vec<f64> {
        let width = (self.lambda_max - self.lambda_min) / HISTOGRAM_BINS as f64;
        (0..HISTOGRAM_BINS)
            .map(|b| self.lambda_min + (b as f64 + 0.5) * width)
            .collect()
    }
}

/// A step whose per-example errors are still on the step engine.
struct Pending {
    step: u64,
    host: PreparedBatch,
}

/// The counters that go with the step engine's snapshot.
#[derive(Clone, Copy)]
struct GoodCounters {
    step: u64,
    adam_t: u64,
}

pub struct Trainer {
    pub config: TrainConfig,
    device: Device,
    /// Runs the optimisation steps: burn, or the fused WGSL step (see `use_fused`).
    engine: Box<dyn StepEngine>,
    /// Parameter shapes of the network, in the training state's order.
    shapes: Vec<Vec<usize>>,
    /// The EMA network for sampling and evaluation; behind the engine while `ema_stale`.
    ema: Denoiser,
    ema_stale: bool,
    pub objective: Objective,
    /// How the data as given maps to the model's space (and what that does to the likelihood).
    pub transform: DataTransform,
    /// Training and held-out examples in the model's space.
    pub train: Examples,
    pub test: Examples,
    rng: TrainRng,
    step: u64,
    adam_t: u64,
    pending: Vec<Pending>,
    pub history: Vec<LossPoint>,
    pub histogram: LambdaHistogram,
    good: GoodCounters,
}

impl Trainer {
    /// Builds data, model and optimizer for `config` on `device` (an autodiff device is made
    /// from it). Fails with a message for any invalid setting or data. MNIST's images are not
    /// generated but handed over: see `with_images` (without them a run can only sample).
    pub fn new(config: TrainConfig, device: &Device) -> Result<Self, EngineError> {
        Self::build(config, None, device)
    }

    /// As `new`, with the images an image dataset (MNIST) trains and is evaluated on.
    pub fn with_images(
        config: TrainConfig,
        images: &ImageSet,
        device: &Device,
    ) -> Result<Self, EngineError> {
        Self::build(config, Some(images), device)
    }

    fn build(
        config: TrainConfig,
        images: Option<&ImageSet>,
        device: &Device,
    ) -> Result<Self, EngineError> {
        config.validate()?;
        let RunData {
            transform,
            train,
            test,
        } = RunData::for_config(&config, images)?;
        let device = device.clone().autodiff();
        let model = {
            // burn draws initial weights from one generator per backend, shared by the process:
            // seeding and drawing under one lock keeps the weights a function of the seed alone
            // when several trainers are built at once (tests on several threads).
            static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _drawing = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            device.seed(config.seed);
            Denoiser::new(&config.model, &transform.shape(), &device)?
        };
        let shapes = shapes_of(&model);
        let burn = BurnStep::new(model, &device);
        let ema = burn.ema_module().expect("burn holds its EMA");
        let objective = Objective::new(&config)?;
        let histogram = LambdaHistogram::new(config.lambda_min, config.lambda_max);
        let rng = train_rng(config.seed);
        Ok(Self {
            config,
            device,
            engine: Box::new(burn),
            shapes,
            ema,
            ema_stale: false,
            objective,
            transform,
            train,
            test,
            rng,
            step: 0,
            adam_t: 0,
            pending: Vec::new(),
            history: Vec::new(),
            histogram,
            good: GoodCounters { step: 0, adam_t: 0 },
        })
    }

    /// Moves training to the fused WGSL step on `ctx` (same batches, same Adam, same EMA; far
    /// fewer GPU dispatches). The current training state goes with it. Fails, leaving the
    /// trainer where it was, when the device cannot hold the network.
    pub async fn use_fused(&mut self, ctx: &GpuContext) -> Result<(), EngineError> {
        let Some(mlp) = self.config.model.as_mlp() else {
            return Err(EngineError::InvalidConfig {
                field: "model",
                message: "the fused WGSL step trains the MLP; the U-Net trains on burn".into(),
            });
        };
        let shape = fused::shape(mlp, self.transform.dim(), self.config.batch);
        self.collect().await?;
        let state = self.state().await?;
        let fused = FusedStep::new(ctx, shape, &state).await?;
        self.engine = Box::new(fused);
        Ok(())
    }

    /// Where the optimisation steps run, for reports: the fused step's adapter, or `None` on burn.
    pub fn fused_adapter(&self) -> Option<&str> {
        self.engine.adapter_name()
    }

    /// The whole training state (one asynchronous readback): what a checkpoint stores.
    pub async fn state(&mut self) -> Result<TrainState, EngineError> {
        let values = self.engine.read_values().await?;
        Ok(TrainState {
            shapes: self.shapes.clone(),
            values,
            step: self.step,
            adam_t: self.adam_t,
            rng_word_pos: self.rng.get_word_pos(),
        })
    }

    /// Continues from `state` (a checkpoint's): weights, moments, EMA, counters and the
    /// position in the noise stream. Steps not yet collected are dropped.
    pub fn load_state(&mut self, state: &TrainState) -> Result<(), EngineError> {
        state.check(&self.shapes)?;
        self.engine.load_state(state)?;
        self.pending.clear();
        self.step = state.step;
        self.adam_t = state.adam_t;
        self.rng.set_word_pos(state.rng_word_pos);
        self.good = GoodCounters {
            step: state.step,
            adam_t: state.adam_t,
        };
        self.adopt_ema(state);
        Ok(())
    }

    /// Makes `state`'s EMA weights the network used to sample and evaluate.
    fn adopt_ema(&mut self, state: &TrainState) {
        self.ema = load_module(
            self.ema.clone(),
            state.ema(),
            &self.device.clone().without_autodiff(),
        );
        self.ema_stale = false;
    }

    /// Brings the EMA network (used to sample and evaluate) up to the step engine's: free on
    /// burn, one asynchronous readback from the fused step, and only when it is behind.
    pub async fn sync_host(&mut self) -> Result<(), EngineError> {
        if !self.ema_stale {
            return Ok(());
        }
        if let Some(ema) = self.engine.ema_module() {
            self.ema = ema;
            self.ema_stale = false;
        } else {
            let state = self.state().await?;
            self.adopt_ema(&state);
        }
        Ok(())
    }

    /// Takes the engine's EMA when it holds one as a module (burn: free), else marks ours behind.
    fn refresh_ema(&mut self) {
        match self.engine.ema_module() {
            Some(ema) => self.ema = ema,
            None => self.ema_stale = true,
        }
    }

    /// Trainable values in the network.
    pub fn parameter_count(&self) -> usize {
        super::state::parameter_count(&self.shapes)
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Whether the run's data is 8-bit (`swirl`, images): then bits/dim use VDM's discrete
    /// decoder and are bits of a probability mass, not of a density.
    pub fn is_discrete_8bit(&self) -> bool {
        self.transform.is_discrete()
    }

    /// The standardisation of 2D data (the identity for images).
    pub fn standardizer(&self) -> Standardizer {
        self.transform.standardizer()
    }

    /// The held-out 2D examples as points in data space (empty for images).
    pub fn test_points(&self) -> Vec<[f64; 2]> {
        self.standardizer().inverse_all(&self.test.points())
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The EMA weights, for sampling and evaluation (as of the last `sync_host`).
    pub fn ema_model(&self) -> &Denoiser {
        &self.ema
    }

    /// The next step's batch, drawn from the training data and prepared on the host (λ, z, the
    /// target and its weight, from the theory core). `step` trains on it; the benchmark times it.
    /// A run restored without its data (MNIST from a checkpoint alone) has none: then `None`.
    pub fn prepare_batch(&mut self) -> Option<PreparedBatch> {
        if self.train.is_empty() {
            return None;
        }
        let dim = self.train.dim();
        let mut x = Vec::with_capacity(self.config.batch * dim);
        for _ in 0..self.config.batch {
            let i = self.rng.random_range(0..self.train.len());
            self.train.push_row(i, &mut x);
        }
        Some(self.objective.prepare(&x, dim, &mut self.rng))
    }

    /// One optimisation step. Nothing is read back from the device.
    pub fn step(&mut self) -> Result<(), EngineError> {
        let Some(mut host) = self.prepare_batch() else {
            return Err(DataError::TooFewPoints {
                what: "training",
                min: 1,
                found: 0,
            }
            .into());
        };
        let t = self.adam_t + 1;
        let scalars = StepScalars::new(
            t,
            self.step,
            self.config.lr,
            self.config.ema_decay,
            self.config.clip_norm,
        );
        self.engine.push(&host, &scalars)?;
        self.adam_t = t;
        self.step += 1;
        self.refresh_ema();
        host.release_inputs();
        self.pending.push(Pending {
            step: self.step,
            host,
        });
        Ok(())
    }

    /// Reads back every pending step (one transfer), records their losses, feeds the per-λ
    /// histogram and the adaptive schedule, and checks for divergence.
    pub async fn collect(&mut self) -> Result<(), EngineError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let values = self.engine.read_errors().await?;
        let mut offset = 0;
        for p in &pending {
            let n = p.host.lambdas.len();
            let errs = &values[offset..offset + n];
            offset += n;
            let loss = errs
                .iter()
                .zip(&p.host.coef)
                .map(|(e, c)| f64::from(*e) * f64::from(*c))
                .sum::<f64>()
                / n as f64;
            if !loss.is_finite() {
                return Err(self.restore(p.step, loss));
            }
            self.history.push(LossPoint { step: p.step, loss });
            let eps_err: Vec<f64> = errs
                .iter()
                .zip(&p.host.eps_factor)
                .map(|(e, f)| f64::from(*e) * f)
                .collect();
            for (lambda, e) in p.host.lambdas.iter().zip(&eps_err) {
                self.histogram.add(*lambda, *e);
            }
            if let TrainSchedule::Adaptive(adaptive) = &mut self.objective.schedule {
                // App. F: the EMA tracks w(λ)·‖ε − ε̂‖² per bin.
                let tracked: Vec<f64> = eps_err.iter().zip(&p.host.w).map(|(e, w)| e * w).collect();
                adaptive.update(&p.host.lambdas, &tracked)?;
            }
        }
        self.engine.snapshot();
        self.good = GoodCounters {
            step: self.step,
            adam_t: self.adam_t,
        };
        Ok(())
    }

    fn restore(&mut self, step: u64, loss: f64) -> EngineError {
        self.engine.restore();
        let good = self.good;
        self.step = good.step;
        self.adam_t = good.adam_t;
        self.refresh_ema();
        self.history.retain(|p| p.step <= good.step);
        self.pending.clear();
        EngineError::Diverged {
            step,
            loss,
            restored: good.step,
        }
    }

    /// Natively: `steps` steps, collecting every `collect_every` (every step for the adaptive
    /// schedule, which the paper updates each iteration).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn train_blocking(&mut self, steps: u64, collect_every: u64) -> Result<(), EngineError> {
        self.train_for(steps, collect_every, None)
    }

    /// As `train_blocking`, stopping early once `time_limit` has passed (checked at each
    /// collection, so the last steps' losses are always read).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn train_for(
        &mut self,
        steps: u64,
        collect_every: u64,
        time_limit: Option<std::time::Duration>,
    ) -> Result<(), EngineError> {
        let start = std::time::Instant::now();
        let every = if matches!(self.objective.schedule, TrainSchedule::Adaptive(_)) {
            1
        } else {
            collect_every.max(1)
        };
        for i in 0..steps {
            self.step()?;
            if (i + 1) % every == 0 || i + 1 == steps {
                pollster::block_on(self.collect())?;
                if time_limit.is_some_and(|limit| start.elapsed() >= limit) {
                    break;
                }
            }
        }
        pollster::block_on(self.sync_host())
    }
}
