//! Raw wgpu compute for what the page draws: one shared device, kernels built from `shaders/`.
//!
//! Code here takes a [`GpuContext`] as an argument, so one test body runs natively (lavapipe in
//! `cargo test`) and in the browser (Chromium's WebGPU under `wasm-pack test`).

pub mod density;
pub mod device;
mod kernel;
pub mod mlp_train;

pub use density::{DensityGrid, DensityKernel};
pub use device::{GpuContext, GpuError};
