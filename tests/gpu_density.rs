//! The heat-map kernel (`shaders/gmm_density.wgsl`) run natively on the machine's Vulkan device
//! (lavapipe in CI) against its f64 reference twin from the theory core.
#![cfg(not(target_arch = "wasm32"))]

use elbo_lab::gpu::density::{log_density_cpu, DensityGrid, DensityKernel};
use elbo_lab::gpu::{GpuContext, GpuError};
use elbo_lab::presets::{components_2d, mixture_presets};

fn context() -> GpuContext {
    pollster::block_on(GpuContext::new()).expect(
        "a Vulkan adapter (lavapipe: apt-get install mesa-vulkan-drivers) is needed for GPU tests",
    )
}

/// The kernel works in f32; 1e-4 relative (1e-4 absolute near zero) is what f32 allows after the
/// log-sum-exp, and far tighter than the colour map can show.
fn assert_close(gpu: &[f32], cpu: &[f32], what: &str) {
    assert_eq!(gpu.len(), cpu.len());
    let worst = gpu
        .iter()
        .zip(cpu)
        .map(|(&g, &c)| (f64::from(g) - f64::from(c)).abs() / f64::from(c).abs().max(1.0))
        .fold(0.0, f64::max);
    assert!(worst <= 1e-4, "{what}: worst relative error {worst:e}");
}

#[test]
fn density_kernel_matches_the_f64_theory_over_the_whole_lambda_range() {
    let ctx = context();
    let kernel = pollster::block_on(DensityKernel::new(&ctx)).unwrap();
    let grid = DensityGrid::square(3.5, 64);
    for preset in mixture_presets() {
        let components = components_2d(&preset.gmm).unwrap();
        for lambda in [-20.0, -8.0, -2.0, 0.0, 1.5, 4.0, 9.0, 20.0] {
            let gpu =
                pollster::block_on(kernel.log_density(&ctx, &components, lambda, &grid)).unwrap();
            let cpu = log_density_cpu(&components, lambda, &grid).unwrap();
            assert!(
                gpu.iter().all(|v| v.is_finite()),
                "{} λ={lambda}: non-finite",
                preset.name
            );
            assert_close(&gpu, &cpu, &format!("{} at λ={lambda}", preset.name));
        }
    }
}

#[test]
fn density_kernel_handles_non_square_grids_and_point_masses() {
    let ctx = context();
    let kernel = pollster::block_on(DensityKernel::new(&ctx)).unwrap();
    // 13×7 is not a multiple of the 8×8 workgroup: edge pixels must still be written.
    let grid = DensityGrid {
        origin: [-2.0, 1.5],
        step: [0.3, -0.4],
        width: 13,
        height: 7,
    };
    let components =
        components_2d(r#"{"weights":[0.7,0.3],"means":[[0.5,0.0],[-1.0,1.0]],"stds":[0.0,0.4]}"#)
            .unwrap();
    for lambda in [-3.0, 6.0] {
        let gpu = pollster::block_on(kernel.log_density(&ctx, &components, lambda, &grid)).unwrap();
        let cpu = log_density_cpu(&components, lambda, &grid).unwrap();
        assert_close(&gpu, &cpu, &format!("13x7 grid at λ={lambda}"));
    }
}

#[test]
fn density_kernel_rejects_bad_input_without_touching_the_device() {
    let ctx = context();
    let kernel = pollster::block_on(DensityKernel::new(&ctx)).unwrap();
    let components = components_2d(&mixture_presets()[0].gmm).unwrap();
    let empty = DensityGrid {
        width: 0,
        ..DensityGrid::square(1.0, 8)
    };
    let err = pollster::block_on(kernel.log_density(&ctx, &components, 0.0, &empty)).unwrap_err();
    assert!(matches!(err, GpuError::InvalidInput(_)), "{err}");
    let err = pollster::block_on(kernel.log_density(
        &ctx,
        &components,
        f64::NAN,
        &DensityGrid::square(1.0, 8),
    ))
    .unwrap_err();
    assert!(matches!(err, GpuError::InvalidInput(_)), "{err}");
    // The kernel still works afterwards.
    assert!(pollster::block_on(kernel.log_density(
        &ctx,
        &components,
        0.0,
        &DensityGrid::square(1.0, 8)
    ))
    .is_ok());
}

#[test]
fn a_lost_device_is_reported_not_panicked() {
    let ctx = context();
    let kernel = pollster::block_on(DensityKernel::new(&ctx)).unwrap();
    let components = components_2d(&mixture_presets()[0].gmm).unwrap();
    ctx.device.destroy();
    ctx.mark_lost("destroyed by the test");
    let err = pollster::block_on(kernel.log_density(
        &ctx,
        &components,
        0.0,
        &DensityGrid::square(1.0, 8),
    ))
    .unwrap_err();
    assert!(matches!(err, GpuError::DeviceLost(_)), "{err}");
}
