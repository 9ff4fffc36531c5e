//! The wgpu plumbing every kernel family shares: pipelines, bind groups, error scopes, readback.
//!
//! Each family folder (`density/`, `mlp_train/`) keeps only what is its own (its buffers, its
//! dispatches, its CPU twin); how a kernel is compiled, bound and read back is written once here.

use super::{GpuContext, GpuError};

/// What a shader binding holds; bindings are numbered in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    Uniform,
    /// A uniform window moved per dispatch by a dynamic offset (see [`uniform_window`]).
    UniformDynamic,
    StorageReadOnly,
    StorageReadWrite,
}

impl Binding {
    fn layout_entry(self, binding: u32) -> wgpu::BindGroupLayoutEntry {
        let (ty, has_dynamic_offset) = match self {
            Binding::Uniform => (wgpu::BufferBindingType::Uniform, false),
            Binding::UniformDynamic => (wgpu::BufferBindingType::Uniform, true),
            Binding::StorageReadOnly => {
                (wgpu::BufferBindingType::Storage { read_only: true }, false)
            }
            Binding::StorageReadWrite => {
                (wgpu::BufferBindingType::Storage { read_only: false }, false)
            }
        };
        wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset,
                min_binding_size: None,
            },
            count: None,
        }
    }
}

/// A validation error scope whose pop reports a typed error, so the call that caused an error
/// returns it (outside a scope it would only surface at the next `check_alive`).
pub(crate) struct ValidationScope(wgpu::ErrorScopeGuard);

impl ValidationScope {
    pub(crate) fn push(ctx: &GpuContext) -> Self {
        Self(ctx.device.push_error_scope(wgpu::ErrorFilter::Validation))
    }

    /// Async because the browser reports the scope's errors only through a promise.
    pub(crate) async fn pop(self) -> Result<(), GpuError> {
        match self.0.pop().await {
            Some(error) => Err(GpuError::Validation(error.to_string())),
            None => Ok(()),
        }
    }
}

/// A compiled shader: its one bind-group layout and a pipeline per requested entry point.
pub(crate) struct Compiled<const N: usize> {
    pub layout: wgpu::BindGroupLayout,
    /// In the order of the entry points asked for.
    pub pipelines: [wgpu::ComputePipeline; N],
}

/// Compiles `shader` and one compute pipeline per entry point, all sharing one bind group (group
/// 0) laid out as `bindings`. Shader and layout errors come back as `GpuError::Validation`.
pub(crate) async fn compile<const N: usize>(
    ctx: &GpuContext,
    label: &str,
    shader: wgpu::ShaderModuleDescriptor<'_>,
    bindings: &[Binding],
    entry_points: [&str; N],
) -> Result<Compiled<N>, GpuError> {
    let device = &ctx.device;
    let scope = ValidationScope::push(ctx);
    let module = device.create_shader_module(shader);
    let entries: Vec<_> = (0u32..)
        .zip(bindings)
        .map(|(binding, kind)| kind.layout_entry(binding))
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipelines = entry_points.map(|entry_point| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&format!("{label}.{entry_point}")),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            cache: None,
        })
    });
    scope.pop().await?;
    Ok(Compiled { layout, pipelines })
}

/// A bind group for `layout` whose binding `i` is `resources[i]`.
pub(crate) fn bind_group(
    ctx: &GpuContext,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    resources: &[wgpu::BindingResource<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<_> = (0u32..)
        .zip(resources)
        .map(|(binding, resource)| wgpu::BindGroupEntry {
            binding,
            resource: resource.clone(),
        })
        .collect();
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// The first `bytes` of `buffer`, for a [`Binding::UniformDynamic`]: the dynamic offset slides
/// this window along the buffer, so it must not cover the whole of it.
pub(crate) fn uniform_window(buffer: &wgpu::Buffer, bytes: usize) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: 0,
        size: wgpu::BufferSize::new(bytes as u64),
    })
}

/// An unmapped buffer of `bytes`, at least 4: WebGPU refuses to bind an empty buffer.
pub(crate) fn buffer(
    ctx: &GpuContext,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4),
        usage,
        mapped_at_creation: false,
    })
}

/// A staging buffer a result is copied into so the CPU can map it ([`read_f32`]).
pub(crate) fn readback_buffer(ctx: &GpuContext, label: &str, bytes: u64) -> wgpu::Buffer {
    buffer(
        ctx,
        label,
        bytes,
        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
    )
}

pub(crate) fn encoder(ctx: &GpuContext, label: &str) -> wgpu::CommandEncoder {
    ctx.device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
}

pub(crate) fn compute_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    label: &str,
) -> wgpu::ComputePass<'e> {
    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(label),
        timestamp_writes: None,
    })
}

/// Copies `bytes` of `from` at byte `offset` into a fresh staging buffer and reads them back.
pub(crate) async fn read_region(
    ctx: &GpuContext,
    label: &str,
    from: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
) -> Result<Vec<f32>, GpuError> {
    let staging = readback_buffer(ctx, &format!("{label} readback"), bytes);
    let mut encoder = encoder(ctx, &format!("{label} copy"));
    encoder.copy_buffer_to_buffer(from, offset, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    read_f32(ctx, &staging).await
}

/// Maps `buffer` (MAP_READ) and returns its contents as f32, awaiting the map without blocking:
/// the only kind of GPU → CPU copy the browser allows.
///
/// Natively the device is polled until the map completes; in the browser the event loop drives
/// the callback, so this must be awaited from async code that yields.
pub(crate) async fn read_f32(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
) -> Result<Vec<f32>, GpuError> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only disappears if the caller gave up; nothing to report then.
            let _ = sender.send(result);
        });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let mapped = receiver
        .await
        .map_err(|_| GpuError::Readback("the map request was dropped".into()))?;
    mapped.map_err(|e| GpuError::Readback(e.to_string()))?;
    ctx.check_alive()?;
    let values = {
        let view = buffer
            .get_mapped_range(..)
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        bytemuck::pod_collect_to_vec::<u8, f32>(&view)
    };
    buffer.unmap();
    Ok(values)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn context() -> GpuContext {
        pollster::block_on(GpuContext::new()).expect(
            "a Vulkan adapter (lavapipe: apt-get install mesa-vulkan-drivers) is needed for GPU tests",
        )
    }

    #[test]
    fn a_shader_that_does_not_compile_is_a_typed_error_not_a_panic() {
        let ctx = context();
        let shader = wgpu::ShaderModuleDescriptor {
            label: Some("broken"),
            source: wgpu::ShaderSource::Wgsl(
                "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }".into(),
            ),
        };
        let compiled = pollster::block_on(compile(&ctx, "broken", shader, &[], ["main"]));
        assert!(matches!(compiled, Err(GpuError::Validation(_))));
        // The scope caught it: nothing is left for the next call to trip over.
        assert_eq!(ctx.check_alive(), Ok(()));
    }

    #[test]
    fn a_region_reads_back_exactly_the_bytes_asked_for() {
        let ctx = context();
        let values: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let source = buffer(
            &ctx,
            "source",
            32,
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        );
        ctx.queue
            .write_buffer(&source, 0, bytemuck::cast_slice(&values));
        let region = pollster::block_on(read_region(&ctx, "source", &source, 8, 12));
        assert_eq!(region, Ok(vec![2.0, 3.0, 4.0]));
    }
}
