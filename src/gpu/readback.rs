//! Asynchronous GPU → CPU copies: the only kind the browser allows.

use super::GpuError;

/// Maps `buffer` (MAP_READ) and returns its contents as f32, awaiting the map without blocking.
///
/// Natively the device is polled until the map completes; in the browser the event loop drives
/// the callback, so this must be awaited from async code that yields.
pub(crate) async fn read_f32(
    ctx: &super::GpuContext,
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
