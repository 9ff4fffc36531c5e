//! The fused WGSL training step (gpu/mlp_train) as a step engine: the MLP's weights, Adam's
//! moments and EMA live in the kernel's arena in the training state's own layout, so loading and
//! reading a state is one copy each way.

use super::config::MlpConfig;
use super::model::Denoiser;
use super::objective::PreparedBatch;
use super::optim::StepScalars;
use super::state::TrainState;
use super::step::{EngineFuture, StepEngine};
use super::EngineError;
use crate::gpu::mlp_train::layout::MlpShape;
use crate::gpu::mlp_train::{FusedMlp, StepBatch};
use crate::gpu::GpuContext;

/// The fused step's view of the MLP `model` describes, on `dim`-dimensional data.
pub fn shape(model: &MlpConfig, dim: usize, batch: usize) -> MlpShape {
    MlpShape {
        dim,
        width: model.width,
        depth: model.depth,
        fourier_octaves: model.fourier_octaves,
        lambda_frequencies: model.lambda_frequencies,
        batch,
    }
}

pub struct FusedStep {
    mlp: FusedMlp,
}

impl FusedStep {
    /// Compiles the kernels for `shape` on `ctx` and loads `state` into them. Fails when the
    /// network's parameters are not laid out as the kernel assumes, or the device cannot hold it.
    pub async fn new(
        ctx: &GpuContext,
        shape: MlpShape,
        state: &TrainState,
    ) -> Result<Self, EngineError> {
        state.check(&shape.parameter_shapes())?;
        let mlp = FusedMlp::new(ctx, shape).await?;
        let mut step = Self { mlp };
        step.load_state(state)?;
        Ok(step)
    }
}

impl StepEngine for FusedStep {
    fn push(&mut self, batch: &PreparedBatch, scalars: &StepScalars) -> Result<(), EngineError> {
        let batch = StepBatch {
            z: &batch.z,
            lambda: &batch.lambda,
            target: &batch.target,
            coef: &batch.coef,
        };
        Ok(self.mlp.push_step(&batch, scalars.fused())?)
    }

    fn read_errors(&mut self) -> EngineFuture<'_, Vec<f32>> {
        Box::pin(async move { self.mlp.read_errors().await.map_err(EngineError::from) })
    }

    fn read_values(&mut self) -> EngineFuture<'_, Vec<f32>> {
        Box::pin(async move { self.mlp.read_state().await.map_err(EngineError::from) })
    }

    fn load_state(&mut self, state: &TrainState) -> Result<(), EngineError> {
        Ok(self.mlp.upload_state(&state.values)?)
    }

    fn snapshot(&mut self) {
        self.mlp.save_snapshot();
    }

    fn restore(&mut self) {
        self.mlp.restore_snapshot();
    }

    fn ema_module(&self) -> Option<Denoiser> {
        None
    }

    fn adapter_name(&self) -> Option<&str> {
        Some(self.mlp.adapter_name())
    }
}
