//! The training loop as a scheduler-friendly object: `step()` runs one optimisation step on the
//! device with no readback; `collect()` reads back every pending step at once (async, so the page
//! can await it at display rate) and updates the loss history, the per-λ loss histogram and the
//! adaptive schedule, and restores the last good weights if the loss went non-finite.

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::config::TrainConfig;
use super::fused;
use super::model::Denoiser;
use super::objective::{Objective, PreparedBatch, TrainSchedule};
use super::optim::{ema_update, Adam};
use super::EngineError;
use crate::data::{Dataset, Standardizer};
use crate::gpu::mlp_train::{step_scalars, FusedMlp, StepBatch};
use crate::gpu::GpuContext;
use crate::theory::Gmm;

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

/// A step whose per-example errors are still on the device.
struct Pending {
    step: u64,
    host: PreparedBatch,
    /// ‖y − ŷ‖² per example, [B] (burn); `None` when the fused step holds them.
    err: Option<Tensor<1>>,
}

/// Weights and optimizer state known to be finite, restored on divergence.
#[derive(Clone)]
struct Snapshot {
    model: Denoiser,
    ema: Denoiser,
    adam: Adam,
    step: u64,
}

pub struct Trainer {
    pub config: TrainConfig,
    device: Device,
    pub(crate) model: Denoiser,
    pub(crate) ema: Denoiser,
    pub(crate) adam: Adam,
    pub objective: Objective,
    pub standardizer: Standardizer,
    /// Standardised training and held-out points.
    pub train: Vec<[f64; 2]>,
    pub test: Vec<[f64; 2]>,
    rng: StdRng,
    pub(crate) step: u64,
    pending: Vec<Pending>,
    pub history: Vec<LossPoint>,
    pub histogram: LambdaHistogram,
    good: Snapshot,
    /// The fused WGSL step, when training runs there instead of on burn (see `use_fused`).
    fused: Option<FusedMlp>,
    /// The burn modules lag behind the fused step's weights until `sync_host`.
    host_stale: bool,
}

impl Trainer {
    /// Builds data, model and optimizer for `config` on `device` (an autodiff device is made
    /// from it). Fails with a message for any invalid setting or data.
    pub fn new(config: TrainConfig, device: &Device) -> Result<Self, EngineError> {
        config.validate()?;
        let dataset = dataset_for(&config)?;
        let split = dataset
            .split(config.n_train, config.n_test, config.seed)
            .map_err(|e| EngineError::Data(e.to_string()))?;
        let standardizer =
            Standardizer::fit(&split.train).map_err(|e| EngineError::Data(e.to_string()))?;
        let train: Vec<[f64; 2]> = split
            .train
            .iter()
            .map(|p| standardizer.forward(*p))
            .collect();
        let test: Vec<[f64; 2]> = split
            .test
            .iter()
            .map(|p| standardizer.forward(*p))
            .collect();
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = Denoiser::new(&config.model, 2, &device);
        let ema = model.valid();
        let adam = Adam::default();
        let objective = Objective::new(&config)?;
        let histogram = LambdaHistogram::new(config.lambda_min, config.lambda_max);
        let good = Snapshot {
            model: model.clone(),
            ema: ema.clone(),
            adam: adam.clone(),
            step: 0,
        };
        // A stream separate from the data split's, so changing n_train does not change the noise.
        let rng = StdRng::seed_from_u64(config.seed ^ 0x5eed_5eed_5eed_5eed);
        Ok(Self {
            config,
            device,
            model,
            ema,
            adam,
            objective,
            standardizer,
            train,
            test,
            rng,
            step: 0,
            pending: Vec::new(),
            history: Vec::new(),
            histogram,
            good,
            fused: None,
            host_stale: false,
        })
    }

    /// Moves training to the fused WGSL step on `ctx` (same batches, same Adam, same EMA; far
    /// fewer GPU dispatches). The current weights and optimizer state go with it. Fails, leaving
    /// the trainer on burn, when the device cannot hold the network.
    pub async fn use_fused(&mut self, ctx: &GpuContext) -> Result<(), EngineError> {
        self.collect().await?;
        self.sync_host().await?;
        let shape = fused::shape(&self.config);
        let mut mlp = FusedMlp::new(ctx, shape)
            .await
            .map_err(fused::device_error)?;
        let state = fused::host_state(self).await?;
        mlp.upload_state(&state).map_err(fused::device_error)?;
        self.fused = Some(mlp);
        Ok(())
    }

    /// Where the optimisation steps run, for reports: the fused step's adapter, or `None` on burn.
    pub fn fused_adapter(&self) -> Option<&str> {
        self.fused.as_ref().map(|m| m.adapter_name())
    }

    /// Brings the burn modules (used to sample, evaluate and save) up to the fused step's
    /// weights, EMA and Adam moments: one asynchronous readback, only when they are behind.
    pub async fn sync_host(&mut self) -> Result<(), EngineError> {
        if !self.host_stale {
            return Ok(());
        }
        let Some(mlp) = self.fused.as_mut() else {
            return Ok(());
        };
        let state = mlp.read_state().await.map_err(fused::device_error)?;
        fused::load_host_state(self, state)?;
        self.host_stale = false;
        Ok(())
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Whether the run's data lives on the 8-bit grid of `swirl` (then bits/dim use VDM's
    /// discrete decoder and are bits of a probability mass, not of a density).
    pub fn is_discrete_8bit(&self) -> bool {
        dataset_for(&self.config).is_ok_and(|d| d.is_discrete_8bit())
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The EMA weights, for sampling and evaluation.
    pub fn ema_model(&self) -> &Denoiser {
        &self.ema
    }

    /// The next step's batch, drawn from the training data and prepared on the host (λ, z, the
    /// target and its weight, from the theory core). `step` trains on it; the benchmark times it.
    pub fn prepare_batch(&mut self) -> PreparedBatch {
        let x: Vec<[f64; 2]> = (0..self.config.batch)
            .map(|_| self.train[self.rng.random_range(0..self.train.len())])
            .collect();
        self.objective.prepare(&x, &mut self.rng)
    }

    /// One optimisation step. Nothing is read back from the device.
    pub fn step(&mut self) -> Result<(), EngineError> {
        let batch_size = self.config.batch;
        let mut host = self.prepare_batch();
        if let Some(mlp) = self.fused.as_mut() {
            let t = self.adam.t + 1;
            let scalars = step_scalars(
                t,
                self.step,
                self.config.lr,
                self.config.ema_decay,
                self.config.clip_norm,
            );
            let batch = StepBatch {
                z: &host.z,
                lambda: &host.lambda,
                target: &host.target,
                coef: &host.coef,
            };
            mlp.push_step(&batch, scalars)
                .map_err(fused::device_error)?;
            self.adam.t = t;
            self.step += 1;
            self.host_stale = true;
            host.release_inputs();
            self.pending.push(Pending {
                step: self.step,
                host,
                err: None,
            });
            return Ok(());
        }
        let device = &self.device;
        let upload = |values: &[f32], cols: usize| {
            Tensor::<2>::from_data(TensorData::new(values.to_vec(), [batch_size, cols]), device)
        };
        let z = upload(&host.z, 2);
        let lambda = upload(&host.lambda, 1);
        let target = upload(&host.target, 2);
        let coef = upload(&host.coef, 1);
        host.release_inputs();
        let prediction = self.model.forward(z, lambda);
        let err = (prediction - target).square().sum_dim(1);
        // Eq. 7: the batch mean of ½ w/p · factor · ‖y − ŷ‖².
        let loss = (err.clone() * coef).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = self.model.clone();
        self.model = self
            .adam
            .step(model, grads, self.config.lr, self.config.clip_norm);
        // EMA warm-up: early on the average follows the model instead of its (zero-output)
        // initialisation, which would otherwise linger for ~1/(1 − decay) steps.
        let warm = (1.0 + self.step as f64) / (10.0 + self.step as f64);
        self.ema = ema_update(
            self.ema.clone(),
            &self.model,
            self.config.ema_decay.min(warm),
        );
        self.step += 1;
        self.pending.push(Pending {
            step: self.step,
            host,
            err: Some(err.inner().reshape([batch_size])),
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
        let values = match self.fused.as_mut() {
            Some(mlp) => mlp.read_errors().await.map_err(fused::device_error)?,
            None => {
                let errs = pending.iter().filter_map(|p| p.err.clone()).collect();
                super::read_f32(Tensor::cat(errs, 0)).await?
            }
        };
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
        if let Some(mlp) = &self.fused {
            // The GPU keeps its own copy; the burn modules below are only behind (host_stale).
            mlp.save_snapshot();
        }
        self.good = Snapshot {
            model: self.model.clone(),
            ema: self.ema.clone(),
            adam: self.adam.clone(),
            step: self.step,
        };
        Ok(())
    }

    fn restore(&mut self, step: u64, loss: f64) -> EngineError {
        let good = self.good.clone();
        self.model = good.model;
        self.ema = good.ema;
        self.adam = good.adam;
        self.step = good.step;
        self.history.retain(|p| p.step <= good.step);
        self.pending.clear();
        if let Some(mlp) = self.fused.as_mut() {
            mlp.restore_snapshot();
            self.host_stale = true;
        }
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
        let every = if matches!(self.objective.schedule, TrainSchedule::Adaptive(_)) {
            1
        } else {
            collect_every.max(1)
        };
        for i in 0..steps {
            self.step()?;
            if (i + 1) % every == 0 || i + 1 == steps {
                pollster::block_on(self.collect())?;
            }
        }
        pollster::block_on(self.sync_host())
    }
}

/// The dataset a config names, with its mixture or points.
fn dataset_for(config: &TrainConfig) -> Result<Dataset, EngineError> {
    if let Some(points) = &config.points {
        if config.dataset == "points" {
            return Ok(Dataset::Points(points.clone()));
        }
    }
    let gmm = match &config.gmm {
        Some(json) => Some(Gmm::from_json(json)?),
        None => None,
    };
    Dataset::from_name(&config.dataset, gmm).map_err(|e| EngineError::Data(e.to_string()))
}
