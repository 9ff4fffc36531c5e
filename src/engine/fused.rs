//! The fused WGSL training step (gpu/mlp_train) as a step engine: the MLP's weights, Adam's
//! moments and EMA live in the kernel's arena in the training state's own layout, so loading and
//! reading a state is one copy each way.

use super::config::ModelConfig;
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
pub fn shape(model: &ModelConfig, dim: usize, batch: usize) -> MlpShape {
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
        let expected = shape.parameter_shapes();
        if state.shapes != expected {
            return Err(EngineError::Device(format!(
                "the fused step expects parameters {expected:?}, the model has {:?}",
                state.shapes
            )));
        }
        let mlp = FusedMlp::new(ctx, shape).await.map_err(device_error)?;
        let mut step = Self { mlp };
        step.load_state(state)?;
        Ok(step)
    }
}

fn device_error(e: crate::gpu::GpuError) -> EngineError {
    EngineError::Device(e.to_string())
}

impl StepEngine for FusedStep {
    fn push(&mut self, batch: &PreparedBatch, scalars: &StepScalars) -> Result<(), EngineError> {
        let batch = StepBatch {
            z: &batch.z,
            lambda: &batch.lambda,
            target: &batch.target,
            coef: &batch.coef,
        };
        self.mlp
            .push_step(&batch, scalars.fused())
            .map_err(device_error)
    }

    fn read_errors(&mut self) -> EngineFuture<'_, Vec<f32>> {
        Box::pin(async move { self.mlp.read_errors().await.map_err(device_error) })
    }

    fn read_values(&mut self) -> EngineFuture<'_, Vec<f32>> {
        Box::pin(async move { self.mlp.read_state().await.map_err(device_error) })
    }

    fn load_state(&mut self, state: &TrainState) -> Result<(), EngineError> {
        self.mlp.upload_state(&state.values).map_err(device_error)
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
