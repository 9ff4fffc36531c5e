//! ELBO Lab: diffusion objectives as ELBOs, computed exactly (theory) and drawn on the GPU.
//!
//! Layers, top to bottom (data never flows back up):
//! - [`theory`]: the paper's formulas in pure f64 (schedules, weightings, mixtures, identities).
//! - [`data`]: 2D toy data, user points (CSV), MNIST IDX decoding; seeded, pure Rust.
//! - [`engine`]: the burn diffusion trainer, samplers, ELBO and metrics.
//! - [`api`]: front-end-neutral requests and responses shared by the CLI and the page.
//! - [`gpu`]: wgpu device and WGSL kernels from `shaders/`.
//! - [`viz`]: turning numbers into pixels (colour maps), independent of the GPU.
//! - `web` (wasm32 only): the `wasm-bindgen` API the page calls.

pub mod api;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod data;
pub mod engine;
pub mod gpu;
pub mod presets;
pub mod theory;
pub mod viz;
#[cfg(target_arch = "wasm32")]
pub mod web;
