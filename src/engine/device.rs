//! The one place that picks where the engine runs (burn `Device`), per front end.

use burn::prelude::Device;

use super::EngineError;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::device::describe_adapter;

/// Where to train natively: NdArray (CPU, the test default) or wgpu (Vulkan/Metal/DX12, or
/// lavapipe on a machine without a GPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeBackend {
    Cpu,
    Wgpu,
}

impl NativeBackend {
    pub fn from_name(name: &str) -> Result<Self, EngineError> {
        match name {
            "cpu" | "ndarray" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            _ => Err(EngineError::InvalidConfig {
                field: "backend",
                message: format!("unknown backend `{name}`; accepted: cpu, wgpu"),
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
        NativeBackend::Cpu => Ok(Device::ndarray()),
        NativeBackend::Wgpu => native_wgpu().map(|(device, _)| device),
    }
}

/// What a report should say the engine ran on (`summary.json`'s and the benchmark's `backend`):
/// for wgpu, the adapter burn chose, so a benchmark names the GPU (or lavapipe) it measured.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_description(backend: NativeBackend) -> Result<String, EngineError> {
    match backend {
        NativeBackend::Cpu => Ok("burn NdArray (CPU)".into()),
        NativeBackend::Wgpu => native_wgpu().map(|(_, adapter)| format!("burn wgpu on {adapter}")),
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
    .map_err(EngineError::Device)
}

/// The page's device: WebGPU through the only initialisation the browser allows (async).
#[cfg(target_arch = "wasm32")]
pub async fn browser_device() -> Result<Device, EngineError> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| EngineError::Device(e.to_string()))
}
