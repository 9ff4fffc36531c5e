//! Acquiring the GPU: adapter, device and queue, with typed errors a page can show.

use std::sync::{Arc, Mutex};

use thiserror::Error;

/// Everything that can go wrong between "is there a GPU?" and "the result is back".
#[derive(Debug, Clone, Error, PartialEq)]
pub enum GpuError {
    #[error("no GPU adapter is available ({0})")]
    NoAdapter(String),
    #[error("the GPU refused to create a device: {0}")]
    RequestDevice(String),
    #[error("the GPU rejected a command: {0}")]
    Validation(String),
    #[error("reading the result back from the GPU failed: {0}")]
    Readback(String),
    #[error("the GPU device was lost ({0})")]
    DeviceLost(String),
    #[error("invalid input for a GPU kernel: {0}")]
    InvalidInput(String),
    /// The work needs more memory in one buffer than the device allows (a smaller network or
    /// batch fits; another engine may not have the limit).
    #[error("the network needs {needed_mib} MiB of GPU storage in one buffer; this device allows {allowed_mib} MiB")]
    TooLarge { needed_mib: u64, allowed_mib: u64 },
}

/// A device and queue shared by every kernel of the page (and, later, by the training engine).
#[derive(Clone, Debug)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Human-readable adapter description, e.g. "llvmpipe (Vulkan, Cpu)".
    pub adapter_name: String,
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Requests the best available adapter and a device with WebGPU's default limits.
    ///
    /// Async because the browser only offers an async path (a blocking request hangs in wasm).
    pub async fn new() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let adapter_name = describe_adapter(&adapter.get_info());
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("elbo-lab"),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::RequestDevice(e.to_string()))?;
        // Errors outside an error scope would otherwise panic (natively) or only reach the
        // console (browser); record them so the next call reports a typed error instead.
        let uncaptured = Arc::new(Mutex::new(None));
        let uncaptured_slot = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut slot) = uncaptured_slot.lock() {
                slot.get_or_insert_with(|| error.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_flag = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost_flag.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(Self {
            device,
            queue,
            adapter_name,
            lost,
            uncaptured,
        })
    }

    /// `Err(DeviceLost)` once the device is gone, so callers stop submitting and fall back;
    /// `Err(Validation)` (once) for an error that escaped every error scope.
    pub fn check_alive(&self) -> Result<(), GpuError> {
        if let Some(reason) = self.lost.lock().ok().and_then(|slot| slot.clone()) {
            return Err(GpuError::DeviceLost(reason));
        }
        match self.uncaptured.lock().ok().and_then(|mut slot| slot.take()) {
            Some(message) => Err(GpuError::Validation(message)),
            None => Ok(()),
        }
    }

    /// Lets a caller (or a test) mark the device as lost, e.g. after `GPUDevice.destroy()`.
    pub fn mark_lost(&self, reason: &str) {
        if let Ok(mut slot) = self.lost.lock() {
            *slot = Some(reason.to_string());
        }
    }
}

/// "llvmpipe (Vulkan, software)", or "browser WebGPU (software)" where the browser hides the
/// adapter's name for privacy.
pub(crate) fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let name = if info.name.is_empty() {
        "browser WebGPU".to_string()
    } else {
        format!("{} ({:?})", info.name, info.backend)
    };
    match info.device_type {
        wgpu::DeviceType::Cpu => format!("{name}, software"),
        wgpu::DeviceType::DiscreteGpu => format!("{name}, discrete GPU"),
        wgpu::DeviceType::IntegratedGpu => format!("{name}, integrated GPU"),
        _ => name,
    }
}
