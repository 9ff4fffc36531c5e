//! The one place that picks where the engine runs (burn `Device`), per front end.

use burn::prelude::Device;

use super::EngineError;

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
    use std::sync::OnceLock;
    static WGPU: OnceLock<Result<Device, String>> = OnceLock::new();
    match backend {
        #[allow(deprecated)]
        NativeBackend::Cpu => Ok(Device::ndarray()),
        NativeBackend::Wgpu => WGPU
            .get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()))
            .clone()
            .map_err(EngineError::Device),
    }
}

/// The page's device: WebGPU through the only initialisation the browser allows (async).
#[cfg(target_arch = "wasm32")]
pub async fn browser_device() -> Result<Device, EngineError> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| EngineError::Device(e.to_string()))
}

/// A human-readable name for reports (`summary.json`'s `backend`).
pub fn describe(device: &Device) -> String {
    format!("{device:?}")
}
