//! The one place that picks where the engine runs (burn `Device`), per front end.

use burn::prelude::Device;

use super::EngineError;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::device::describe_adapter;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::GpuContext;

/// Where to train natively: NdArray (CPU, the test default), burn's wgpu (Vulkan/Metal/DX12, or
/// lavapipe on a machine without a GPU), or the fused WGSL step on wgpu (gpu/mlp_train) with
/// sampling and evaluation on NdArray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeBackend {
    Cpu,
    Wgpu,
    Fused,
}

impl NativeBackend {
    pub fn from_name(name: &str) -> Result<Self, EngineError> {
        match name {
            "cpu" | "ndarray" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "fused" => Ok(Self::Fused),
            _ => Err(EngineError::InvalidConfig {
                field: "backend",
                message: format!("unknown backend `{name}`; accepted: cpu, wgpu, fused"),
            }),
        }
    }
}

/// Creates the device once per process (burn refuses a second initialisation of the same wgpu
/// runtime, and tests run on several threads).
#[cfg(not(target_arch = "wasm32"))]
pub fn native_device(backend: NativeBackend) -> Result<Device, EngineError> {
    match backend {
        #[allow(deprecated)]
        NativeBackend::Cpu | NativeBackend::Fused => Ok(Device::ndarray()),
        NativeBackend::Wgpu => native_wgpu().map(|(device, _)| device),
    }
}

/// The process's one raw wgpu context for the fused training step.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_gpu_context() -> Result<GpuContext, EngineError> {
    use std::sync::OnceLock;
    static CONTEXT: OnceLock<Result<GpuContext, crate::gpu::GpuError>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| pollster::block_on(GpuContext::new()))
        .clone()
        .map_err(EngineError::Gpu)
}

/// What a report should say the engine ran on (`summary.json`'s and the benchmark's `backend`):
/// for wgpu, the adapter burn chose, so a benchmark names the GPU (or lavapipe) it measured.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_description(backend: NativeBackend) -> Result<String, EngineError> {
    match backend {
        NativeBackend::Cpu => Ok("burn NdArray (CPU)".into()),
        NativeBackend::Wgpu => native_wgpu().map(|(_, adapter)| format!("burn wgpu on {adapter}")),
        NativeBackend::Fused => native_gpu_context().map(|ctx| {
            format!(
                "fused WGSL on {} (sampling: burn NdArray)",
                ctx.adapter_name
            )
        }),
    }
}

/// The process's one wgpu device, with a description of its adapter.
#[cfg(not(target_arch = "wasm32"))]
fn native_wgpu() -> Result<(Device, String), EngineError> {
    use std::sync::OnceLock;
    static WGPU: OnceLock<Result<(Device, String), String>> = OnceLock::new();
    WGPU.get_or_init(|| {
        let (device, setup) = Device::wgpu_options()
            .init_with_setup()
            .map_err(|e| e.to_string())?;
        Ok((device, describe_adapter(&setup.adapter.get_info())))
    })
    .clone()
    .map_err(EngineError::Backend)
}

/// The page's device: WebGPU through the only initialisation the browser allows (async).
#[cfg(target_arch = "wasm32")]
pub async fn browser_device() -> Result<Device, EngineError> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| EngineError::Backend(e.to_string()))
}
