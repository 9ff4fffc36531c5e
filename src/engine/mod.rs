//! The diffusion engine: model, loss, training, sampling, ELBO and metrics.
//!
//! One code path on burn: the device decides where it runs (NdArray in native tests, wgpu on
//! Vulkan natively, WebGPU in the page). Every formula comes from `crate::theory`, evaluated in
//! f64 on the host per example; the device only runs the network, its gradient and Adam.

pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod data;
pub mod device;
pub mod elbo;
pub mod fused;
pub mod likelihood;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod optim;
pub mod sample;
pub mod state;
pub mod step;
pub mod tensor_sampler;
pub mod train;

pub use config::TrainConfig;
pub use train::Trainer;

use burn::prelude::Tensor;
use thiserror::Error;

use self::checkpoint::CheckpointError;
use self::metrics::MetricError;
use self::sample::SampleError;
use crate::data::DataError;
use crate::gpu::GpuError;

/// Hands the thread back to the host between pieces of a long computation: in the page a
/// macrotask boundary (a zero-delay timer), so input and painting run; natively nothing.
pub async fn yield_to_host() {
    #[cfg(target_arch = "wasm32")]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let scheduled = web_sys::window()
                .and_then(|w| w.set_timeout_with_callback(&resolve).ok())
                .is_some();
            if !scheduled {
                // No window (a worker): resolve at once rather than never.
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// Reads a tensor back as f32, asynchronously: the only kind of readback the browser allows,
/// and the one every engine path uses (natively it is simply awaited with a blocking executor).
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, EngineError> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| EngineError::Backend(format!("{e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| EngineError::Backend(format!("{e:?}")))
}

/// What can stop the engine; each message says what to change, and each variant keeps its
/// cause's type, so a front end can tell a lost device from a network too large for it, or a
/// corrupted checkpoint from one of a newer format.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum EngineError {
    #[error("invalid training setting `{field}`: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Theory(#[from] crate::theory::TheoryError),
    #[error("data: {0}")]
    Data(#[from] DataError),
    #[error("training diverged at step {step} (loss is {loss}); the last good weights (step {restored}) were restored")]
    Diverged { step: u64, loss: f64, restored: u64 },
    /// The project's own WGSL kernels and their device: lost, too small, or a rejected command.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// burn's device failed (burn reports these as messages).
    #[error("the GPU failed: {0}")]
    Backend(String),
    #[error("checkpoint rejected: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the training state does not fit this network: {0}")]
    StateMismatch(#[from] state::StateMismatch),
    #[error("sampling: {0}")]
    Sample(#[from] SampleError),
    #[error("metric: {0}")]
    Metric(#[from] MetricError),
}
