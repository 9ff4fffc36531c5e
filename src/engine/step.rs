//! One interface for whatever runs the optimisation steps, so the trainer does not care which:
//! burn (any device: NdArray, wgpu, the browser's WebGPU) or the fused WGSL step (engine/fused.rs).
//! An engine takes prepared batches, hands back their per-example errors when asked, and reads,
//! loads, snapshots and restores the training state in its one layout (engine/state.rs).

use std::future::Future;
use std::pin::Pin;

use burn::optim::GradientsParams;
use burn::prelude::*;

use super::model::Denoiser;
use super::objective::PreparedBatch;
use super::optim::{ema_update, Adam, StepScalars};
use super::state::{burn_slab, load_burn, TrainState};
use super::EngineError;

/// An engine's asynchronous answer (a readback: in the browser it must be awaited).
pub type EngineFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + 'a>>;

pub trait StepEngine {
    /// One optimisation step on `batch`; nothing is read back.
    fn push(&mut self, batch: &PreparedBatch, scalars: &StepScalars) -> Result<(), EngineError>;

    /// ‖y − ŷ‖² of every example of every step pushed since the last call, step after step.
    fn read_errors(&mut self) -> EngineFuture<'_, Vec<f32>>;

    /// Weights, Adam's moments and the EMA after every pushed step, as `TrainState::values`.
    fn read_values(&mut self) -> EngineFuture<'_, Vec<f32>>;

    /// Replaces weights, moments and EMA (counters are the trainer's) and makes them the snapshot.
    fn load_state(&mut self, state: &TrainState) -> Result<(), EngineError>;

    /// Keeps the current state as the one to return to after a divergence.
    fn snapshot(&mut self);

    /// Returns to the last snapshot, dropping every step pushed since.
    fn restore(&mut self);

    /// The EMA network as a burn module, when the engine holds one (no readback needed).
    fn ema_module(&self) -> Option<Denoiser>;

    /// The adapter the steps run on, when it is not burn's device.
    fn adapter_name(&self) -> Option<&str>;
}

/// The model, its EMA and Adam as they were at a snapshot (burn tensors: cloning is cheap).
#[derive(Clone)]
struct BurnSnapshot {
    model: Denoiser,
    ema: Denoiser,
    adam: Adam,
}

/// Steps with burn's autodiff on any device.
pub struct BurnStep {
    /// The autodiff device the live model is on.
    device: Device,
    model: Denoiser,
    ema: Denoiser,
    adam: Adam,
    good: BurnSnapshot,
    /// Per-example errors of the steps not yet read, [B] each, on the device.
    errors: Vec<Tensor<1>>,
}

impl BurnStep {
    /// A freshly initialised network on `device` (an autodiff device is made from it); its EMA
    /// starts equal to it.
    pub fn new(model: Denoiser, device: &Device) -> Self {
        let ema = model.valid();
        let adam = Adam::default();
        let good = BurnSnapshot {
            model: model.clone(),
            ema: ema.clone(),
            adam: adam.clone(),
        };
        Self {
            device: device.clone(),
            model,
            ema,
            adam,
            good,
            errors: Vec::new(),
        }
    }
}

impl StepEngine for BurnStep {
    fn push(&mut self, batch: &PreparedBatch, scalars: &StepScalars) -> Result<(), EngineError> {
        let examples = batch.lambda.len();
        let dim = batch.z.len() / examples.max(1);
        let device = &self.device;
        let upload = |values: &[f32], cols: usize| {
            Tensor::<2>::from_data(TensorData::new(values.to_vec(), [examples, cols]), device)
        };
        let z = upload(&batch.z, dim);
        let lambda = upload(&batch.lambda, 1);
        let target = upload(&batch.target, dim);
        let coef = upload(&batch.coef, 1);
        let prediction = self.model.forward(z, lambda);
        let err = (prediction - target).square().sum_dim(1);
        // Eq. 7: the batch mean of ½ w/p · factor · ‖y − ŷ‖².
        let loss = (err.clone() * coef).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = self.model.clone();
        self.model = self.adam.step(model, grads, scalars);
        self.ema = ema_update(self.ema.clone(), &self.model, scalars.ema_decay);
        self.errors.push(err.inner().reshape([examples]));
        Ok(())
    }

    fn read_errors(&mut self) -> EngineFuture<'_, Vec<f32>> {
        let errors = std::mem::take(&mut self.errors);
        Box::pin(async move {
            if errors.is_empty() {
                return Ok(Vec::new());
            }
            super::read_f32(Tensor::cat(errors, 0)).await
        })
    }

    fn read_values(&mut self) -> EngineFuture<'_, Vec<f32>> {
        let slab = burn_slab(&self.model, &self.ema, &self.adam);
        Box::pin(super::read_f32(slab))
    }

    fn load_state(&mut self, state: &TrainState) -> Result<(), EngineError> {
        let plain = self.device.clone().without_autodiff();
        load_burn(
            state,
            &mut self.model,
            &mut self.ema,
            &mut self.adam,
            &plain,
        )?;
        self.errors.clear();
        self.snapshot();
        Ok(())
    }

    fn snapshot(&mut self) {
        self.good = BurnSnapshot {
            model: self.model.clone(),
            ema: self.ema.clone(),
            adam: self.adam.clone(),
        };
    }

    fn restore(&mut self) {
        let good = self.good.clone();
        self.model = good.model;
        self.ema = good.ema;
        self.adam = good.adam;
        self.errors.clear();
    }

    fn ema_module(&self) -> Option<Denoiser> {
        Some(self.ema.clone())
    }

    fn adapter_name(&self) -> Option<&str> {
        None
    }
}
