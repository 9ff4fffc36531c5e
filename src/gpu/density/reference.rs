//! The density kernel's CPU twin: the same picture from the f64 theory, for tests and for pages
//! without WebGPU.

use super::{validated_total_weight, Component2d, DensityGrid};
use crate::gpu::GpuError;

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
