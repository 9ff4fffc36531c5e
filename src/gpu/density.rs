//! The forward-process view: log q(z_λ) of a 2D Gaussian mixture on a pixel grid, on the GPU.
//!
//! Kernel: `shaders/gmm_density.wgsl`. Its reference twin is the f64 theory
//! (`theory::gmm`), and `tests/gpu_density.rs` / `tests/web.rs` compare the two.

use wgpu::util::DeviceExt;

use super::{readback, GpuContext, GpuError};

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
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = ctx
            .device
            .create_shader_module(wgpu::include_wgsl!("../../shaders/gmm_density.wgsl"));
        let storage = |read_only| wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        };
        let layout = ctx
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("gmm_density"),
                entries: &[
                    entry(
                        0,
                        wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                    ),
                    entry(1, storage(true)),
                    entry(2, storage(false)),
                ],
            });
        let pipeline_layout = ctx
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("gmm_density"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("gmm_density"),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(error) = scope.pop().await {
            return Err(GpuError::Validation(error.to_string()));
        }
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
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
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
        let out_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gmm_density log_q"),
            size: out_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gmm_density readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gmm_density"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: components_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out_buffer.as_entire_binding(),
                },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gmm_density"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("gmm_density"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(
                grid.width.div_ceil(WORKGROUP),
                grid.height.div_ceil(WORKGROUP),
                1,
            );
        }
        encoder.copy_buffer_to_buffer(&out_buffer, 0, &read_buffer, 0, out_bytes);
        ctx.queue.submit([encoder.finish()]);
        if let Some(error) = scope.pop().await {
            return Err(GpuError::Validation(error.to_string()));
        }
        readback::read_f32(ctx, &read_buffer).await
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

/// The kernel's reference twin and the page's CPU path: the same picture from the f64 theory
/// (`theory::gmm`), rounded to f32 only at the end.
pub fn log_density_cpu(
    components: &[Component2d],
    lambda: f64,
    grid: &DensityGrid,
) -> Result<Vec<f32>, GpuError> {
    grid.validate()?;
    if !lambda.is_finite() {
        return Err(GpuError::InvalidInput("λ must be finite".into()));
    }
    let total = validated_total_weight(components)?;
    let gmm = crate::theory::Gmm::new(
        components.iter().map(|c| c.weight / total).collect(),
        components.iter().map(|c| c.mean.to_vec()).collect(),
        components.iter().map(|c| c.std).collect(),
    )
    .map_err(|e| GpuError::InvalidInput(e.to_string()))?;
    let noisy = gmm.noisy(lambda);
    let mut out = Vec::with_capacity(grid.width as usize * grid.height as usize);
    for j in 0..grid.height {
        for i in 0..grid.width {
            out.push(noisy.log_density(&grid.point(i, j)) as f32);
        }
    }
    Ok(out)
}
