//! The forward-process view: log q(z_λ) of a 2D Gaussian mixture on a pixel grid, on the GPU.
//!
//! Kernel: `shaders/gmm_density.wgsl`. Its CPU twin (`reference.rs`) evaluates the f64 theory
//! (`theory::gmm`), and `tests/gpu_density.rs` / `tests/web.rs` compare the two.

mod reference;

pub use reference::log_density_cpu;

use wgpu::util::DeviceExt;

use super::kernel::{self, Binding, Compiled, ValidationScope};
use super::{GpuContext, GpuError};

/// One isotropic component of a 2D mixture, in data space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component2d {
    pub weight: f64,
    pub mean: [f64; 2],
    pub std: f64,
}

/// A pixel grid over data space: pixel (i, j) has centre `origin + (i, j) * step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DensityGrid {
    pub origin: [f64; 2],
    pub step: [f64; 2],
    pub width: u32,
    pub height: u32,
}

impl DensityGrid {
    /// A square view of half-width `extent` centred at 0, y pointing up in the picture.
    pub fn square(extent: f64, size: u32) -> Self {
        let step = 2.0 * extent / f64::from(size);
        Self {
            origin: [-extent + 0.5 * step, extent - 0.5 * step],
            step: [step, -step],
            width: size,
            height: size,
        }
    }

    /// Data-space coordinates of pixel (i, j).
    pub fn point(&self, i: u32, j: u32) -> [f64; 2] {
        [
            self.origin[0] + f64::from(i) * self.step[0],
            self.origin[1] + f64::from(j) * self.step[1],
        ]
    }

    fn validate(&self) -> Result<(), GpuError> {
        const MAX_SIDE: u32 = 2048;
        if self.width == 0 || self.height == 0 || self.width > MAX_SIDE || self.height > MAX_SIDE {
            return Err(GpuError::InvalidInput(format!(
                "grid {}x{} is outside 1..={MAX_SIDE} pixels per side",
                self.width, self.height
            )));
        }
        let finite = self.origin.iter().chain(&self.step).all(|v| v.is_finite());
        if !finite {
            return Err(GpuError::InvalidInput(
                "grid origin and step must be finite".into(),
            ));
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    origin: [f32; 2],
    step: [f32; 2],
    width: u32,
    height: u32,
    n_components: u32,
    lambda: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuComponent {
    mean: [f32; 2],
    spread: f32,
    log_weight: f32,
}

/// The compiled pipeline; build once per device and reuse for every frame.
#[derive(Clone)]
pub struct DensityKernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

const WORKGROUP: u32 = 8;

impl DensityKernel {
    /// Compiles the kernel. Async because shader errors surface through an error scope (which,
    /// unlike wgpu's default handler, reports instead of panicking).
    pub async fn new(ctx: &GpuContext) -> Result<Self, GpuError> {
        ctx.check_alive()?;
        let Compiled {
            layout,
            pipelines: [pipeline],
        } = kernel::compile(
            ctx,
            "gmm_density",
            wgpu::include_wgsl!("../../../shaders/gmm_density.wgsl"),
            &[
                Binding::Uniform,
                Binding::StorageReadOnly,
                Binding::StorageReadWrite,
            ],
            ["main"],
        )
        .await?;
        Ok(Self { pipeline, layout })
    }

    /// log q(z_λ) at every pixel of `grid` (row-major, `width * height` values).
    pub async fn log_density(
        &self,
        ctx: &GpuContext,
        components: &[Component2d],
        lambda: f64,
        grid: &DensityGrid,
    ) -> Result<Vec<f32>, GpuError> {
        ctx.check_alive()?;
        grid.validate()?;
        let gpu_components = to_gpu_components(components)?;
        if !lambda.is_finite() {
            return Err(GpuError::InvalidInput("λ must be finite".into()));
        }
        let params = Params {
            origin: grid.origin.map(|v| v as f32),
            step: grid.step.map(|v| v as f32),
            width: grid.width,
            height: grid.height,
            n_components: gpu_components.len() as u32,
            lambda: lambda as f32,
        };
        let device = &ctx.device;
        let scope = ValidationScope::push(ctx);
        let params_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gmm_density params"),
            contents: bytemuck::bytes_of(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let components_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gmm_density components"),
            contents: bytemuck::cast_slice(&gpu_components),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let out_bytes = u64::from(grid.width) * u64::from(grid.height) * 4;
        let out_buffer = kernel::buffer(
            ctx,
            "gmm_density log_q",
            out_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let read_buffer = kernel::readback_buffer(ctx, "gmm_density readback", out_bytes);
        let bind_group = kernel::bind_group(
            ctx,
            "gmm_density",
            &self.layout,
            &[
                params_buffer.as_entire_binding(),
                components_buffer.as_entire_binding(),
                out_buffer.as_entire_binding(),
            ],
        );
        let mut encoder = kernel::encoder(ctx, "gmm_density");
        {
            let mut pass = kernel::compute_pass(&mut encoder, "gmm_density");
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(
                grid.width.div_ceil(WORKGROUP),
                grid.height.div_ceil(WORKGROUP),
                1,
            );
        }
        // The copy rides in the same submission (and error scope) as the dispatch.
        encoder.copy_buffer_to_buffer(&out_buffer, 0, &read_buffer, 0, out_bytes);
        ctx.queue.submit([encoder.finish()]);
        scope.pop().await?;
        kernel::read_f32(ctx, &read_buffer).await
    }
}

/// Checks what both paths need (finite means, std ≥ 0, weights ≥ 0 with a positive finite sum)
/// and returns the weight total used to normalise.
fn validated_total_weight(components: &[Component2d]) -> Result<f64, GpuError> {
    let valid = components.iter().all(|c| {
        c.weight.is_finite()
            && c.weight >= 0.0
            && c.std.is_finite()
            && c.std >= 0.0
            && c.mean.iter().all(|m| m.is_finite())
    });
    let total: f64 = components.iter().map(|c| c.weight).sum();
    if valid && total.is_finite() && total > 0.0 {
        Ok(total)
    } else {
        Err(GpuError::InvalidInput(
            "mixture components need finite means, std ≥ 0 and weights ≥ 0 with a positive sum"
                .into(),
        ))
    }
}

/// Converts the mixture to the kernel's f32 layout. Zero-weight components are dropped: their
/// log-weight would be -inf, which WGSL cannot represent portably.
fn to_gpu_components(components: &[Component2d]) -> Result<Vec<GpuComponent>, GpuError> {
    let total = validated_total_weight(components)?;
    Ok(components
        .iter()
        .filter(|c| c.weight > 0.0)
        .map(|c| GpuComponent {
            mean: c.mean.map(|m| m as f32),
            spread: c.std as f32,
            log_weight: (c.weight / total).ln() as f32,
        })
        .collect())
}
